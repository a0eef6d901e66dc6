/**
 * What a join is, as plain data: the plan keeps a JoinSpec per join node, the compiler validates
 * it, the runtime hands it to the pure operators (table-join.ts, interval-join.ts, window-join.ts),
 * and topology descriptions print it. docs/joins.md describes every kind's semantics.
 */
import { ConfigError } from '../errors.js';
import type { Duration } from '../time/duration.js';
import { parseDuration } from '../time/duration.js';
import type { WindowAssigner } from '../time/windows.js';

/** Which unmatched records a join emits: none (inner), its left side's, its right side's, or both (outer). */
export type JoinType = 'inner' | 'left' | 'right' | 'outer';

/** A stream joined with the table's current row for its key (processing order, not versioned). */
export interface TableJoinSpec {
  readonly kind: 'table';
  /** `left` also emits stream records whose key has no row (with `right: null`). */
  readonly type: 'inner' | 'left';
  /** The state the table's rows are kept in (queryable with `sluice state get`). */
  readonly state: string;
}

/** Two keyed streams joined when right.time − left.time lies in [lowerMs, upperMs] (event time). */
export interface IntervalJoinSpec {
  readonly kind: 'interval';
  readonly type: JoinType;
  readonly lowerMs: number;
  readonly upperMs: number;
}

/** Two keyed streams joined within the same event-time window. */
export interface WindowJoinSpec {
  readonly kind: 'window';
  readonly type: JoinType;
  readonly assigner: WindowAssigner;
  readonly allowedLatenessMs: number;
}

/** Any join. */
export type JoinSpec = TableJoinSpec | IntervalJoinSpec | WindowJoinSpec;

/** A signed duration: `'-5m'`, `'+10s'`, `'0s'`, or a number of milliseconds. */
export type SignedDuration = Duration | `-${number}${'ms' | 's' | 'm' | 'h' | 'd'}` | `+${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

/** Milliseconds of a signed duration; throws ConfigError naming `field` otherwise. */
export function parseSignedDuration(d: SignedDuration, field: string): number {
  if (typeof d === 'number') {
    if (!Number.isSafeInteger(d)) throw new ConfigError(`${field}: ${d} is not a whole number of milliseconds`, { field }, "use a duration such as '-5m' or '+10s'");
    return d;
  }
  const sign = d.startsWith('-') ? -1 : 1;
  const rest = d.startsWith('-') || d.startsWith('+') ? d.slice(1) : d;
  return sign * parseDuration(rest as Duration, field);
}

/** Throws ConfigError naming `stage` and the field unless the join can run. */
export function validateJoinSpec(spec: JoinSpec, stage: string): void {
  const types: readonly string[] = spec.kind === 'table' ? ['inner', 'left'] : ['inner', 'left', 'right', 'outer'];
  if (!types.includes(spec.type)) {
    throw new ConfigError(`join type "${String(spec.type)}" is not one of ${types.join(', ')}`, { stage, field: 'type' }, spec.kind === 'table' ? 'a stream-table join is inner or left (the table side has no records of its own to emit)' : undefined);
  }
  if (spec.kind === 'interval') {
    if (!Number.isSafeInteger(spec.lowerMs) || !Number.isSafeInteger(spec.upperMs)) {
      throw new ConfigError('intervalJoin bounds must be whole milliseconds', { stage, field: 'lower' });
    }
    if (spec.lowerMs > spec.upperMs) {
      throw new ConfigError(`intervalJoin lower bound ${spec.lowerMs} ms is after its upper bound ${spec.upperMs} ms: no pair can match`, { stage, field: 'lower' }, "give lower ≤ upper, e.g. { lower: '-5m', upper: '+10m' }");
    }
  }
  if (spec.kind === 'window') {
    if (spec.assigner.kind === 'global') {
      throw new ConfigError('windowJoin needs windows that end: a global window never fires by event time', { stage, field: 'window' }, 'use tumbling, sliding or session windows');
    }
    if (!Number.isSafeInteger(spec.allowedLatenessMs) || spec.allowedLatenessMs < 0) {
      throw new ConfigError(`allowedLateness: ${String(spec.allowedLatenessMs)}ms is not a duration`, { stage, field: 'allowedLateness' });
    }
  }
}

/** Whether the join's unmatched left (right) records are emitted: such a side tracks which of its records matched. */
export function emitsUnmatched(type: JoinType, side: 'left' | 'right'): boolean {
  return type === 'outer' || type === side;
}

/** Label of a join for topology descriptions, e.g. `intervalJoin[-5m, +10m] left`. */
export function joinSpecName(spec: JoinSpec): string {
  switch (spec.kind) {
    case 'table':
      return `join(${spec.state}) ${spec.type}`;
    case 'interval':
      return `intervalJoin[${signed(spec.lowerMs)}, ${signed(spec.upperMs)}] ${spec.type}`;
    case 'window': {
      const a = spec.assigner;
      const w = a.kind === 'tumbling' ? `tumbling ${ms(a.sizeMs)}` : a.kind === 'sliding' ? `sliding ${ms(a.sizeMs)} every ${ms(a.slideMs)}` : a.kind === 'session' ? `session gap ${ms(a.gapMs)}` : 'global';
      return `windowJoin(${w}${spec.allowedLatenessMs > 0 ? `, lateness ${ms(spec.allowedLatenessMs)}` : ''}) ${spec.type}`;
    }
  }
}

function signed(v: number): string {
  return v < 0 ? `-${ms(-v)}` : `+${ms(v)}`;
}

function ms(v: number): string {
  for (const [unit, per] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (v !== 0 && v % per === 0) return `${v / per}${unit}`;
  }
  return `${v}ms`;
}
