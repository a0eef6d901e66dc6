/**
 * The schema-registry port: what a registry serde asks of a registry. Adapters: Confluent's
 * REST API (confluent.ts, also served by Apicurio, Karapace, Redpanda), AWS Glue Schema
 * Registry (glue.ts) and an in-memory one for tests and the harness (memory.ts).
 *
 * Reading asks one question per writer schema id, once per container (the adapters cache);
 * writing asks once per (schema, subject). A registry that cannot answer throws
 * RegistryUnavailableError, which fails the invocation (Lambda retries it) — it never turns a
 * good record into a dead letter. A registry that answers "no such id" returns undefined,
 * and the record naming that id becomes a dead letter.
 */
import { SluiceError } from '../../errors.js';
import type { Framing } from './framing.js';

/** The schema languages a registry stores (Confluent's `schemaType`, Glue's `DataFormat`). */
export type SchemaFormat = 'AVRO' | 'PROTOBUF' | 'JSON';

/** A schema as the registry returns it. */
export interface RegisteredSchema {
  /** Confluent: the decimal global id; Glue: the schema version UUID. */
  readonly id: string;
  readonly format: SchemaFormat;
  /** The schema text (Avro JSON, .proto source, JSON Schema). */
  readonly text: string;
}

/** A schema a producer writes with. */
export interface WriterSchema {
  readonly format: SchemaFormat;
  readonly text: string;
  /** Full name of the record/message (Avro `namespace.name`, protobuf `package.Message`, JSON Schema `title`). */
  readonly recordName: string | undefined;
}

/** Where a serde is used: the topic and whether it reads or writes the key or the value. */
export interface SchemaUse {
  readonly stage?: string | undefined;
  readonly topic: string;
  readonly role: 'key' | 'value';
}

/** How a subject (Confluent) or schema name (Glue) is chosen for a topic: Confluent's three strategies. */
export type SubjectNaming = 'topic' | 'record' | 'topic-record';

/** The port. */
export interface SchemaRegistry {
  /** Shown in errors, e.g. `confluent http://127.0.0.1:8081`. */
  readonly name: string;
  /** How records name their writer schema on the wire. */
  readonly framing: Framing;
  /** Subject naming when the serde does not choose one. */
  readonly subjectNaming: SubjectNaming;
  /** IAM actions a stage needs to read (`read`) or write (`write`) through this registry; empty for HTTP registries. */
  readonly iamActions: { readonly read: readonly string[]; readonly write: readonly string[] };
  /** The schema with this id, undefined when the registry does not know it; throws RegistryUnavailableError when it cannot answer. */
  schemaById(id: string): Promise<RegisteredSchema | undefined>;
  /** The id records written with `schema` under `subject` carry: looked up, or registered when `register` is true. */
  idForWriting(schema: WriterSchema, subject: string, register: boolean): Promise<string>;
}

/** The registry could not answer (network, timeout, 5xx, throttling, credentials): the invocation fails and is retried. */
export class RegistryUnavailableError extends SluiceError {
  constructor(registry: string, message: string, options?: { cause?: unknown }) {
    super(
      'SLUICE_REGISTRY_UNAVAILABLE',
      `schema registry ${registry}: ${message}`,
      {},
      'the invocation fails and Lambda retries it; no record is dead-lettered for this. Check the registry URL, network path and credentials',
      options,
    );
  }
}

/** The subject (Confluent) or schema name (Glue) a schema is registered under for `use`. */
export function subjectOf(naming: SubjectNaming, use: SchemaUse, recordName: string | undefined): string {
  if (naming === 'topic') return `${use.topic}-${use.role}`;
  if (recordName === undefined) throw new Error(`subject naming "${naming}" needs a record name`);
  return naming === 'record' ? recordName : `${use.topic}-${recordName}`;
}
