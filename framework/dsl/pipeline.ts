/**
 * The entry point of the DSL: `pipeline(name).source<T>(topic, {...})` starts a typed
 * stream; `plan()` hands the result to the topology compiler.
 */
import { ConfigError } from '../errors.js';
import type { Serde } from '../serde/serde.js';
import type { Duration } from '../time/duration.js';
import { parseDuration } from '../time/duration.js';
import type { Plan } from './plan.js';
import { PlanBuilder } from './plan-builder.js';
import { KeyedStream, Stream, tableName } from './stream.js';
import { Table } from './table.js';
import { stageNameFromTopic } from '../topology/names.js';

/** Options of a pipeline as a whole. */
export interface PipelineOptions {
  /** Partitions of internal topics when a keyBy does not say. */
  readonly partitions?: number;
  /** `exactly-once` (default) or the cheaper `at-least-once`. */
  readonly mode?: 'exactly-once' | 'at-least-once';
  /** Lambda function timeout (default 60s, at most 14m for Kafka triggers). */
  readonly functionTimeout?: Duration;
  /** Kafka transaction timeout (default function timeout + 60s; must exceed it). */
  readonly transactionTimeout?: Duration;
  /** Records whose deserialisation or user function fails go to the dead-letter topic (default) or fail the batch. */
  readonly onError?: 'dead-letter' | 'fail';
  /** A source partition without data for this long is idle: left out of downstream watermarks (default 60s). */
  readonly idleTimeout?: Duration;
  /** Least time between watermark marks a source task sends downstream under interval marks (default 1s; ticks flush). */
  readonly watermarkInterval?: Duration;
  /**
   * When a task tells downstream stages its watermark. `boundaries` (default): only when it crosses
   * a point where a downstream window can fire or close (or idleness changes); pipelines with
   * sessions or process functions downstream fall back to `interval`. `interval`: at most every
   * `watermarkInterval` at sources, on every change after. Results are the same; boundaries wake fewer tasks.
   */
  readonly marks?: 'boundaries' | 'interval';
  /**
   * Where a batch commits its input position, event time and state changes.
   * `changelog` (the default in exactly-once mode, docs/changelog-protocol.md): one changelog
   * record in the batch's own Kafka transaction, one transactional id per task; DynamoDB holds
   * only periodic snapshots, so a batch writes nothing to it.
   * `checkpoint` (the default, and the only protocol, in at-least-once mode; docs/exactly-once.md):
   * a batch record and a checkpoint in DynamoDB per task batch.
   */
  readonly commit?: 'checkpoint' | 'changelog';
}

/** Options of a source. */
export interface SourceOptions<T> {
  readonly serde: Serde<T>;
  /** The record's event time in epoch ms; the Kafka timestamp when omitted. */
  readonly eventTime?: (value: T) => number;
  /** How far event time may run out of order (watermark = max seen − this). */
  readonly maxOutOfOrderness?: Duration;
  /** Partition count of the topic (needed to create it locally and to validate). */
  readonly partitions?: number;
  /** A custom watermark from the max event time seen; default `max − maxOutOfOrderness`. */
  readonly watermark?: (maxEventTime: number) => number;
}

/** Options of a source whose topic is already keyed as the pipeline uses it. */
export interface KeyedSourceOptions<K, T> extends SourceOptions<T> {
  readonly keySerde: Serde<K>;
}

/** Options of a table read from a (compacted) topic: keys and rows as the topic's producers write them. */
export interface TableSourceOptions<K, V> {
  readonly keySerde: Serde<K>;
  readonly serde: Serde<V>;
  /** Partition count of the topic. */
  readonly partitions?: number;
  /** Names the table's state (`table-<name>`) in the stage that joins it; default: from the topic. */
  readonly name?: string;
}

/** A named dataflow; one Lambda function per stage once compiled. */
export class Pipeline {
  private readonly builder: PlanBuilder;

