/**
 * The window join (Flink's `join(...).window(...)`, with coGroup's outer variants) runs on the
 * window operator (time/window-operator.ts): each record goes into its windows tagged with its
 * side, and when a window fires its contents are joined. So assignment, session merging, allowed
 * lateness, late records and timers are the window operator's, tested there; this file only says
 * what a firing window emits. Pure.
 */
import type { TimeWindow } from '../time/windows.js';
import type { WindowSpec } from '../time/window-operator.js';
import type { WindowJoinSpec } from './spec.js';
import { emitsUnmatched } from './spec.js';

/** A record in a join window: which side it came from, and its value. */
export interface SideValue {
  readonly s: 'l' | 'r';
  readonly v: unknown;
}

/** One result of a firing join window: a pair, or an unmatched record with `null` on the other side. */
export interface WindowJoinPair {
  readonly left: unknown;
  readonly right: unknown;
}

/** The window operator's spec for a window join: windows of tagged records, joined when they fire. */
export function windowJoinSpec(spec: WindowJoinSpec): WindowSpec<SideValue, never, WindowJoinPair> {
  return {
    assigner: spec.assigner,
    allowedLatenessMs: spec.allowedLatenessMs,
    fn: { kind: 'process', process: (_key: unknown, _window: TimeWindow, values: readonly SideValue[]) => joinWindow(spec, values) },
  };
}

/** The results of one window's contents: every left × right pair in arrival order, then the unmatched sides the join type asks for. */
export function joinWindow(spec: Pick<WindowJoinSpec, 'type'>, values: readonly SideValue[]): WindowJoinPair[] {
  const lefts = values.filter((x) => x.s === 'l').map((x) => x.v);
  const rights = values.filter((x) => x.s === 'r').map((x) => x.v);
  const out: WindowJoinPair[] = [];
  for (const left of lefts) for (const right of rights) out.push({ left, right });
  // A window with records on one side only: those records are unmatched (within a window, every left meets every right).
  if (rights.length === 0 && emitsUnmatched(spec.type, 'left')) for (const left of lefts) out.push({ left, right: null });
  if (lefts.length === 0 && emitsUnmatched(spec.type, 'right')) for (const right of rights) out.push({ left: null, right });
  return out;
}
