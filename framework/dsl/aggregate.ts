/**
 * Incremental aggregation, as in Flink's AggregateFunction: an accumulator is created,
 * records are added one by one, and a result is read off. Accumulators are stored in
 * keyed state, so they must be JSON-serialisable plain data.
 */

/** An incremental aggregation from IN records through accumulator ACC to result OUT. */
export interface AggregateFunction<IN, ACC, OUT> {
  /** Name used in topology descriptions. */
  readonly name: string;
  createAccumulator(): ACC;
  add(accumulator: ACC, value: IN): ACC;
  getResult(accumulator: ACC): OUT;
  /** Needed to merge session windows. */
  merge?(a: ACC, b: ACC): ACC;
}

/** Counts records. */
export function count<IN = unknown>(): AggregateFunction<IN, number, number> {
  return { name: 'count', createAccumulator: () => 0, add: (acc) => acc + 1, getResult: (acc) => acc, merge: (a, b) => a + b };
}

/** Sums a numeric field. */
export function sum<IN>(field: (value: IN) => number): AggregateFunction<IN, number, number> {
  return { name: 'sum', createAccumulator: () => 0, add: (acc, v) => acc + field(v), getResult: (acc) => acc, merge: (a, b) => a + b };
}

/** Smallest value of a numeric field (undefined for no records). */
export function min<IN>(field: (value: IN) => number): AggregateFunction<IN, number | null, number | undefined> {
  return {
    name: 'min',
    createAccumulator: () => null,
    add: (acc, v) => (acc === null ? field(v) : Math.min(acc, field(v))),
    getResult: (acc) => acc ?? undefined,
    merge: (a, b) => (a === null ? b : b === null ? a : Math.min(a, b)),
  };
}

/** Largest value of a numeric field (undefined for no records). */
export function max<IN>(field: (value: IN) => number): AggregateFunction<IN, number | null, number | undefined> {
  return {
    name: 'max',
    createAccumulator: () => null,
    add: (acc, v) => (acc === null ? field(v) : Math.max(acc, field(v))),
    getResult: (acc) => acc ?? undefined,
    merge: (a, b) => (a === null ? b : b === null ? a : Math.max(a, b)),
  };
}

/** Mean of a numeric field (undefined for no records). */
export function avg<IN>(field: (value: IN) => number): AggregateFunction<IN, { sum: number; count: number }, number | undefined> {
  return {
    name: 'avg',
    createAccumulator: () => ({ sum: 0, count: 0 }),
    add: (acc, v) => ({ sum: acc.sum + field(v), count: acc.count + 1 }),
    getResult: (acc) => (acc.count === 0 ? undefined : acc.sum / acc.count),
    merge: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count }),
  };
}
