/**
 * JSON values checked by a JSON Schema, through ajv (draft-07 by default; a schema whose
 * `$schema` names draft 2019-09 or 2020-12 gets ajv's matching dialect). On the wire the
 * payload is the UTF-8 JSON text behind the registry's framing. The reader schema validates
 * every value read, whichever writer schema id the record names; the id must exist and be
 * a JSON Schema. A value that fails validation is a dead letter naming the field.
 */
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ConfigError } from '../errors.js';
import type { SchemaCodec, SchemaSerdeOptions } from './registered.js';
import { SCHEMA_ERROR, schemaSerde } from './registered.js';
import { SerdeError, decodeUtf8 } from './serde.js';
import type { Serde, SerdeIssue } from './serde.js';

/** A JSON Schema document. */
export type JsonSchemaDocument = Readonly<Record<string, unknown>> | boolean;

/** Options of jsonSchema(). */
export interface JsonSchemaOptions extends SchemaSerdeOptions {
  /** The reader (and writer) schema. */
  readonly schema: JsonSchemaDocument;
}

/** JSON values of type T validated by a JSON Schema (T is trusted to match the schema). */
export function jsonSchema<T>(options: JsonSchemaOptions & { readonly nullable?: false }): Serde<T>;
/** JSON Schema values of type T, with tombstones read and written as null. */
export function jsonSchema<T>(options: JsonSchemaOptions & { readonly nullable: true }): Serde<T | null>;
export function jsonSchema<T>(options: JsonSchemaOptions): Serde<T | null> {
  return schemaSerde<T | null>(jsonSchemaCodec<T>(options.schema), options);
}

function compile(schema: JsonSchemaDocument): ValidateFunction {
  const dialect = typeof schema === 'object' && typeof schema.$schema === 'string' ? schema.$schema : '';
  const options = { allErrors: true, strict: false, validateFormats: false };
  const ajv = dialect.includes('2020-12') ? new Ajv2020(options) : dialect.includes('2019-09') ? new Ajv2019(options) : new Ajv(options);
  return ajv.compile(schema);
}

function jsonSchemaCodec<T>(schema: JsonSchemaDocument): SchemaCodec<T> {
  let validate: ValidateFunction;
  try {
    validate = compile(schema);
  } catch (cause) {
    throw new ConfigError(`JSON Schema is not valid: ${cause instanceof Error ? cause.message : String(cause)}`, { field: 'schema' }, 'pass a draft-07, 2019-09 or 2020-12 JSON Schema');
  }
  const title = typeof schema === 'object' && typeof schema.title === 'string' ? schema.title : undefined;
  const check = (value: unknown): T => {
    if (validate(value)) return value as T;
    const issues: SerdeIssue[] = (validate.errors ?? []).map((e) => ({ path: pathOf(e.instancePath), message: e.message ?? e.keyword }));
    const summary = issues
      .slice(0, 5)
      .map((i) => (i.path === undefined ? i.message : `${i.path}: ${i.message}`))
      .join('; ');
    throw new SerdeError('json-schema', `value does not match the schema: ${summary}`, { field: issues[0]?.path }, 'fix the producer, or widen the schema if the data is right', {
      issues,
      code: SCHEMA_ERROR.invalid,
    });
  };
  const read = (payload: Buffer): T => check(JSON.parse(decodeUtf8('json-schema', payload, undefined)) as unknown);
  return {
    serde: 'json-schema',
    schema: { format: 'JSON', text: JSON.stringify(schema), recordName: title },
    readerFor: () => read,
    readOwn: read,
    fromJson: check,
    encode(value) {
      check(value);
      return Buffer.from(JSON.stringify(value), 'utf8');
    },
  };
}

/** `/items/2/price` → `items[2].price`. */
function pathOf(pointer: string): string | undefined {
  if (pointer === '') return undefined;
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((seg, i) => (/^\d+$/.test(seg) ? `[${seg}]` : i === 0 ? seg : `.${seg}`))
    .join('');
}
