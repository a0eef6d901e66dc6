/**
 * The typed streams users chain. A stream's type changes exactly where its meaning
 * changes: `keyBy` turns a Stream<T> into a KeyedStream<K, T> (a repartition and a stage
 * boundary); keyed streams give access to state. Every method appends a node to the
 * shared plan and returns a new stream handle.
 */
import type { Serde } from '../serde/serde.js';
import { json } from '../serde/index.js';
import { ConfigError } from '../errors.js';
import type { StateDescriptor } from '../state/descriptors.js';
import { aggregatingState } from '../state/descriptors.js';
import type { AggregateFunction } from './aggregate.js';
import type { KeyedProcessFunction, OnTimerContext, ProcessFunction, RecordContext } from './context.js';
import type { Duration } from '../time/duration.js';
import { parseDuration } from '../time/duration.js';
import type { TimeWindow, WindowAssigner } from '../time/windows.js';
import type { TriggerSpec } from '../time/triggers.js';
import type { WindowSpec } from '../time/window-operator.js';
import type { OutputTag } from './output-tag.js';
import type { NodeId, PlanNode } from './plan.js';
import type { PlanBuilder } from './plan-builder.js';
import type { IntervalJoinOptions, JoinResult, JoinType, LeftOf, RightOf, TableJoinOptions, WindowJoinOptions, WindowJoinResult } from './join.js';
import { Table, type TableOptions } from './table.js';
import { parseSignedDuration, type JoinSpec } from '../join/spec.js';

/** Options of `keyBy`. */
export interface KeyByOptions<K, T> {
  /** Names the key; the keyed stage is called `by-<name>` unless `.stage()` says otherwise. */
  readonly name?: string;
  /** How keys are written to Kafka; JSON by default. Use `string()` to agree with external producers. */
  readonly keySerde?: Serde<K>;
  /** How records are written to the internal topic; JSON by default. */
  readonly serde?: Serde<T>;
  /** Partitions of the internal topic (default: the pipeline's `partitions`). */
  readonly partitions?: number;
}

/** Options of `sink`. */
export interface SinkOptions<T, K = unknown> {
  readonly serde: Serde<T>;
  /** Key of each written record; keyed streams default to their key. */
  readonly key?: (value: T) => K;
  readonly keySerde?: Serde<K>;
}

/** Options of `process`. */
export interface ProcessOptions {
  /** The keyed state the function reads or writes. */
  readonly state?: readonly StateDescriptor[];
}

/** Options of a keyed `process`: its state and what to do when one of its timers fires. */
export interface KeyedProcessOptions<K, O> extends ProcessOptions {
  readonly onTimer?: (timestamp: number, ctx: OnTimerContext<K, O>) => void | Promise<void>;
}

/** Options of `window`. */
export interface WindowOptions {
  /** How long after a window's end late records still update it (and re-fire it). Default 0. */
  readonly allowedLateness?: Duration;
  /** When windows emit; default: once when the watermark passes the window's end. */
  readonly trigger?: TriggerSpec;
  /** Topic that records too late for any window go to (default `<app>.<stage>.late`). Never dropped. */
  readonly late?: string;
}

/** One emitted window result. */
export interface WindowResult<K, R> {
  readonly key: K;
  readonly window: { readonly start: number; readonly end: number };
  readonly value: R;
  /** `on-time` when the watermark passed the window's end; `early` and `late` firings come from triggers and lateness. */
  readonly firing: 'early' | 'on-time' | 'late';
}

/** The result of a running keyed aggregate. */
export interface KeyedResult<K, R> {
  readonly key: K;
  readonly value: R;
}

/** A stream of records of type T. */
export class Stream<T> {
  /** @internal */
  constructor(
    protected readonly builder: PlanBuilder,
    /** @internal The node that produces this stream. */
    readonly nodeId: NodeId,
  ) {}

  /** Transforms every record. */
  map<U>(fn: (value: T, ctx: RecordContext) => U): Stream<U> {
    return new Stream<U>(this.builder, this.add({ kind: 'map', id: 0, input: this.nodeId, fn: fn as (v: unknown, c: RecordContext) => unknown }));
  }

  /** Keeps the records the predicate accepts; a type guard narrows the record type. */
  filter<S extends T>(fn: (value: T, ctx: RecordContext) => value is S): Stream<S>;
  filter(fn: (value: T, ctx: RecordContext) => boolean): Stream<T>;
  filter(fn: (value: T, ctx: RecordContext) => boolean): Stream<T> {
    return new Stream<T>(this.builder, this.add({ kind: 'filter', id: 0, input: this.nodeId, fn: fn as (v: unknown, c: RecordContext) => boolean }));
  }

