/**
 * What user functions see. Contexts are narrow on purpose: user code emits records and
 * touches declared state; it never sees Kafka, DynamoDB or the commit protocol.
 */
import type {
  AggregatingState,
  AggregatingStateDescriptor,
  ListState,
  ListStateDescriptor,
  MapState,
  MapStateDescriptor,
  ReducingState,
  ReducingStateDescriptor,
  ValueState,
  ValueStateDescriptor,
} from '../state/descriptors.js';
import type { OutputTag } from './output-tag.js';

/** Where a record came from: the input record of the task that led to it. */
export interface Origin {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** Read-only facts about the record being processed. */
export interface RecordContext {
  /** The record's event time (epoch ms): the source's eventTime, else the Kafka timestamp. */
  readonly timestamp: number;
  /** The input record this one descends from. */
  readonly origin: Origin;
}

/** CloudWatch units a user metric may have. */
export type MetricUnitName = 'Count' | 'Milliseconds' | 'Seconds' | 'Microseconds' | 'Bytes' | 'Kilobytes' | 'Megabytes' | 'Percent' | 'None';

/**
 * Custom metrics from user code. They reach CloudWatch with Sluice's own, in the invocation's
 * EMF document (namespace `Sluice`, dimensions `app` and `stage`), for the batches an
 * invocation reports done; a retried batch counts again, so treat them as at-least-once.
 */
export interface UserMetrics {
  /** Adds `by` (default 1) to the counter `name` (unit Count; summed over the invocation's batches). */
  count(name: string, by?: number): void;
  /** Records one observation of `name` (a latency, a size…); each observation is one value of the metric. */
  value(name: string, value: number, unit?: MetricUnitName): void;
}

/** Context of a `process` function on an unkeyed stream. */
export interface ProcessContext<O> extends RecordContext {
  /** Emits a record downstream. */
  emit(value: O): void;
  /** Emits a record to a side output. */
  output<U>(tag: OutputTag<U>, value: U): void;
  /** Custom metrics, emitted with the stage's. */
  readonly metrics: UserMetrics;
}

/** Accessors of declared keyed state. */
export interface StateAccess {
  state<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  state<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  state<V>(descriptor: MapStateDescriptor<V>): MapState<V>;
  state<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  state<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT>;
}

/** Registers and deletes timers of the current key; a timer fires once, through `onTimer`. */
export interface TimerService {
  /** The task's current event time (watermark), epoch ms. */
  readonly watermark: number;
  /** The task's current processing time, epoch ms. */
  readonly processingTime: number;
  /** Fires when the watermark reaches `time`. */
  registerEventTimeTimer(time: number): void;
  /** Fires when processing time (ticks) reaches `time`. */
  registerProcessingTimeTimer(time: number): void;
  deleteEventTimeTimer(time: number): void;
  deleteProcessingTimeTimer(time: number): void;
}

/** Context of a `process` function on a keyed stream: the key, its state and its timers. */
export interface KeyedProcessContext<K, O> extends ProcessContext<O>, StateAccess {
  /** The key of the record being processed. */
  readonly key: K;
  readonly timers: TimerService;
}

/** Context of `onTimer`: like a process context, plus which kind of timer fired. */
export interface OnTimerContext<K, O> extends StateAccess {
  readonly key: K;
  readonly timers: TimerService;
  readonly timeDomain: 'event' | 'processing';
  emit(value: O): void;
  output<U>(tag: OutputTag<U>, value: U): void;
  /** Custom metrics, emitted with the stage's. */
  readonly metrics: UserMetrics;
}

/** A per-record function on an unkeyed stream. */
export type ProcessFunction<T, O> = (value: T, ctx: ProcessContext<O>) => void | Promise<void>;

/** A per-record function on a keyed stream. */
export type KeyedProcessFunction<K, T, O> = (value: T, ctx: KeyedProcessContext<K, O>) => void | Promise<void>;
