/** What flows between operators inside a stage: a value with its key, event time and origin. */
import type { Origin } from '../dsl/context.js';
import type { KafkaRecord, RecordHeader } from '../record/record.js';

/** A record inside a stage. */
export interface Element {
  readonly value: unknown;
  /** The key in a keyed stage (decoded), undefined elsewhere. */
  readonly key: unknown;
  /** The key's bytes as on the input topic: identifies the key's state. */
  readonly keyBytes: Buffer | null;
  /** Event time, epoch ms. */
  readonly timestamp: number;
  readonly origin: Origin;
}

/** A record that could not be processed, with the input record it came from and why. */
export interface DeadLetter {
  readonly record: KafkaRecord;
  readonly error: Error;
  /** The operator that failed (e.g. `deserialize`, `map`, `sink(out)`). */
  readonly operator: string;
}

/** A serialised output of a stage before provenance headers are added. */
export interface StageOutputRecord {
  readonly topic: string;
  /** Set for repartitions (murmur2 of the key), left to the writer for sinks without a key. */
  readonly partition: number | undefined;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: number;
  readonly origin: Origin;
  /** The keyBy node that wrote it, when several keyBy nodes share the target topic. */
  readonly edge: number | undefined;
  /** Extra headers (e.g. where a late record came from). */
  readonly headers: readonly RecordHeader[];
}
