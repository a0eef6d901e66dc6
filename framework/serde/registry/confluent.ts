/**
 * A Confluent-compatible schema registry over its REST API: Confluent Schema Registry,
 * Confluent Cloud, Apicurio (`/apis/ccompat/v7`), Karapace, Redpanda. Three calls are used:
 * `GET /schemas/ids/{id}` (read a writer schema), `POST /subjects/{subject}/versions`
 * (register) and `POST /subjects/{subject}` (look up without registering). Answers are
 * cached for the life of the container: a schema id never changes meaning.
 */
import { ConfigError } from '../../errors.js';
import { confluentFraming } from './framing.js';
import type { RegisteredSchema, SchemaFormat, SchemaRegistry, SubjectNaming, WriterSchema } from './registry.js';
import { RegistryUnavailableError } from './registry.js';

/** Credentials: HTTP basic (Confluent Cloud API key/secret) or a bearer token (OAuth), a function for tokens that rotate. */
export type ConfluentAuth =
  | { readonly username: string; readonly password: string }
  | { readonly token: string | (() => string | Promise<string>) };

/** Options of confluentRegistry(). */
export interface ConfluentRegistryOptions {
  /** Base URL, e.g. `https://psrc-xxxx.aws.confluent.cloud` or `http://localhost:8080/apis/ccompat/v7`. */
  readonly url: string;
  readonly auth?: ConfluentAuth;
  /** Default subject naming of serdes using this registry (default `topic`: `<topic>-value`, `<topic>-key`). */
  readonly subjectNaming?: SubjectNaming;
  /** Timeout of one request (default 5 s); a timeout fails the invocation, which Lambda retries. */
  readonly timeoutMs?: number;
  /** The fetch to use (default: the global one); tests may pass one. */
  readonly fetch?: typeof fetch;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
/** Confluent's error code for "schema not found" (also 40401 subject not found, 40403 schema id not found). */
const NOT_FOUND_CODES = new Set([40401, 40402, 40403]);

/** A Confluent-compatible registry at `url`. */
export function confluentRegistry(options: ConfluentRegistryOptions): SchemaRegistry {
  let base: URL;
  try {
    base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
  } catch {
    throw new ConfigError(`schema registry url ${JSON.stringify(options.url)} is not a URL`, { field: 'url' }, 'give the registry base URL, e.g. http://localhost:8081');
  }
  const name = `confluent ${base.origin}${base.pathname.replace(/\/$/, '')}`;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const doFetch = options.fetch ?? fetch;
  const byId = new Map<string, RegisteredSchema>();
  const writing = new Map<string, Promise<string>>();

  async function headers(): Promise<Record<string, string>> {
    const h: Record<string, string> = { Accept: CONTENT_TYPE, 'Content-Type': CONTENT_TYPE };
    const auth = options.auth;
    if (auth && 'username' in auth) h.Authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    else if (auth) h.Authorization = `Bearer ${typeof auth.token === 'function' ? await auth.token() : auth.token}`;
    return h;
  }

  /** One request: the parsed body, or undefined for a not-found answer; throws RegistryUnavailableError otherwise. */
  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Record<string, unknown> | undefined> {
    const url = new URL(path, base);
    let response: Response;
    try {
      response = await doFetch(url, {
        method,
        headers: await headers(),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw new RegistryUnavailableError(name, `${method} ${url.pathname} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    const text = await response.text().catch(() => '');
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      parsed = undefined;
    }
    if (response.ok && parsed) return parsed;
    const code = typeof parsed?.error_code === 'number' ? parsed.error_code : undefined;
    if (response.status === 404 && (code === undefined || NOT_FOUND_CODES.has(code))) return undefined;
    const detail = typeof parsed?.message === 'string' ? `: ${parsed.message}` : '';
    throw new RegistryUnavailableError(name, `${method} ${url.pathname} answered HTTP ${response.status}${code ? ` (error ${code})` : ''}${detail}`);
  }

  return {
    name,
    framing: confluentFraming,
    subjectNaming: options.subjectNaming ?? 'topic',
    iamActions: { read: [], write: [] },
    async schemaById(id) {
      const cached = byId.get(id);
      if (cached) return cached;
      const body = await call('GET', `schemas/ids/${encodeURIComponent(id)}`);
      if (body === undefined) return undefined;
      if (typeof body.schema !== 'string') throw new RegistryUnavailableError(name, `GET /schemas/ids/${id} returned no schema text`);
      const schema: RegisteredSchema = { id, format: formatOf(body.schemaType), text: body.schema };
      byId.set(id, schema);
      return schema;
    },
    idForWriting(schema, subject, register) {
      const key = `${register ? 'r' : 'l'}\u0000${subject}\u0000${schema.format}\u0000${schema.text}`;
      let pending = writing.get(key);
      if (!pending) {
        pending = resolveId(schema, subject, register);
        writing.set(key, pending);
        pending.catch(() => writing.delete(key)); // a failed attempt is retried by the next invocation
      }
      return pending;
    },
  };

  async function resolveId(schema: WriterSchema, subject: string, register: boolean): Promise<string> {
    const request = { schema: schema.text, ...(schema.format === 'AVRO' ? {} : { schemaType: schema.format }) };
    const path = register ? `subjects/${encodeURIComponent(subject)}/versions` : `subjects/${encodeURIComponent(subject)}`;
    const body = await call('POST', path, request);
    if (body === undefined) {
      throw new RegistryUnavailableError(
        name,
        `the schema is not registered under subject "${subject}" and the serde does not register schemas (autoRegister: false)`,
      );
    }
    if (typeof body.id !== 'number') throw new RegistryUnavailableError(name, `POST /${path} returned no schema id`);
    const id = String(body.id);
    byId.set(id, { id, format: schema.format, text: schema.text });
    return id;
  }
}

/** Confluent omits `schemaType` for Avro. */
function formatOf(raw: unknown): SchemaFormat {
  if (raw === 'PROTOBUF' || raw === 'JSON') return raw;
  return 'AVRO';
}