  /** @internal use `pipeline()` */
  constructor(readonly name: string, options: PipelineOptions = {}) {
    if (!/^[a-z][a-z0-9-]{0,29}$/.test(name)) {
      throw new ConfigError(`pipeline name "${name}" is not valid`, { field: 'name' }, 'use 1-30 lowercase letters, digits and dashes, starting with a letter');
    }
    const functionTimeoutMs = parseDuration(options.functionTimeout ?? '60s', 'functionTimeout');
    const transactionTimeoutMs = parseDuration(options.transactionTimeout ?? functionTimeoutMs + 60_000, 'transactionTimeout');
    this.builder = new PlanBuilder({
      name,
      partitions: options.partitions,
      mode: options.mode ?? 'exactly-once',
      functionTimeoutMs,
      transactionTimeoutMs,
      onError: options.onError ?? 'dead-letter',
      idleTimeoutMs: parseDuration(options.idleTimeout ?? '60s', 'idleTimeout'),
      watermarkIntervalMs: parseDuration(options.watermarkInterval ?? '1s', 'watermarkInterval'),
      marks: marksOption(options.marks),
      commit: commitOption(options.commit, options.mode ?? 'exactly-once'),
    });
  }

  /** Starts a stream from an external topic. */
  source<T>(topic: string, options: SourceOptions<T>): Stream<T> {
    return new Stream<T>(this.builder, this.addSource(topic, options, undefined));
  }

  /** Starts a keyed stream from an external topic that is already partitioned by key. */
  keyedSource<K, T>(topic: string, options: KeyedSourceOptions<K, T>): KeyedStream<K, T> {
    return new KeyedStream<K, T>(this.builder, this.addSource(topic, options, options.keySerde as Serde<unknown>));
  }

  /**
   * A table from a (compacted) topic: each record upserts its key's row, a record with a null value
   * (a tombstone) deletes it. The topic is read by a stage of its own, which forwards the changes to
   * the stage that joins the table, where the rows are kept as keyed state.
   */
  table<K, V>(topic: string, options: TableSourceOptions<K, V>): Table<K, V> {
    const id = this.builder.add({
      kind: 'source',
      id: 0,
      topic,
      serde: options.serde as Serde<unknown>,
      keySerde: options.keySerde as Serde<unknown>,
      partitions: options.partitions,
      eventTime: undefined,
      maxOutOfOrdernessMs: 0,
      watermark: undefined,
      table: true,
    });
    return new Table<K, V>(this.builder, id, tableName(options.name, stageNameFromTopic(topic)));
  }

  /** The plan built so far, for the topology compiler. */
  plan(): Plan {
    return this.builder.plan();
  }

  private addSource<T>(topic: string, options: SourceOptions<T>, keySerde: Serde<unknown> | undefined): number {
    return this.builder.add({
      kind: 'source',
      id: 0,
      topic,
      serde: options.serde as Serde<unknown>,
      keySerde,
      partitions: options.partitions,
      eventTime: options.eventTime as ((v: unknown) => number) | undefined,
      maxOutOfOrdernessMs: options.maxOutOfOrderness === undefined ? 0 : parseDuration(options.maxOutOfOrderness, 'maxOutOfOrderness'),
      watermark: options.watermark,
    });
  }
}

/** Starts a pipeline definition. */
export function pipeline(name: string, options: PipelineOptions = {}): Pipeline {
  return new Pipeline(name, options);
}

function commitOption(commit: unknown, mode: 'exactly-once' | 'at-least-once'): 'checkpoint' | 'changelog' {
  if (commit === undefined) return mode === 'exactly-once' ? 'changelog' : 'checkpoint';
  if (commit !== 'checkpoint' && commit !== 'changelog') {
    throw new ConfigError(`commit: ${JSON.stringify(commit)} is not a commit protocol`, { field: 'commit' }, "use 'checkpoint' (the default) or 'changelog'");
  }
  if (commit === 'changelog' && mode !== 'exactly-once') {
    throw new ConfigError("commit: 'changelog' needs mode 'exactly-once'", { field: 'commit' }, 'the changelog record is committed by the batch\'s Kafka transaction, which at-least-once batches do not open');
  }
  return commit;
}

function marksOption(marks: unknown): 'boundaries' | 'interval' {
  if (marks === undefined) return 'boundaries';
  if (marks === 'boundaries' || marks === 'interval') return marks;
  throw new ConfigError(`marks: ${JSON.stringify(marks)} is not a mark policy`, { field: 'marks' }, "use 'boundaries' (the default) or 'interval'");
}
