/**
 * State declarations. A keyed operator declares the state it uses up front, by name,
 * so the runtime can fetch a whole batch's state in a few batched reads before user
 * code runs, and so the compiler can reject state used outside a keyed stage.
 */
import type { Serde } from '../serde/serde.js';
import type { Duration } from '../time/duration.js';
import type { AggregateFunction } from '../dsl/aggregate.js';

/** Options every state declaration takes. */
export interface StateOptions<S> {
  /** How the value is stored; JSON when omitted. */
  readonly serde?: Serde<S>;
  /** Time after the last write when the value expires (DynamoDB TTL; reads ignore expired values). */
  readonly ttl?: Duration;
}

/** A declared piece of keyed state; `kind` decides the accessor the context hands out. */
export type StateDescriptor =
  | ValueStateDescriptor<unknown>
  | ListStateDescriptor<unknown>
  | MapStateDescriptor<unknown>
  | ReducingStateDescriptor<unknown>
  | AggregatingStateDescriptor<unknown, unknown, unknown>;

interface DescriptorBase<S> {
  readonly name: string;
  readonly options: StateOptions<S>;
}

/** A single value per key. */
export interface ValueStateDescriptor<T> extends DescriptorBase<T> {
  readonly kind: 'value';
  /** Phantom field carrying the value type; never set. */
  readonly __type?: T;
}
/** A list per key (stored as one item: keep it under DynamoDB's 400 KB). */
export interface ListStateDescriptor<T> extends DescriptorBase<T[]> {
  readonly kind: 'list';
  readonly __type?: T;
}
/** A string-keyed map per key (stored as one item: keep it under DynamoDB's 400 KB). */
export interface MapStateDescriptor<V> extends DescriptorBase<Record<string, V>> {
  readonly kind: 'map';
  readonly __type?: V;
}
/** A value folded with a reduce function on every add. */
export interface ReducingStateDescriptor<T> extends DescriptorBase<T> {
  readonly kind: 'reducing';
  reduce(a: T, b: T): T;
}
/** An accumulator folded with an AggregateFunction on every add. */
export interface AggregatingStateDescriptor<IN, ACC, OUT> extends DescriptorBase<ACC> {
  readonly kind: 'aggregating';
  readonly aggregate: AggregateFunction<IN, ACC, OUT>;
}

/** Reads and writes one value per key. */
export interface ValueState<T> {
  get(): T | undefined;
  set(value: T): void;
  clear(): void;
}
/** Reads and appends to a list per key. */
export interface ListState<T> {
  get(): readonly T[];
  add(value: T): void;
  update(values: readonly T[]): void;
  clear(): void;
}
/** A string-keyed map per key. */
export interface MapState<V> {
  get(field: string): V | undefined;
  put(field: string, value: V): void;
  remove(field: string): void;
  has(field: string): boolean;
  entries(): Array<[string, V]>;
  clear(): void;
}
/** A value that folds what is added. */
export interface ReducingState<T> {
  get(): T | undefined;
  add(value: T): void;
  clear(): void;
}
/** An accumulator that folds what is added and reports a result. */
export interface AggregatingState<IN, OUT> {
  get(): OUT | undefined;
  add(value: IN): void;
  clear(): void;
}

const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

function checkName(name: string): string {
  if (!NAME.test(name)) {
    throw new TypeError(`state name "${name}" must match ${NAME} (letters, digits, _ and -, at most 64)`);
  }
  return name;
}

/** Declares a ValueState. */
export function valueState<T>(name: string, options: StateOptions<T> = {}): ValueStateDescriptor<T> {
  return { kind: 'value', name: checkName(name), options };
}
/** Declares a ListState. */
export function listState<T>(name: string, options: StateOptions<T[]> = {}): ListStateDescriptor<T> {
  return { kind: 'list', name: checkName(name), options };
}
/** Declares a MapState. */
export function mapState<V>(name: string, options: StateOptions<Record<string, V>> = {}): MapStateDescriptor<V> {
  return { kind: 'map', name: checkName(name), options };
}
/** Declares a ReducingState. */
export function reducingState<T>(
  name: string,
  reduce: (a: T, b: T) => T,
  options: StateOptions<T> = {},
): ReducingStateDescriptor<T> {
  return { kind: 'reducing', name: checkName(name), reduce, options };
}
/** Declares an AggregatingState. */
export function aggregatingState<IN, ACC, OUT>(
  name: string,
  aggregate: AggregateFunction<IN, ACC, OUT>,
  options: StateOptions<ACC> = {},
): AggregatingStateDescriptor<IN, ACC, OUT> {
  return { kind: 'aggregating', name: checkName(name), aggregate, options };
}
