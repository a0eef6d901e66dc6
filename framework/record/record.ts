/**
 * The record shapes Sluice moves around: what a task receives (decoded from Lambda's
 * Kafka event) and what it writes. Plain data, no client types, so every other layer
 * can be tested without Kafka.
 */

import type { SchemaMetadata } from '../serde/serde.js';

/** One header; Kafka allows the same name more than once, so headers are a list. */
export interface RecordHeader {
  readonly name: string;
  readonly value: Buffer;
}

/** A Kafka record as a stage task receives it. */
export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  /** Offsets fit a JS number exactly up to 2^53, far beyond any real partition. */
  readonly offset: number;
  /** Epoch milliseconds. */
  readonly timestamp: number;
  readonly timestampType: 'CREATE_TIME' | 'LOG_APPEND_TIME';
  readonly key: Buffer | null;
  /** null for a tombstone. */
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
  /** Schema metadata Lambda's trigger attached to the key (only with the trigger's own schema registry). */
  readonly keySchemaMetadata?: SchemaMetadata;
  /** Schema metadata Lambda's trigger attached to the value (only with the trigger's own schema registry). */
  readonly valueSchemaMetadata?: SchemaMetadata;
}

/** A record a task writes; partition is set when the writer routes it itself. */
export interface OutgoingRecord {
  readonly topic: string;
  readonly partition?: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
  readonly timestamp?: number;
}

/** One partition's records from one invocation: the unit of work of a task. */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly KafkaRecord[];
}