  /** Turns every record into zero or more records. */
  flatMap<U>(fn: (value: T, ctx: RecordContext) => Iterable<U>): Stream<U> {
    return new Stream<U>(
      this.builder,
      this.add({ kind: 'flatMap', id: 0, input: this.nodeId, fn: fn as (v: unknown, c: RecordContext) => Iterable<unknown> }),
    );
  }

  /** Transforms every record with an async function (e.g. an enrichment call), at most `concurrency` at a time, order kept. */
  mapAsync<U>(fn: (value: T, ctx: RecordContext) => Promise<U>, options: { concurrency?: number } = {}): Stream<U> {
    const concurrency = options.concurrency ?? 8;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new TypeError(`mapAsync concurrency must be a positive integer, got ${String(options.concurrency)}`);
    }
    return new Stream<U>(
      this.builder,
      this.add({ kind: 'mapAsync', id: 0, input: this.nodeId, fn: fn as (v: unknown, c: RecordContext) => Promise<unknown>, concurrency }),
    );
  }

  /** Runs a function per record that may emit any number of records and side outputs. */
  process<O>(fn: ProcessFunction<T, O>): Stream<O> {
    return new Stream<O>(
      this.builder,
      this.add({ kind: 'process', id: 0, input: this.nodeId, keyed: false, fn: fn as PlanProcessFn, state: [], onTimer: undefined }),
    );
  }

  /** Repartitions by key: records of one key reach one partition (and one task) of the next stage. */
  keyBy<K>(keyFn: (value: T) => K, options: KeyByOptions<K, T> = {}): KeyedStream<K, T> {
    return new KeyedStream<K, T>(this.builder, addKeyBy(this.builder, this.nodeId, keyFn, options));
  }

  /** The results of a keyed aggregate as a table: each result is the key's new row (`keyed.aggregate(fn).toTable()`). */
  toTable<K, V>(this: Stream<KeyedResult<K, V>>, options: TableOptions = {}): Table<K, V> {
    // Aggregate results keep their key through the stage: the row is the result's value.
    const id = this.add({ kind: 'map', id: 0, input: this.nodeId, fn: (r) => (r as KeyedResult<K, V>).value });
    return new Table<K, V>(this.builder, id, tableName(options.name, `t${id}`));
  }

  /** Merges streams of the same record type. */
  union(...others: Stream<T>[]): Stream<T> {
    return new Stream<T>(this.builder, this.add({ kind: 'union', id: 0, inputs: [this.nodeId, ...others.map((o) => o.nodeId)] }));
  }

  /** Records a process function emitted under `tag`. */
  sideOutput<U>(tag: OutputTag<U>): Stream<U> {
    return new Stream<U>(this.builder, this.add({ kind: 'sideOutput', id: 0, input: this.nodeId, tag: tag.id }));
  }

  /** Names the stage this stream is computed in (its Lambda function), so renames are deliberate. */
  stage(name: string): this {
    this.builder.nameStage(this.nodeId, name);
    return this;
  }

  /** Writes the stream to a topic outside the pipeline. */
  sink<K = unknown>(topic: string, options: SinkOptions<T, K>): void {
    this.add({
      kind: 'sink',
      id: 0,
      input: this.nodeId,
      topic,
      serde: options.serde as Serde<unknown>,
      keyFn: options.key as ((v: unknown) => unknown) | undefined,
      keySerde: options.keySerde as Serde<unknown> | undefined,
    });
  }

  /** @internal */
  protected add(node: PlanNode): NodeId {
    return this.builder.add(node);
  }
}

type PlanProcessFn = Extract<PlanNode, { kind: 'process' }>['fn'];

/** Appends a keyBy node reading `input`. */
function addKeyBy<K, T>(builder: PlanBuilder, input: NodeId, keyFn: (value: T) => K, options: KeyByOptions<K, T>): NodeId {
  return builder.add({
    kind: 'keyBy',
    id: 0,
    input,
    keyFn: keyFn as (v: unknown) => unknown,
    keySerde: (options.keySerde ?? json<K>()) as Serde<unknown>,
    serde: (options.serde ?? json<T>()) as Serde<unknown>,
    partitions: options.partitions,
    name: options.name,
  });
}

/** A join of streams of two pipelines cannot be compiled: say so where it is written. */
function samePipeline(a: PlanBuilder, b: PlanBuilder): void {
  if (a !== b) throw new ConfigError('a join needs two streams (or a stream and a table) of the same pipeline', { field: 'join' }, 'build both sides from the same pipeline() object');
}

