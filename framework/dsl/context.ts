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

/** Context of a `process` function on an unkeyed stream. */
export interface ProcessContext<O> extends RecordContext {
  /** Emits a record downstream. */
  emit(value: O): void;
  /** Emits a record to a side output. */
  output<U>(tag: OutputTag<U>, value: U): void;
}

/** Accessors of declared keyed state. */
export interface StateAccess {
  state<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  state<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  state<V>(descriptor: MapStateDescriptor<V>): MapState<V>;
  state<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  state<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT>;
}

/** Context of a `process` function on a keyed stream: the key and its state. */
export interface KeyedProcessContext<K, O> extends ProcessContext<O>, StateAccess {
  /** The key of the record being processed. */
  readonly key: K;
}

/** A per-record function on an unkeyed stream. */
export type ProcessFunction<T, O> = (value: T, ctx: ProcessContext<O>) => void | Promise<void>;

/** A per-record function on a keyed stream. */
export type KeyedProcessFunction<K, T, O> = (value: T, ctx: KeyedProcessContext<K, O>) => void | Promise<void>;
