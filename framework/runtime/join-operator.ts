/**
 * Runs a join node inside a stage: the glue between the pure join operators (join/) and the task's
 * state and timers. A join keeps one state entry per key (`joinStateName`): the table's row, the
 * interval join's buffers, or the window join's windows. Its timers are derived from that entry
 * (joinTimerSource), so they commit with the batch, roll back with a failed record and come back
 * with a cold start like every other timer; nothing here is stored on its own.
 */
import type { JoinNode } from '../dsl/plan.js';
import type { TimerEntry } from '../commit/ports.js';
import type { TaskState } from '../state/task-state.js';
import type { TaskTimers, TimerSource } from '../time/task-timers.js';
import { onElement, onEventTime, timersOf, type KeyWindowsState } from '../time/window-operator.js';
import { joinStateName } from '../topology/names.js';
import { intervalTimersOf, onJoinElement, onJoinEventTime, type IntervalJoinState } from '../join/interval-join.js';
import { joinWithRow, rowAfter } from '../join/table-join.js';
import { windowJoinSpec, type SideValue, type WindowJoinPair } from '../join/window-join.js';
import type { Element } from './element.js';

/** What one element did to a join: results to pass on, and whether it was late (for the late topic). */
export interface JoinStep {
  readonly results: Element[];
  readonly late: boolean;
}

/** The timers of a join node, derived from its state entry; undefined for stream-table joins (they have none). */
export function joinTimerSource(node: JoinNode): TimerSource | undefined {
  const { spec } = node;
  const name = joinStateName(node);
  if (spec.kind === 'interval') return { name, kind: 'window', derive: (bytes) => ({ eventTime: intervalTimersOf(spec, parse<IntervalJoinState>(bytes)), processingTime: [] }) };
  if (spec.kind === 'window') {
    const windows = windowJoinSpec(spec);
    return { name, kind: 'window', derive: (bytes) => timersOf(windows, parse<KeyWindowsState>(bytes)) };
  }
  return undefined;
}

/** Runs one element of the join's `sides` (both for a self-join) at the task's `watermark`. */
export function joinElement(node: JoinNode, state: TaskState, timers: TaskTimers | undefined, el: Element, sides: ReadonlyArray<'left' | 'right'>, watermark: number): JoinStep {
  const key = el.keyBytes!;
  const name = joinStateName(node);
  const entry = new Entry(state, timers, key, name);
  const { spec } = node;
  const results: Element[] = [];
  let late = false;
  for (const side of sides) {
    if (spec.kind === 'table') {
      if (side === 'right') {
        entry.set(rowAfter(el.value));
      } else {
        const pair = joinWithRow(spec, el.value, entry.get());
        if (pair) results.push(result(el, pair, el.timestamp));
      }
    } else if (spec.kind === 'interval') {
      const res = onJoinElement(spec, entry.get() as IntervalJoinState | undefined, side, el.value, el.timestamp, watermark);
      late ||= res.late;
      if (!res.late) entry.set(res.state);
      results.push(...res.results.map((p) => result(el, p, p.timestamp)));
    } else {
      const res = onElement(windowJoinSpec(spec), entry.get() as KeyWindowsState | undefined, { s: side === 'left' ? 'l' : 'r', v: el.value } satisfies SideValue, el.timestamp, watermark, 0, el.key);
      late ||= res.late;
      if (!res.late) entry.set(res.state);
      results.push(...res.firings.map((f) => windowResult(el, f.value, f.window, f.firing)));
    }
  }
  return { results, late };
}

/** A due event-time timer of the join at `timer.time`: what leaves the key's state, and what that emits. */
export function joinTimer(node: JoinNode, state: TaskState, timers: TaskTimers | undefined, timer: TimerEntry, base: Element, watermark: number): Element[] {
  const { spec } = node;
  const entry = new Entry(state, timers, timer.key, joinStateName(node));
  if (spec.kind === 'interval') {
    const res = onJoinEventTime(spec, entry.get() as IntervalJoinState | undefined, timer.time);
    entry.set(res.state);
    return res.results.map((p) => result(base, p, p.timestamp));
  }
  if (spec.kind === 'window') {
    const res = onEventTime(windowJoinSpec(spec), entry.get() as KeyWindowsState | undefined, timer.time, watermark, base.key);
    entry.set(res.state);
    return res.firings.map((f) => windowResult(base, f.value, f.window, f.firing));
  }
  return [];
}

/** A join result flows on with the element's key and origin, at the result's event time. */
function result(el: Element, pair: { left: unknown; right: unknown }, timestamp: number): Element {
  return { ...el, timestamp, value: { key: el.key, left: pair.left, right: pair.right } };
}

function windowResult(el: Element, pair: WindowJoinPair, window: { start: number; end: number }, firing: string): Element {
  return { ...el, timestamp: window.end - 1, value: { key: el.key, left: pair.left, right: pair.right, window: { start: window.start, end: window.end }, firing } };
}

/** One key's join state entry, as JSON; writing it refreshes the timers derived from it. */
class Entry {
  constructor(
    private readonly state: TaskState,
    private readonly timers: TaskTimers | undefined,
    private readonly key: Buffer,
    private readonly name: string,
  ) {}

  get(): unknown {
    const v = this.state.get(this.key, this.name);
    return v ? JSON.parse(v.bytes.toString('utf8')) : undefined;
  }

  set(value: unknown): void {
    this.state.put(this.key, this.name, value === undefined ? undefined : { bytes: Buffer.from(JSON.stringify(value)), expiresAt: undefined });
    this.timers?.refresh(this.key, this.name);
  }
}

function parse<T>(bytes: Buffer): T {
  return JSON.parse(bytes.toString('utf8')) as T;
}