/** A table's name: the given one, else `fallback`; it becomes part of a state name (`table-<name>`). */
export function tableName(name: string | undefined, fallback: string): string {
  const n = name ?? fallback;
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,57}$/.test(n)) throw new TypeError(`table name "${n}" must be 1-58 letters, digits, _ or -, starting with a letter`);
  return n;
}
type PlanOnTimer = NonNullable<Extract<PlanNode, { kind: 'process' }>['onTimer']>;

/** A stream partitioned by key K: per-key state and (with event time) windows live here. */
export class KeyedStream<K, T> {
  /** @internal */
  constructor(
    private readonly builder: PlanBuilder,
    /** @internal */
    readonly nodeId: NodeId,
  ) {}

  /** Transforms every record's value; the key stays. */
  map<U>(fn: (value: T, ctx: RecordContext) => U): KeyedStream<K, U> {
    return new KeyedStream<K, U>(this.builder, this.builder.add({ kind: 'map', id: 0, input: this.nodeId, fn: fn as (v: unknown, c: RecordContext) => unknown }));
  }

  /** Keeps the records the predicate accepts; the key stays. */
  filter<S extends T>(fn: (value: T, ctx: RecordContext) => value is S): KeyedStream<K, S>;
  filter(fn: (value: T, ctx: RecordContext) => boolean): KeyedStream<K, T>;
  filter(fn: (value: T, ctx: RecordContext) => boolean): KeyedStream<K, T> {
    return new KeyedStream<K, T>(this.builder, this.builder.add({ kind: 'filter', id: 0, input: this.nodeId, fn: fn as (v: unknown, c: RecordContext) => boolean }));
  }

  /** Runs a function per record with the record's key and its declared state. */
  process<O>(fn: KeyedProcessFunction<K, T, O>, options: KeyedProcessOptions<K, O> = {}): Stream<O> {
    const state = options.state ?? [];
    const names = new Set<string>();
    for (const d of state) {
      if (names.has(d.name)) throw new TypeError(`state "${d.name}" is declared twice in one process function`);
      names.add(d.name);
    }
    return new Stream<O>(
      this.builder,
      this.builder.add({
        kind: 'process',
        id: 0,
        input: this.nodeId,
        keyed: true,
        fn: fn as PlanProcessFn,
        state,
        onTimer: options.onTimer as PlanOnTimer | undefined,
      }),
    );
  }

  /** Groups each key's records into event-time windows. */
  window(assigner: WindowAssigner, options: WindowOptions = {}): WindowedStream<K, T> {
    return new WindowedStream<K, T>(this.builder, this.nodeId, assigner, options);
  }

  /** A running aggregate per key: after every record, emits the key's updated result. */
  aggregate<ACC, R>(fn: AggregateFunction<T, ACC, R>, options: { name?: string } = {}): Stream<KeyedResult<K, R>> {
    const descriptor = aggregatingState(options.name ?? `agg-${fn.name}`, fn);
    return new Stream<KeyedResult<K, R>>(
      this.builder,
      this.builder.add({
        kind: 'aggregate',
        id: 0,
        input: this.nodeId,
        aggregate: fn as AggregateFunction<unknown, unknown, unknown>,
        state: [descriptor as StateDescriptor],
      }),
    );
  }

  /** Repartitions by a new key (the records leave this stage for the one keyed by it). */
  keyBy<K2>(keyFn: (value: T) => K2, options: KeyByOptions<K2, T> = {}): KeyedStream<K2, T> {
    return new KeyedStream<K2, T>(this.builder, addKeyBy(this.builder, this.nodeId, keyFn, options));
  }

  /** The stream as a table: each record is the key's new row; a null value deletes it (a tombstone). */
  toTable(options: TableOptions = {}): Table<K, NonNullable<T>> {
    return new Table<K, NonNullable<T>>(this.builder, this.nodeId, tableName(options.name, `t${this.nodeId}`));
  }

  /**
   * Joins each record with the table's row for its key as of when the record is processed
   * (processing order, not versioned: docs/joins.md). Inner by default; `{ type: 'left' }` keeps
   * records without a row (`right: null`). Table updates emit nothing.
   */
  join<V, J extends 'inner' | 'left' = 'inner'>(table: Table<K, V>, options: TableJoinOptions<J> = {}): KeyedStream<K, JoinResult<K, T, RightOf<V, J>>> {
    samePipeline(this.builder, table.builder);
    return this.addJoin(table.nodeId, { kind: 'table', type: options.type ?? 'inner', state: `table-${table.name}` }, undefined);
  }

