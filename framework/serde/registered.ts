/**
 * What avro(), protobuf() and jsonSchema() share: framing, the per-container cache of writer
 * schemas compiled into decoders, the write-side schema id, and the reasons a record becomes
 * a dead letter. A format plugs in as a SchemaCodec (the codec libraries do the encoding).
 *
 * Invariant: deserialize never waits. Every writer schema id a batch names is fetched by
 * prefetch before the operator chain runs; an id the registry does not know, or whose schema
 * this reader cannot read, is remembered as a reason and every record naming it is dead-lettered.
 */
import { ConfigError } from '../errors.js';
import { FramingError } from './registry/framing.js';
import type { RegisteredSchema, SchemaRegistry, SchemaUse, SubjectNaming, WriterSchema } from './registry/registry.js';
import { subjectOf } from './registry/registry.js';
import { SerdeError, tombstone } from './serde.js';
import type { SchemaHooks, SchemaInput, SchemaMetadata, Serde, SerdeContext } from './serde.js';

/** Error codes of records a schema serde cannot read (the dead-letter reason). */
export const SCHEMA_ERROR = {
  /** Not in the registry's wire format (wrong magic byte, too short). */
  framing: 'SLUICE_SCHEMA_FRAMING',
  /** The writer schema id is not in the registry. */
  unknownId: 'SLUICE_SCHEMA_UNKNOWN_ID',
  /** The writer schema cannot be read with the serde's reader schema (or is another format). */
  incompatible: 'SLUICE_SCHEMA_INCOMPATIBLE',
  /** The payload does not decode with the writer schema (truncated, trailing or invalid bytes). */
  decode: 'SLUICE_SCHEMA_DECODE',
  /** The value does not match the schema (JSON Schema validation; serialize of a wrong value). */
  invalid: 'SLUICE_SCHEMA_INVALID',
  /** deserialize met an id prefetch did not fetch: the runtime skipped the prefetch (a bug, not bad input). */
  notFetched: 'SLUICE_SCHEMA_NOT_FETCHED',
} as const;

/** Thrown by a codec when its reader cannot read a writer schema. */
export class IncompatibleSchema extends Error {}

/** One schema format, implemented with its codec library. */
export interface SchemaCodec<T> {
  /** Serde name in errors: `avro`, `protobuf`, `json-schema`. */
  readonly serde: string;
  /** The schema the serde writes with and reads into (registered by producers). */
  readonly schema: WriterSchema;
  /** A decoder of payloads written with `writer`; throws IncompatibleSchema when this reader cannot read them. */
  readerFor(writer: RegisteredSchema): (payload: Buffer) => T;
  /** Decodes a payload written with the serde's own schema. */
  readOwn(payload: Buffer): T;
  /** Checks and converts a value Lambda's trigger already decoded to JSON. */
  fromJson(value: unknown): T;
  /** Encodes a value (the payload, without framing); throws on a value the schema does not allow. */
  encode(value: T): Buffer;
  /** Bytes framed payloads carry between the registry header and the encoded value (protobuf: the message indexes). */
  readonly framedPrefix?: Buffer;
}

/** Options every schema serde takes. */
export interface SchemaSerdeOptions {
  /**
   * The registry records are framed for. Without one, payloads are bare (no framing, no schema
   * id) and read with the serde's own schema.
   */
  readonly registry?: SchemaRegistry;
  /** How the subject (Glue: schema name) is chosen when writing (default: the registry's, `topic`). */
  readonly subjectNaming?: SubjectNaming;
  /** Register the schema when writing if the subject does not have it (default true); false only looks it up. */
  readonly autoRegister?: boolean;
  /**
   * For sources whose Lambda trigger has its own schema registry configured (provisioned mode):
   * the trigger's `EventRecordFormat`. `JSON`: the trigger decoded the record to JSON, checked
   * here against the reader schema; `SOURCE`: the trigger stripped the framing, the writer id
   * comes from the record's schema metadata. Records with metadata and no setting fail the invocation.
   */
  readonly triggerFormat?: 'JSON' | 'SOURCE';
  /** Read tombstones as null instead of failing; serialize(null) then writes a tombstone. */
  readonly nullable?: boolean;
}

type Reader<T> = { readonly ok: true; readonly read: (payload: Buffer) => T } | { readonly ok: false; readonly code: string; readonly message: string };

