/**
 * The types joins give users: options per join kind and result records whose sides are nullable
 * exactly where the join type can leave them unmatched, so `left.amount` on an outer join's result
 * is a compile error until the code checks for null.
 */
import type { JoinType, SignedDuration } from '../join/spec.js';
import type { Duration } from '../time/duration.js';

export type { JoinType, SignedDuration } from '../join/spec.js';

/** The left side of a result: null only when the join emits unmatched right records. */
export type LeftOf<L, J extends JoinType> = J extends 'right' | 'outer' ? L | null : L;
/** The right side of a result: null only when the join emits unmatched left records. */
export type RightOf<R, J extends JoinType> = J extends 'left' | 'outer' ? R | null : R;

/** One join result: the key and the two records (or rows) that met. */
export interface JoinResult<K, L, R> {
  readonly key: K;
  readonly left: L;
  readonly right: R;
}

/** One result of a window join: the pair, and the window whose firing emitted it. */
export interface WindowJoinResult<K, L, R> extends JoinResult<K, L, R> {
  readonly window: { readonly start: number; readonly end: number };
  /** `on-time` when the watermark passed the window's end; `late` when allowed lateness let a record re-fire it. */
  readonly firing: 'on-time' | 'late';
}

/** Options of a stream-table join. */
export interface TableJoinOptions<J extends 'inner' | 'left'> {
  /** `inner` (default): only records whose key has a row; `left`: every record, `right: null` without a row. */
  readonly type?: J;
}

/** Options of an interval join: `right.time − left.time` must lie in [lower, upper]. */
export interface IntervalJoinOptions<J extends JoinType> {
  /** E.g. `'-5m'`: a right record may be up to 5 minutes older than the left one. */
  readonly lower: SignedDuration;
  /** E.g. `'+10m'`: a right record may be up to 10 minutes newer than the left one. */
  readonly upper: SignedDuration;
  /** `inner` (default); `left`/`right`/`outer` also emit the unmatched side once the watermark proves no match can come. */
  readonly type?: J;
  /** Topic records arriving behind the watermark go to (default `<app>.<stage>.late`). Never dropped. */
  readonly late?: string;
}

/** Options of a window join. */
export interface WindowJoinOptions<J extends JoinType> {
  /** `inner` (default); `left`/`right`/`outer` also emit records of a window that has none of the other side. */
  readonly type?: J;
  /** How long after a window's end late records still join it (and re-fire it whole). Default 0. */
  readonly allowedLateness?: Duration;
  /** Topic records too late for every window go to (default `<app>.<stage>.late`). Never dropped. */
  readonly late?: string;
}
