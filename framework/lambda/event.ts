/**
 * The JSON shapes Lambda's Kafka event-source mapping sends to a function (Amazon MSK and
 * self-managed Kafka) and the partial-batch-failure response it accepts. Types only: the
 * checking lives in decode.ts, because a handler receives `unknown` at run time.
 */

/** `eventSource` of an Amazon MSK trigger. */
export const MSK_EVENT_SOURCE = 'aws:kafka';
/** `eventSource` of a self-managed Kafka trigger. */
export const SELF_MANAGED_EVENT_SOURCE = 'SelfManagedKafka';

/**
 * One header entry: a single name mapped to its value bytes. Lambda serialises Java `byte[]`,
 * so bytes arrive as signed numbers (-128..127); names may repeat across entries.
 */
export type LambdaKafkaHeader = Readonly<Record<string, readonly number[]>>;

/** Schema-registry metadata Lambda adds to a record when the mapping has a schema registry. */
export interface LambdaSchemaMetadata {
  /** `AVRO`, `PROTOBUF` or `JSON`. */
  readonly dataFormat: string;
  readonly schemaId: string;
}

/** One Kafka record as Lambda puts it in an event. */
export interface LambdaKafkaRecord {
  readonly topic: string;
  /** A number in practice; some documented samples show a numeric string, which decode accepts. */
  readonly partition: number;
  /** A number in practice; decode also accepts a numeric string. */
  readonly offset: number;
  /** Epoch milliseconds; decode also accepts a numeric string. */
  readonly timestamp: number;
  readonly timestampType: 'CREATE_TIME' | 'LOG_APPEND_TIME';
  /** Base64; absent (or null) when the record has no key. */
  readonly key?: string | null;
  /** Base64; absent (or null) for a tombstone. */
  readonly value?: string | null;
  readonly headers: readonly LambdaKafkaHeader[];
  readonly keySchemaMetadata?: LambdaSchemaMetadata;
  readonly valueSchemaMetadata?: LambdaSchemaMetadata;
}

/** Records grouped by partition; each key is `"<topic>-<partition>"` (the topic may contain `-`). */
export type LambdaKafkaRecords = Readonly<Record<string, readonly LambdaKafkaRecord[]>>;

/** The event an Amazon MSK trigger sends. */
export interface MskEvent {
  readonly eventSource: typeof MSK_EVENT_SOURCE;
  /** ARN of the MSK cluster. */
  readonly eventSourceArn: string;
  /** Comma-separated `host:port` list. */
  readonly bootstrapServers: string;
  readonly records: LambdaKafkaRecords;
}

/** The event a self-managed Kafka trigger sends. */
export interface SelfManagedKafkaEvent {
  readonly eventSource: typeof SELF_MANAGED_EVENT_SOURCE;
  /** Comma-separated `host:port` list. */
  readonly bootstrapServers: string;
  readonly records: LambdaKafkaRecords;
}

/** Either Kafka trigger event. */
export type LambdaKafkaEvent = MskEvent | SelfManagedKafkaEvent;

/** One failed record in a partial batch response (mapping must enable ReportBatchItemFailures). */
export interface KafkaBatchItemFailure {
  readonly itemIdentifier: {
    /** `"<topic>-<partition>"`, the same form as the event's record group keys. */
    readonly partition: string;
    readonly offset: number;
  };
}

/** What a handler returns to report partial batch failures. */
export interface KafkaBatchResponse {
  readonly batchItemFailures: readonly KafkaBatchItemFailure[];
}
