/**
 * How record bytes become typed values and back. A Serde is synchronous because it runs
 * inside the operator chain for every record; a failure is a SerdeError that names the
 * serde, the field and the record (topic, partition, offset) so a user can find the bad input.
 */
import { SluiceError } from '../errors.js';
import type { SchemaRegistry, SchemaUse } from './registry/registry.js';

/** Where the bytes being read came from; passed through to SerdeError. */
export interface SerdeContext {
  readonly topic: string;
  readonly partition?: number;
  readonly offset?: number;
  /** Schema metadata Lambda's trigger attached (its own schema-registry integration), when it did. */
  readonly schemaMetadata?: SchemaMetadata | undefined;
}

/** `keySchemaMetadata`/`valueSchemaMetadata` of a record decoded by a trigger with a schema registry. */
export interface SchemaMetadata {
  /** `AVRO`, `PROTOBUF` or `JSON`. */
  readonly dataFormat: string;
  /** The writer schema's id in the registry (Confluent: decimal id; Glue: version UUID). */
  readonly schemaId: string;
}

/** The bytes of one record a schema serde will read, and the trigger's metadata about them. */
export interface SchemaInput {
  readonly bytes: Buffer | null;
  readonly metadata?: SchemaMetadata | undefined;
}

/**
 * The asynchronous side of a schema-registry serde. serialize and deserialize stay synchronous
 * (they run in the operator chain); everything that needs the registry happens before the
 * chain runs: prefetch for the records of a batch, prepareWrite once per container.
 */
export interface SchemaHooks {
  /** The registry the serde uses, undefined when it reads and writes bare payloads. */
  readonly registry: SchemaRegistry | undefined;
  /** Checks the serde can serve `use` (called by compile); throws ConfigError naming the stage and field. */
  check(use: SchemaUse, direction: 'read' | 'write'): void;
  /** Fetches the writer schemas these records name that this container has not seen; throws RegistryUnavailableError. */
  prefetch(records: readonly SchemaInput[], use: SchemaUse): Promise<void>;
  /** Looks up (or registers) the schema serialize writes under `use`'s subject; once per container. */
  prepareWrite(use: SchemaUse): Promise<void>;
}

/** Turns a T into record bytes and back; null bytes are a Kafka tombstone. */
export interface Serde<T> {
  /** Short name shown in errors, e.g. `json`. */
  readonly name: string;
  /** Bytes to write; null writes a tombstone. */
  serialize(value: T): Buffer | null;
  /** Reads record bytes (null for a tombstone); throws SerdeError on bad input. */
  deserialize(bytes: Buffer | null, ctx?: SerdeContext): T;
  /** Present on serdes that use a schema registry (avro, protobuf, jsonSchema). */
  readonly schemas?: SchemaHooks;
}

/** One validation problem: the field path (`items[2].price`, undefined for the whole value) and what is wrong. */
export interface SerdeIssue {
  readonly path: string | undefined;
  readonly message: string;
}

/** Bytes that a serde could not read, or a value it could not write. */
export class SerdeError extends SluiceError {
  /** Name of the serde that failed. */
  readonly serde: string;
  /** Validation issues, when a schema rejected the value; empty otherwise. */
  readonly issues: readonly SerdeIssue[];

  constructor(
    serde: string,
    message: string,
    where: { readonly field?: string | undefined; readonly ctx?: SerdeContext | undefined } = {},
    hint?: string,
    options?: { cause?: unknown; issues?: readonly SerdeIssue[]; code?: string },
  ) {
    const { ctx } = where;
    super(
      options?.code ?? 'SLUICE_SERDE',
      `${serde}: ${message}`,
      { topic: ctx?.topic, partition: ctx?.partition, offset: ctx?.offset, field: where.field },
      hint,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.serde = serde;
    this.issues = options?.issues ?? [];
  }
}

/** Throws the tombstone SerdeError unless the serde was declared nullable. */
export function tombstone<T>(serde: string, nullable: boolean, ctx: SerdeContext | undefined): T | null {
  if (nullable) return null;
  throw new SerdeError(
    serde,
    'got a tombstone (null value) but the serde is not nullable',
    { ctx },
    `declare it with ${serde}({ nullable: true }) if the topic carries tombstones, or filter them out upstream`,
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8, rejecting invalid sequences instead of replacing them with U+FFFD. */
export function decodeUtf8(serde: string, bytes: Buffer, ctx: SerdeContext | undefined): string {
  try {
    return utf8.decode(bytes);
  } catch (cause) {
    throw new SerdeError(serde, 'bytes are not valid UTF-8', { ctx }, 'check what the producer writes to this topic', { cause });
  }
}
