/**
 * The JSON serde, optionally checked by any Standard Schema validator (zod 4, valibot,
 * arktype...). Reading validates; writing does not, since the pipeline's types already
 * constrain what it writes.
 */
import { SerdeError, decodeUtf8, tombstone } from './serde.js';
import type { Serde, SerdeContext, SerdeIssue } from './serde.js';
import type { StandardSchemaV1 } from './standard-schema.js';

/** Options of json(). */
export interface JsonOptions<T> {
  /**
   * Validates (and may transform) every value read. Must validate synchronously: a schema
   * with async refinements or transforms makes deserialize throw a SerdeError, because
   * deserialize runs in the synchronous operator chain.
   */
  readonly schema?: StandardSchemaV1<unknown, T>;
  /** Read tombstones as null instead of failing; serialize(null) then writes a tombstone. */
  readonly nullable?: boolean;
}

/** JSON values of type T; without a schema, T is trusted, not checked. */
export function json<T>(opts?: JsonOptions<T> & { readonly nullable?: false }): Serde<T>;
/** JSON values of type T, with tombstones read and written as null. */
export function json<T>(opts: JsonOptions<T> & { readonly nullable: true }): Serde<T | null>;
export function json<T>(opts: JsonOptions<T> = {}): Serde<T | null> {
  const { schema, nullable = false } = opts;
  return {
    name: 'json',
    serialize(value: T | null): Buffer | null {
      if (value === null && nullable) return null;
      let text: string | undefined;
      try {
        text = JSON.stringify(value);
      } catch (cause) {
        throw new SerdeError('json', `value cannot be written as JSON: ${errorMessage(cause)}`, {}, 'values must be plain data (no BigInt, no cycles)', { cause });
      }
      if (text === undefined) {
        throw new SerdeError('json', `value cannot be written as JSON: ${typeof value}`, {}, 'values must be plain data (objects, arrays, strings, numbers, booleans, null)');
      }
      return Buffer.from(text, 'utf8');
    },
    deserialize(bytes: Buffer | null, ctx?: SerdeContext): T | null {
      if (bytes === null) return tombstone<T>('json', nullable, ctx);
      const text = decodeUtf8('json', bytes, ctx);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (cause) {
        throw new SerdeError('json', `bytes are not valid JSON: ${errorMessage(cause)}`, { ctx }, 'check what the producer writes to this topic', { cause });
      }
      if (schema === undefined) return parsed as T;
      return validate(schema, parsed, ctx);
    },
  };
}

function validate<T>(schema: StandardSchemaV1<unknown, T>, value: unknown, ctx: SerdeContext | undefined): T {
  const result = schema['~standard'].validate(value);
  if (result instanceof Promise) {
    result.catch(() => undefined); // nobody awaits it; keep a rejection from becoming unhandled
    throw new SerdeError(
      'json',
      `the ${schema['~standard'].vendor} schema validates asynchronously`,
      { ctx },
      'deserialize is synchronous: use a schema without async refinements or transforms',
    );
  }
  if (result.issues === undefined) return result.value;
  const issues: SerdeIssue[] = result.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  const summary = issues
    .slice(0, 5)
    .map((i) => (i.path === undefined ? i.message : `${i.path}: ${i.message}`))
    .join('; ');
  const more = issues.length > 5 ? ` (and ${issues.length - 5} more)` : '';
  return fail(issues, `value does not match the schema: ${summary}${more}`, ctx);
}

function fail(issues: readonly SerdeIssue[], message: string, ctx: SerdeContext | undefined): never {
  throw new SerdeError('json', message, { field: issues[0]?.path, ctx }, 'fix the producer, or widen the schema if the data is right', { issues });
}

/** `a.b[2].c`; keys that are not identifiers are quoted: `headers["content-type"]`. */
function formatPath(path: StandardSchemaV1.Issue['path']): string | undefined {
  if (path === undefined || path.length === 0) return undefined;
  let out = '';
  for (const segment of path) {
    const key = typeof segment === 'object' ? segment.key : segment;
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'symbol') out += `[${String(key)}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