/** A Serde over `codec`, framed for `options.registry`. */
export function schemaSerde<T>(codec: SchemaCodec<T>, options: SchemaSerdeOptions): Serde<T> {
  const { registry, autoRegister = true, triggerFormat, nullable = false } = options;
  const naming = options.subjectNaming ?? registry?.subjectNaming ?? 'topic';
  const name = codec.serde;
  const readers = new Map<string, Reader<T>>();
  let writeId: string | undefined;
  let header: Buffer | undefined;

  const fail = (code: string, message: string, ctx: SerdeContext | undefined, hint: string, cause?: unknown): never => {
    throw new SerdeError(name, message, { ctx }, hint, { code, ...(cause === undefined ? {} : { cause }) });
  };

  function decodeWith(id: string, payload: Buffer, ctx: SerdeContext | undefined): T {
    const reader = readers.get(id);
    if (!reader) {
      return fail(SCHEMA_ERROR.notFetched, `writer schema ${id} was not fetched before the batch`, ctx, 'the stage must run prefetchSchemas before decoding; report this as a Sluice bug');
    }
    if (!reader.ok) return fail(reader.code, reader.message, ctx, reader.code === SCHEMA_ERROR.unknownId ? 'the producer wrote with a schema this registry does not have: check which registry it uses' : 'evolve the schemas compatibly, or read this topic with a reader schema that can resolve the writer');
    try {
      return reader.read(payload);
    } catch (cause) {
      if (cause instanceof SerdeError) throw withContext(cause, ctx);
      if (cause instanceof IncompatibleSchema) {
        return fail(SCHEMA_ERROR.incompatible, `writer schema ${id} cannot be read with the reader schema: ${cause.message}`, ctx, 'evolve the schemas compatibly', cause);
      }
      return fail(SCHEMA_ERROR.decode, `bytes do not decode with writer schema ${id}: ${messageOf(cause)}`, ctx, 'the payload is truncated or was not written with the schema its id names', cause);
    }
  }

  function readMetadata(bytes: Buffer, meta: SchemaMetadata, ctx: SerdeContext | undefined): T {
    if (triggerFormat === 'JSON') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(bytes.toString('utf8'));
      } catch (cause) {
        return fail(SCHEMA_ERROR.decode, `the trigger's JSON is not valid JSON: ${messageOf(cause)}`, ctx, 'check the trigger\'s EventRecordFormat', cause);
      }
      try {
        return codec.fromJson(parsed);
      } catch (cause) {
        if (cause instanceof SerdeError) throw withContext(cause, ctx);
        return fail(SCHEMA_ERROR.invalid, `the value the trigger decoded (schema ${meta.schemaId}) does not fit the reader schema: ${messageOf(cause)}`, ctx, 'read it with a reader schema matching the writer', cause);
      }
    }
    if (triggerFormat === 'SOURCE') return registry ? decodeWith(meta.schemaId, bytes, ctx) : codec.readOwn(bytes);
    return fail(SCHEMA_ERROR.framing, `record carries the trigger's schema metadata (${meta.dataFormat} schema ${meta.schemaId}) but the serde does not say how the trigger delivers it`, ctx, `set ${name}({ triggerFormat: 'JSON' | 'SOURCE' }) to the trigger's EventRecordFormat`);
  }

  async function load(id: string, reg: SchemaRegistry): Promise<void> {
    const schema = await reg.schemaById(id);
    if (schema === undefined) {
      readers.set(id, { ok: false, code: SCHEMA_ERROR.unknownId, message: `schema id ${id} is not in the registry (${reg.name})` });
      return;
    }
    if (schema.format !== codec.schema.format) {
      readers.set(id, { ok: false, code: SCHEMA_ERROR.incompatible, message: `schema ${id} is ${schema.format}, but this ${name} serde reads ${codec.schema.format}` });
      return;
    }
    try {
      readers.set(id, { ok: true, read: codec.readerFor(schema) });
    } catch (cause) {
      readers.set(id, { ok: false, code: SCHEMA_ERROR.incompatible, message: `writer schema ${id} cannot be read with the reader schema: ${messageOf(cause)}` });
    }
  }

  const schemas: SchemaHooks = {
    registry,
    check(use, direction) {
      if (direction === 'write' && registry && naming !== 'topic' && codec.schema.recordName === undefined) {
        throw new ConfigError(
          `${name} serde on ${use.role} of "${use.topic}": subject naming "${naming}" needs a record name, and the schema has none`,
          { stage: use.stage, topic: use.topic, field: 'subjectNaming' },
          codec.serde === 'json-schema' ? 'give the JSON Schema a "title"' : "use subjectNaming: 'topic'",
        );
      }
    },
    async prefetch(records: readonly SchemaInput[], use: SchemaUse) {
      const wanted = new Set<string>();
      for (const r of records) {
        if (r.bytes === null) continue;
        if (r.metadata) {
          if (triggerFormat === undefined) {
            throw new ConfigError(
              `records of "${use.topic}" carry the trigger's schema metadata (${r.metadata.dataFormat}), but the ${name} serde of its ${use.role} has no triggerFormat`,
              { stage: use.stage, topic: use.topic, field: 'triggerFormat' },
              "set triggerFormat to the trigger's EventRecordFormat ('JSON' or 'SOURCE'), or remove the trigger's schema registry config",
            );
          }
          if (triggerFormat === 'SOURCE') wanted.add(r.metadata.schemaId);
          continue;
        }
        if (!registry) continue;
        try {
          wanted.add(registry.framing.unframe(r.bytes).id);
        } catch (e) {
          if (!(e instanceof FramingError)) throw e; // a bad frame is the record's problem: deserialize dead-letters it
        }
      }
      if (!registry) return;
      // Known ids stay cached; an id the registry did not know is asked again (it may have been registered since).
      const missing = [...wanted].filter((id) => readers.get(id)?.ok !== true && !isFinal(readers.get(id)));
      await Promise.all(missing.map((id) => load(id, registry)));
    },
    async prepareWrite(use: SchemaUse) {
      if (!registry) return;
      const subject = subjectOf(naming, use, codec.schema.recordName);
      const id = await registry.idForWriting(codec.schema, subject, autoRegister);
      if (writeId !== undefined && writeId !== id) {
        throw new ConfigError(
          `one ${name} serde writes to subjects with different schema ids (${writeId} and ${id}, subject "${subject}")`,
          { stage: use.stage, topic: use.topic, field: 'serde' },
          'give each sink its own serde instance',
        );
      }
      writeId = id;
      header = Buffer.concat([registry.framing.header(id), codec.framedPrefix ?? Buffer.alloc(0)]);
      // Records this container writes are readable without asking the registry again.
      if (!readers.has(id)) readers.set(id, { ok: true, read: codec.readerFor({ id, ...codec.schema }) });
    },
  };

  return {
    name,
    schemas,
    serialize(value: T): Buffer | null {
      if (value === null && nullable) return null;
      let payload: Buffer;
      try {
        payload = codec.encode(value);
      } catch (cause) {
        if (cause instanceof SerdeError) throw cause;
        return fail(SCHEMA_ERROR.invalid, `value does not match the schema: ${messageOf(cause)}`, undefined, 'the value must have the schema\'s fields and types', cause);
      }
      if (!registry) return payload;
      if (!header) {
        return fail(SCHEMA_ERROR.notFetched, 'the schema to write with was not looked up before the batch', undefined, 'the stage must run prefetchSchemas before writing; report this as a Sluice bug');
      }
      return Buffer.concat([header, payload]);
    },
    deserialize(bytes: Buffer | null, ctx?: SerdeContext): T {
      if (bytes === null) return tombstone<T>(name, nullable, ctx) as T;
      if (ctx?.schemaMetadata) return readMetadata(bytes, ctx.schemaMetadata, ctx);
      if (!registry) {
        try {
          return codec.readOwn(bytes);
        } catch (cause) {
          if (cause instanceof SerdeError) throw withContext(cause, ctx);
          return fail(SCHEMA_ERROR.decode, `bytes do not decode with the schema: ${messageOf(cause)}`, ctx, 'the payload is truncated or was written with another schema', cause);
        }
      }
      let framed;
      try {
        framed = registry.framing.unframe(bytes);
      } catch (cause) {
        return fail(SCHEMA_ERROR.framing, messageOf(cause), ctx, `the producer did not write this record through a ${registry.framing.name === 'glue' ? 'Glue' : 'Confluent'} schema-registry serializer`, cause);
      }
      return decodeWith(framed.id, framed.payload, ctx);
    },
  };
}

/** The same error, naming the record it was about (codecs do not know it). */
function withContext(error: SerdeError, ctx: SerdeContext | undefined): SerdeError {
  if (!ctx || error.place.topic !== undefined) return error;
  // Rebuild from the message without its serde prefix, place and hint (the constructor adds them again).
  const bare = /^[^:]*: (.*?)(?: \[[^\]]*\])?(?: — .*)?$/s.exec(error.message)?.[1] ?? error.message;
  return new SerdeError(error.serde, bare, { field: error.place.field, ctx }, error.hint, { issues: error.issues, code: error.code, cause: error.cause });
}

/** Failures that do not change on a second look: a schema id never changes meaning. */
function isFinal<T>(reader: Reader<T> | undefined): boolean {
  return reader !== undefined && !reader.ok && reader.code === SCHEMA_ERROR.incompatible;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
