/**
 * The interval join of one key, as a pure state machine (Flink's IntervalJoinOperator, with the
 * outer variants of Kafka Streams and Spark): a left record at time a and a right record at time b
 * match iff a + lower ≤ b ≤ a + upper. Each side's records wait in the key's buffers for the
 * partners still to come; the watermark W (no more records with time ≤ W) decides when none can.
 *
 * Invariants kept:
 * - a record is late (reported, never buffered or joined) iff its time ≤ W: every partner it could
 *   have had may already have left the buffers, so joining it would depend on timing;
 * - a left record at a stays buffered while W < a + upper (a right partner may still come), a right
 *   record at b while W < b − lower; so every pair of non-late records is emitted exactly once, by
 *   whichever of the two arrived second;
 * - a side whose unmatched records are emitted (left/right/outer) marks records that matched; an
 *   unmatched one is emitted once, when it leaves the buffer, with time max(t, its cleanup time),
 *   which is above the watermark of every task downstream when it is sent;
 * - the key's timers are exactly `intervalTimersOf(spec, state)`: each buffered record's cleanup time.
 * Inputs are never mutated; state is JSON-safe.
 */
import type { IntervalJoinSpec } from './spec.js';
import { emitsUnmatched } from './spec.js';

/** One buffered record: its event time, value, and (on a side that emits unmatched records) whether it matched. */
export interface BufferedRecord {
  readonly t: number;
  readonly v: unknown;
  /** 1 once it matched a record of the other side (kept only on sides that emit unmatched records). */
  readonly m?: 1;
}

/** The buffers of one key, each in arrival order. JSON-serialisable. */
export interface IntervalJoinState {
  readonly l: readonly BufferedRecord[];
  readonly r: readonly BufferedRecord[];
}

/** A join result: a matched pair, or an unmatched record with `null` on the other side. */
export interface JoinedPair {
  readonly left: unknown;
  readonly right: unknown;
  /** Event time of the result. */
  readonly timestamp: number;
}

/** What one call produced; `state` undefined means the key holds nothing (delete its state). */
export interface IntervalJoinResult {
  readonly state: IntervalJoinState | undefined;
  readonly results: JoinedPair[];
  /** The record was late: route it to the late topic (state unchanged). */
  readonly late: boolean;
}

/** When a record of `side` at `t` can match nothing more: the watermark has reached this. */
export function cleanupTimeOf(spec: IntervalJoinSpec, side: 'left' | 'right', t: number): number {
  return side === 'left' ? t + spec.upperMs : t - spec.lowerMs;
}

/** Joins a record of `side` with event time `t` against the other side's buffer, and buffers it while partners may come. */
export function onJoinElement(spec: IntervalJoinSpec, state: IntervalJoinState | undefined, side: 'left' | 'right', value: unknown, t: number, watermark: number): IntervalJoinResult {
  if (t <= watermark) return { state, results: [], late: true };
  const own = side === 'left' ? (state?.l ?? []) : (state?.r ?? []);
  const other = side === 'left' ? (state?.r ?? []) : (state?.l ?? []);
  const otherSide = side === 'left' ? 'right' : 'left';
  const matches = (o: BufferedRecord): boolean => (side === 'left' ? t + spec.lowerMs <= o.t && o.t <= t + spec.upperMs : o.t + spec.lowerMs <= t && t <= o.t + spec.upperMs);
  const results: JoinedPair[] = [];
  const trackOther = emitsUnmatched(spec.type, otherSide);
  const otherAfter = other.map((o) => {
    if (!matches(o)) return o;
    results.push(side === 'left' ? { left: value, right: o.v, timestamp: Math.max(t, o.t) } : { left: o.v, right: value, timestamp: Math.max(t, o.t) });
    return trackOther && o.m !== 1 ? { ...o, m: 1 as const } : o;
  });
  const matched = results.length > 0;
  const cleanup = cleanupTimeOf(spec, side, t);
  let ownAfter = own;
  if (cleanup > watermark) {
    ownAfter = [...own, emitsUnmatched(spec.type, side) && matched ? { t, v: value, m: 1 } : { t, v: value }];
  } else if (!matched && emitsUnmatched(spec.type, side)) {
    // No partner can come any more (upper < 0 on the left, lower > 0 on the right): unmatched now.
    results.push(unmatched(side, value, t));
  }
  const next = side === 'left' ? { l: ownAfter, r: otherAfter } : { l: otherAfter, r: ownAfter };
  return { state: stateOf(next), results, late: false };
}

/**
 * Event time reached `time` (a timer of the key at `time` is due): every buffered record whose
 * cleanup time ≤ time leaves the buffer, and the unmatched ones of a side that emits them are emitted.
 */
export function onJoinEventTime(spec: IntervalJoinSpec, state: IntervalJoinState | undefined, time: number): Omit<IntervalJoinResult, 'late'> {
  const results: JoinedPair[] = [];
  const keep = (side: 'left' | 'right', records: readonly BufferedRecord[]): BufferedRecord[] =>
    records.filter((r) => {
      if (cleanupTimeOf(spec, side, r.t) > time) return true;
      if (emitsUnmatched(spec.type, side) && r.m !== 1) results.push(unmatched(side, r.v, Math.max(r.t, cleanupTimeOf(spec, side, r.t))));
      return false;
    });
  const next = { l: keep('left', state?.l ?? []), r: keep('right', state?.r ?? []) };
  return { state: stateOf(next), results };
}

/** Every timer the key needs, ascending and distinct: the cleanup time of each buffered record. */
export function intervalTimersOf(spec: IntervalJoinSpec, state: IntervalJoinState | undefined): number[] {
  const times = new Set<number>();
  for (const r of state?.l ?? []) times.add(cleanupTimeOf(spec, 'left', r.t));
  for (const r of state?.r ?? []) times.add(cleanupTimeOf(spec, 'right', r.t));
  return [...times].sort((a, b) => a - b);
}

function unmatched(side: 'left' | 'right', value: unknown, timestamp: number): JoinedPair {
  return side === 'left' ? { left: value, right: null, timestamp } : { left: null, right: value, timestamp };
}

function stateOf(s: IntervalJoinState): IntervalJoinState | undefined {
  return s.l.length === 0 && s.r.length === 0 ? undefined : s;
}