  /**
   * Joins with another keyed stream on event time: a left record at time a meets every right record
   * of its key at time b with a + lower ≤ b ≤ a + upper (Flink's interval join). Records stay in
   * state until the watermark shows no partner can come; `left`/`right`/`outer` then emit the
   * unmatched ones with `null` on the other side. Records behind the watermark go to the late topic.
   */
  intervalJoin<U, J extends JoinType = 'inner'>(other: KeyedStream<K, U>, options: IntervalJoinOptions<J>): KeyedStream<K, JoinResult<K, LeftOf<T, J>, RightOf<U, J>>> {
    const spec: JoinSpec = {
      kind: 'interval',
      type: options.type ?? 'inner',
      lowerMs: parseSignedDuration(options.lower, 'intervalJoin.lower'),
      upperMs: parseSignedDuration(options.upper, 'intervalJoin.upper'),
    };
    samePipeline(this.builder, other.builder);
    return this.addJoin(other.nodeId, spec, options.late);
  }

  /**
   * Joins with another keyed stream within event-time windows (tumbling, sliding or session): when
   * a window fires, every left record in it meets every right record of its key; `left`/`right`/
   * `outer` also emit a side's records when the window has none of the other side.
   */
  windowJoin<U, J extends JoinType = 'inner'>(other: KeyedStream<K, U>, assigner: WindowAssigner, options: WindowJoinOptions<J> = {}): KeyedStream<K, WindowJoinResult<K, LeftOf<T, J>, RightOf<U, J>>> {
    const spec: JoinSpec = {
      kind: 'window',
      type: options.type ?? 'inner',
      assigner,
      allowedLatenessMs: options.allowedLateness === undefined ? 0 : parseDuration(options.allowedLateness, 'allowedLateness'),
    };
    samePipeline(this.builder, other.builder);
    return this.addJoin(other.nodeId, spec, options.late);
  }

  private addJoin<O>(right: NodeId, spec: JoinSpec, lateTopic: string | undefined): KeyedStream<K, O> {
    return new KeyedStream<K, O>(this.builder, this.builder.add({ kind: 'join', id: 0, left: this.nodeId, right, spec, lateTopic }));
  }

  /** Merges keyed streams with the same key and record types (they share the next stage's input topic). */
  union(...others: KeyedStream<K, T>[]): KeyedStream<K, T> {
    return new KeyedStream<K, T>(this.builder, this.builder.add({ kind: 'union', id: 0, inputs: [this.nodeId, ...others.map((o) => o.nodeId)] }));
  }

  /** Names the keyed stage (its Lambda function). */
  stage(name: string): this {
    this.builder.nameStage(this.nodeId, name);
    return this;
  }

  /** Writes the records with their keys to a topic outside the pipeline. */
  sink(topic: string, options: { serde: Serde<T>; keySerde?: Serde<K> }): void {
    this.builder.add({
      kind: 'sink',
      id: 0,
      input: this.nodeId,
      topic,
      serde: options.serde as Serde<unknown>,
      keyFn: undefined,
      keySerde: options.keySerde as Serde<unknown> | undefined,
    });
  }
}

/** A keyed stream grouped into windows: finish it with `aggregate` or `process`. */
export class WindowedStream<K, T> {
  /** @internal */
  constructor(
    private readonly builder: PlanBuilder,
    private readonly input: NodeId,
    private readonly assigner: WindowAssigner,
    private readonly options: WindowOptions,
  ) {}

  /** Aggregates each window incrementally; emits one result per window firing. */
  aggregate<ACC, R>(fn: AggregateFunction<T, ACC, R>): Stream<WindowResult<K, R>> {
    return this.add({ kind: 'aggregate', aggregate: fn as AggregateFunction<unknown, unknown, unknown> });
  }

  /** Processes each window's records whole when it fires (keeps every record in state until then); each value it returns is one result. */
  process<O>(fn: (key: K, window: TimeWindow, values: readonly T[]) => Iterable<O>): Stream<WindowResult<K, O>> {
    return this.add({ kind: 'process', process: fn as (key: unknown, window: TimeWindow, values: readonly unknown[]) => Iterable<unknown> });
  }

  private add<O>(fn: WindowSpec<unknown, unknown, unknown>['fn']): Stream<O> {
    const spec: WindowSpec<unknown, unknown, unknown> = {
      assigner: this.assigner,
      allowedLatenessMs: this.options.allowedLateness === undefined ? 0 : parseDuration(this.options.allowedLateness, 'allowedLateness'),
      ...(this.options.trigger ? { trigger: this.options.trigger } : {}),
      fn,
    };
    const id = this.builder.add({ kind: 'window', id: 0, input: this.input, spec, lateTopic: this.options.late, state: [] });
    return new Stream<O>(this.builder, id);
  }
}
