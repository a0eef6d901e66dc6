/**
 * Avro values through avsc. The serde's schema is the reader schema: records written with an
 * older or newer writer schema are resolved into it by Avro's rules (fields matched by name,
 * defaults for fields the writer lacks, aliases, promotions), the resolver compiled once per
 * writer schema id. A writer the reader cannot resolve is an incompatible-schema dead letter.
 */
import avsc from 'avsc';
import { ConfigError } from '../errors.js';
import type { SchemaCodec, SchemaSerdeOptions } from './registered.js';
import { IncompatibleSchema, schemaSerde } from './registered.js';
import type { Serde } from './serde.js';

/** An Avro schema as JSON (object) or JSON text. */
export type AvroSchema = string | Readonly<Record<string, unknown>> | readonly unknown[];

/** Options of avro(). */
export interface AvroOptions extends SchemaSerdeOptions {
  /** The reader (and writer) schema. */
  readonly schema: AvroSchema;
}

/** Avro values of type T (T is trusted to match the schema, as with json<T>()). */
export function avro<T>(options: AvroOptions & { readonly nullable?: false }): Serde<T>;
/** Avro values of type T, with tombstones read and written as null. */
export function avro<T>(options: AvroOptions & { readonly nullable: true }): Serde<T | null>;
export function avro<T>(options: AvroOptions): Serde<T | null> {
  return schemaSerde<T | null>(avroCodec<T>(options.schema), options);
}

function avroCodec<T>(schema: AvroSchema): SchemaCodec<T> {
  let type: avsc.Type;
  try {
    type = avsc.Type.forSchema((typeof schema === 'string' ? parseText(schema) : schema) as avsc.Schema);
  } catch (cause) {
    throw new ConfigError(`avro schema is not valid: ${cause instanceof Error ? cause.message : String(cause)}`, { field: 'schema' }, 'pass an Avro schema (JSON object or text)');
  }
  const text = JSON.stringify(type.schema());
  const fullName = type.name;
  return {
    serde: 'avro',
    schema: { format: 'AVRO', text, recordName: fullName },
    readerFor(writer) {
      let writerType: avsc.Type;
      try {
        writerType = avsc.Type.forSchema(JSON.parse(writer.text) as avsc.Schema);
      } catch (cause) {
        throw new IncompatibleSchema(`writer schema ${writer.id} is not a valid Avro schema: ${cause instanceof Error ? cause.message : String(cause)}`);
      }
      if (JSON.stringify(writerType.schema()) === text) return (payload) => type.fromBuffer(payload) as T;
      let resolver: avsc.Resolver;
      try {
        resolver = type.createResolver(writerType);
      } catch (cause) {
        throw new IncompatibleSchema(cause instanceof Error ? cause.message : String(cause));
      }
      return (payload) => type.fromBuffer(payload, resolver) as T;
    },
    readOwn: (payload) => type.fromBuffer(payload) as T,
    fromJson(value) {
      const invalid = invalidPaths(type, value);
      if (invalid) throw new Error(invalid);
      return value as T;
    },
    encode(value) {
      try {
        return type.toBuffer(value);
      } catch (cause) {
        throw new Error(invalidPaths(type, value) ?? (cause instanceof Error ? cause.message : String(cause)));
      }
    },
  };
}

/** `invalid at a.b, c` naming the fields that do not fit, or undefined when the value is valid. */
function invalidPaths(type: avsc.Type, value: unknown): string | undefined {
  const paths: string[] = [];
  const valid = type.isValid(value, { errorHook: (path) => paths.push(path.join('.') || '(value)') });
  return valid ? undefined : `invalid at ${paths.slice(0, 5).join(', ')}`;
}

/** Schema text is JSON, or a bare primitive type name such as `string`. */
function parseText(text: string): unknown {
  return /^\s*[[{"]/.test(text) ? JSON.parse(text) : text.trim();
}
