/**
 * The window operator of one key, as a pure state machine (Flink's WindowOperator): an element,
 * or a due event-time or processing-time timer, goes in with the current watermark; the key's new
 * window state, the windows' firings and the key's timer changes come out. No I/O and no clock:
 * the runtime stores state and timers, and calls back here when a timer is due.
 *
 * Invariants kept:
 * - an element is late (reported, never dropped) iff every window it belongs to has
 *   maxTimestamp + allowedLateness <= watermark; otherwise it is added to every window that has not;
 * - a window fires 'on-time' at most once, when event time reaches its maxTimestamp, and its state
 *   lives until its cleanup time, maxTimestamp + allowedLateness;
 * - the key's timers are exactly `timersOf(spec, state)`: every call returns the difference between
 *   the timers of the state it was given and those of the state it returns (so a time is one timer
 *   however many windows need it), less the due timers the call consumed.
 * Inputs are never mutated; state and timer times are JSON-safe numbers.
 */
import type { AggregateFunction } from '../dsl/aggregate.js';
import { ConfigError } from '../errors.js';
import type { Duration } from './duration.js';
import type { FiringKind, Trigger, TriggerSpec, TriggerWindow } from './triggers.js';
import { earlyTimerAfterElement, fireOnElement, fireOnEventTime, fireOnProcessingTime, triggerEventTimer, windowTrigger } from './triggers.js';
import type { TimeWindow, WindowAssigner } from './windows.js';
import { assignWindows, isMerging, validateAssigner } from './windows.js';

/** What a window computes: an incremental aggregate, or a function over all of its records. */
export type WindowFunction<IN, ACC, OUT> =
  | { readonly kind: 'aggregate'; readonly aggregate: AggregateFunction<IN, ACC, OUT> }
  | { readonly kind: 'process'; readonly process: (key: unknown, window: TimeWindow, values: readonly IN[]) => Iterable<OUT> };

/** A windowed computation: which windows, how late data may be, when windows emit, and what they compute. */
export interface WindowSpec<IN, ACC, OUT> {
  readonly assigner: WindowAssigner;
  /** How long after a window's maxTimestamp (in event time) late elements still update and re-fire it. */
  readonly allowedLatenessMs: number;
  /** Early firings of the event-time trigger of time windows (a global window has its own trigger). */
  readonly trigger?: TriggerSpec;
  readonly fn: WindowFunction<IN, ACC, OUT>;
}

/** The part of a spec that places windows in time: which windows, and how long they stay open. */
export type WindowPlacement = Pick<WindowSpec<unknown, unknown, unknown>, 'assigner' | 'allowedLatenessMs'>;

/** One open window of a key. */
export interface WindowState {
  readonly start: number;
  readonly end: number;
  /** Accumulator (aggregate windows). */
  readonly acc?: unknown;
  /** Records in arrival order (process windows; merged sessions in session order). */
  readonly values?: readonly unknown[];
  /** Records in the window. */
  readonly count: number;
  /** Records added since the window last fired (drives early and count firings). */
  readonly sinceFiring: number;
  /** A non-early firing happened (on-time, late, or count): later elements within lateness fire 'late'. */
  readonly fired: boolean;
  /** Pending early-firing processing-time timer, or null. */
  readonly earlyTimer: number | null;
}

/** The open windows of one key, by ascending start (then end). JSON-serialisable. */
export interface KeyWindowsState {
  readonly windows: readonly WindowState[];
}

/** One result a window emitted. */
export interface WindowFiring<OUT> {
  readonly window: TimeWindow;
  readonly value: OUT;
  readonly firing: FiringKind;
}

/** Timers of the key to register and delete, by time, ascending; each list has distinct times. */
export interface TimerChanges {
  readonly setEventTime: number[];
  readonly deleteEventTime: number[];
  readonly setProcessingTime: number[];
  readonly deleteProcessingTime: number[];
}

/** What a timer call produced; `state` undefined means the key has no open window (delete its state). */
export interface WindowTimerResult<OUT> {
  readonly state: KeyWindowsState | undefined;
  readonly firings: WindowFiring<OUT>[];
  readonly timers: TimerChanges;
}

/** What an element produced; `late` means it belongs to no window still open: route it to the late output. */
export interface WindowElementResult<OUT> extends WindowTimerResult<OUT> {
  readonly late: boolean;
}

/**
 * Adds an element with event time `timestamp` to its windows. Late elements leave the state
 * unchanged (the same object is returned). `processingTime` only arms early-firing timers;
 * `key` is handed to process functions.
 */
export function onElement<IN, ACC, OUT>(
  spec: WindowSpec<IN, ACC, OUT>,
  state: KeyWindowsState | undefined,
  value: IN,
  timestamp: number,
  watermark: number,
  processingTime: number,
  key: unknown,
): WindowElementResult<OUT> {
  const trigger = windowTrigger(spec.assigner, spec.trigger);
  const before = state?.windows ?? [];
  const open = (w: TimeWindow): boolean => spec.assigner.kind === 'global' || cleanupTime(spec, w) > watermark;

  // Where the element goes: its windows still open, or for sessions the one merged window.
  let rest: WindowState[];
  let targets: WindowState[];
  if (isMerging(spec.assigner)) {
    const own = assignWindows(spec.assigner, timestamp)[0]!;
    // Windows that overlap or touch the element's own merge with it (as Flink's TimeWindow.intersects).
    const overlapping = before.filter((w) => w.start <= own.end && w.end >= own.start);
    const merged = { start: Math.min(own.start, ...overlapping.map((w) => w.start)), end: Math.max(own.end, ...overlapping.map((w) => w.end)) };
    if (!open(merged)) return lateResult(state);
    rest = before.filter((w) => !overlapping.includes(w));
    targets = [mergeWindows(spec, overlapping, merged)];
  } else {
    const assigned = assignWindows(spec.assigner, timestamp).filter(open);
    if (assigned.length === 0) return lateResult(state);
    const isAssigned = (w: TimeWindow): boolean => assigned.some((a) => a.start === w.start && a.end === w.end);
    rest = before.filter((w) => !isAssigned(w));
    targets = assigned.map((a) => before.find((w) => w.start === a.start && w.end === a.end) ?? emptyWindow(spec, a));
  }

  const firings: WindowFiring<OUT>[] = [];
  const after = [...rest];
  for (const target of targets) {
    let w = addValue(spec, target, value);
    const decision = fireOnElement(trigger, view(spec, w), watermark);
    if (decision) {
      firings.push(...emit(spec, w, decision.firing, key));
      if (decision.purge) continue;
      w = afterFiring(w, decision.firing);
    }
    const earlyTimer = earlyTimerAfterElement(trigger, view(spec, w), w.earlyTimer, watermark, processingTime);
    after.push(earlyTimer === w.earlyTimer ? w : { ...w, earlyTimer });
  }
  const next = stateOf(after);
  return { state: next, firings, late: false, timers: timerChanges(spec, trigger, state, next, {}) };
}

/**
 * Event time reached `time` (an event-time timer of the key at `time` is due; `watermark` ≥ time):
 * fires 'on-time' every window whose maxTimestamp ≤ time, then drops every window whose cleanup
 * time ≤ time. The runtime deletes the key's event-time timers ≤ time; they are not listed.
 */
export function onEventTime<IN, ACC, OUT>(spec: WindowSpec<IN, ACC, OUT>, state: KeyWindowsState | undefined, time: number, watermark: number, key: unknown): WindowTimerResult<OUT> {
  if (time > watermark) throw new RangeError(`event-time timer ${time} fired before the watermark reached it (watermark ${watermark})`);
  const trigger = windowTrigger(spec.assigner, spec.trigger);
  const firings: WindowFiring<OUT>[] = [];
  const after: WindowState[] = [];
  for (let w of state?.windows ?? []) {
    const decision = fireOnEventTime(trigger, view(spec, w), time);
    if (decision) {
      firings.push(...emit(spec, w, decision.firing, key));
      if (decision.purge) continue;
      w = afterFiring(w, decision.firing);
    }
    if (spec.assigner.kind !== 'global' && cleanupTime(spec, w) <= time) continue;
    after.push(w);
  }
  const next = stateOf(after);
  return { state: next, firings, timers: timerChanges(spec, trigger, state, next, { eventTime: time }) };
}

/**
 * Processing time reached `time` (a processing-time timer of the key at `time` is due): fires
 * 'early' every window whose early-firing timer is due and that got records since it last fired.
 * The runtime deletes the key's processing-time timers ≤ time; they are not listed.
 */
export function onProcessingTime<IN, ACC, OUT>(spec: WindowSpec<IN, ACC, OUT>, state: KeyWindowsState | undefined, time: number, watermark: number, key: unknown): WindowTimerResult<OUT> {
  const trigger = windowTrigger(spec.assigner, spec.trigger);
  const firings: WindowFiring<OUT>[] = [];
  const after: WindowState[] = [];
  for (let w of state?.windows ?? []) {
    if (w.earlyTimer !== null && w.earlyTimer <= time) {
      w = { ...w, earlyTimer: null };
      const decision = fireOnProcessingTime(trigger, view(spec, w), watermark);
      if (decision) {
        firings.push(...emit(spec, w, decision.firing, key));
        if (decision.purge) continue;
        w = afterFiring(w, decision.firing);
      }
    }
    after.push(w);
  }
  const next = stateOf(after);
  return { state: next, firings, timers: timerChanges(spec, trigger, state, next, { processingTime: time }) };
}

/** Every timer the key's windows need, ascending: on-time and cleanup (event time), early firings (processing time). */
export function timersOf(spec: WindowPlacement & { readonly trigger?: TriggerSpec }, state: KeyWindowsState | undefined): { eventTime: number[]; processingTime: number[] } {
  const { eventTime, processingTime } = timerSets(spec, windowTrigger(spec.assigner, spec.trigger), state);
  return { eventTime: ascending(eventTime), processingTime: ascending(processingTime) };
}

/** When a window's state is dropped: maxTimestamp + allowed lateness (capped to stay a safe integer). */
export function cleanupTime(spec: WindowPlacement, window: TimeWindow): number {
  return Math.min(window.end - 1 + spec.allowedLatenessMs, Number.MAX_SAFE_INTEGER);
}

/** Label of a window spec for topology descriptions, e.g. `tumbling 1m, lateness 10s, early every 5s, aggregate count`. */
export function windowSpecName<IN, ACC, OUT>(spec: WindowSpec<IN, ACC, OUT>): string {
  const a = spec.assigner;
  const offset = (ms: number): string => (ms === 0 ? '' : ` offset ${formatDuration(ms)}`);
  const parts: string[] = [];
  switch (a.kind) {
    case 'tumbling':
      parts.push(`tumbling ${formatDuration(a.sizeMs)}${offset(a.offsetMs)}`);
      break;
    case 'sliding':
      parts.push(`sliding ${formatDuration(a.sizeMs)} every ${formatDuration(a.slideMs)}${offset(a.offsetMs)}`);
      break;
    case 'session':
      parts.push(`session gap ${formatDuration(a.gapMs)}`);
      break;
    case 'global':
      parts.push('global');
      if (a.trigger.kind === 'count') parts.push(`${a.trigger.purge ? 'fire and purge' : 'fire'} every ${a.trigger.count} records`);
      else parts.push(earlyLabel(a.trigger.earlyEveryRecords, a.trigger.earlyEveryMs));
      break;
  }
  if (spec.allowedLatenessMs > 0) parts.push(`lateness ${formatDuration(spec.allowedLatenessMs)}`);
  const early = spec.trigger?.early;
  if (early && (early.everyRecords !== undefined || early.everyMs !== undefined)) parts.push(earlyLabel(early.everyRecords, early.everyMs));
  parts.push(spec.fn.kind === 'aggregate' ? `aggregate ${spec.fn.aggregate.name}` : 'process');
  return parts.join(', ');
}

/** Throws ConfigError naming `stage` and the field unless the spec can run. */
export function validateWindowSpec<IN, ACC, OUT>(spec: WindowSpec<IN, ACC, OUT>, stage: string): void {
  validateAssigner(spec.assigner, stage);
  const lateness = spec.allowedLatenessMs;
  if (!Number.isSafeInteger(lateness) || lateness < 0) {
    throw new ConfigError(`allowedLateness: ${String(lateness)}ms is not a duration`, { stage, field: 'allowedLateness' }, "use 0 or a positive duration such as '10s'");
  }
  if (spec.assigner.kind === 'global' && lateness > 0) {
    throw new ConfigError('allowedLateness: a global window never ends, so no record is late for it', { stage, field: 'allowedLateness' }, 'remove allowedLateness');
  }
  windowTrigger(spec.assigner, spec.trigger, stage);
  const fn = spec.fn as { kind?: unknown; aggregate?: Partial<AggregateFunction<unknown, unknown, unknown>>; process?: unknown };
  if (fn.kind === 'aggregate') {
    if (isMerging(spec.assigner) && typeof fn.aggregate?.merge !== 'function') {
      throw new ConfigError(
        `aggregate.merge: aggregate "${String(fn.aggregate?.name)}" has no merge(), which session windows need to merge sessions`,
        { stage, field: 'aggregate.merge' },
        'add merge(a, b) to the AggregateFunction, or use process(), which concatenates the records of merged sessions',
      );
    }
  } else if (fn.kind !== 'process' || typeof fn.process !== 'function') {
    throw new ConfigError('fn: a window needs an aggregate or a process function', { stage, field: 'fn' }, 'finish the window with .aggregate(fn) or .process(fn)');
  }
}

function emptyWindow<IN, ACC, OUT>(spec: WindowSpec<IN, ACC, OUT>, w: TimeWindow): WindowState {
  const contents = spec.fn.kind === 'aggregate' ? { acc: spec.fn.aggregate.createAccumulator() } : { values: [] };
  return { start: w.start, end: w.end, ...contents, count: 0, sinceFiring: 0, fired: false, earlyTimer: null };
}

function addValue<IN, ACC, OUT>(spec: WindowSpec<IN, ACC, OUT>, w: WindowState, value: IN): WindowState {
  const contents = spec.fn.kind === 'aggregate' ? { acc: spec.fn.aggregate.add(w.acc as ACC, value) } : { values: [...(w.values ?? []), value] };
  return { ...w, ...contents, count: w.count + 1, sinceFiring: w.sinceFiring + 1 };
}

/** The session `bounds` replacing `windows` (which it covers): contents merged, timers follow from the result. */
function mergeWindows<IN, ACC, OUT>(spec: WindowSpec<IN, ACC, OUT>, windows: readonly WindowState[], bounds: TimeWindow): WindowState {
  const [first, ...others] = windows;
  if (first === undefined) return emptyWindow(spec, bounds);
  // Unchanged bounds: the element fell inside one session, which keeps its firing history.
  if (others.length === 0 && first.start === bounds.start && first.end === bounds.end) return first;
  let contents: { acc: unknown } | { values: unknown[] };
  if (spec.fn.kind === 'aggregate') {
    const { aggregate } = spec.fn;
    const merge = aggregate.merge;
    if (others.length > 0 && merge === undefined) {
      throw new ConfigError(`aggregate.merge: aggregate "${aggregate.name}" has no merge(), which session windows need`, { field: 'aggregate.merge' }, 'add merge(a, b) to the AggregateFunction');
    }
    contents = { acc: others.reduce((acc, w) => merge!(acc, w.acc as ACC), first.acc as ACC) };
  } else {
    contents = { values: windows.flatMap((w) => w.values ?? []) };
  }
  const pending = windows.map((w) => w.earlyTimer).filter((t): t is number => t !== null);
  return {
    start: bounds.start,
    end: bounds.end,
    ...contents,
    count: windows.reduce((n, w) => n + w.count, 0),
    sinceFiring: windows.reduce((n, w) => n + w.sinceFiring, 0),
    // A bigger session is a new window: it fires on time when event time reaches its new end.
    fired: false,
    earlyTimer: pending.length === 0 ? null : Math.min(...pending),
  };
}

function emit<IN, ACC, OUT>(spec: WindowSpec<IN, ACC, OUT>, w: WindowState, firing: FiringKind, key: unknown): WindowFiring<OUT>[] {
  const window = { start: w.start, end: w.end };
  if (spec.fn.kind === 'aggregate') return [{ window, value: spec.fn.aggregate.getResult(w.acc as ACC), firing }];
  return Array.from(spec.fn.process(key, window, (w.values ?? []) as readonly IN[]), (value) => ({ window, value, firing }));
}

function afterFiring(w: WindowState, firing: FiringKind): WindowState {
  const fired = w.fired || firing !== 'early';
  return { ...w, sinceFiring: 0, fired, earlyTimer: fired ? null : w.earlyTimer };
}

function view(spec: WindowPlacement, w: WindowState): TriggerWindow {
  return { maxTimestamp: w.end - 1, global: spec.assigner.kind === 'global', fired: w.fired, sinceFiring: w.sinceFiring };
}

function stateOf(windows: WindowState[]): KeyWindowsState | undefined {
  return windows.length === 0 ? undefined : { windows: windows.sort((a, b) => a.start - b.start || a.end - b.end) };
}

function lateResult<OUT>(state: KeyWindowsState | undefined): WindowElementResult<OUT> {
  return { state, firings: [], late: true, timers: { setEventTime: [], deleteEventTime: [], setProcessingTime: [], deleteProcessingTime: [] } };
}

function timerSets(spec: WindowPlacement, trigger: Trigger, state: KeyWindowsState | undefined): { eventTime: Set<number>; processingTime: Set<number> } {
  const eventTime = new Set<number>();
  const processingTime = new Set<number>();
  for (const w of state?.windows ?? []) {
    const onTime = triggerEventTimer(trigger, view(spec, w));
    if (onTime !== undefined) eventTime.add(onTime);
    // The global window never ends, so it is never cleaned up by time.
    if (spec.assigner.kind !== 'global') eventTime.add(cleanupTime(spec, w));
    if (w.earlyTimer !== null) processingTime.add(w.earlyTimer);
  }
  return { eventTime, processingTime };
}

/** Difference of the timers of two states; timers at or before a consumed time are the runtime's to delete. */
function timerChanges<IN, ACC, OUT>(
  spec: WindowSpec<IN, ACC, OUT>,
  trigger: Trigger,
  before: KeyWindowsState | undefined,
  after: KeyWindowsState | undefined,
  consumed: { eventTime?: number; processingTime?: number },
): TimerChanges {
  const b = timerSets(spec, trigger, before);
  const a = timerSets(spec, trigger, after);
  const added = (x: Set<number>, y: Set<number>): number[] => ascending([...y].filter((t) => !x.has(t)));
  const removed = (x: Set<number>, y: Set<number>, upTo = Number.NEGATIVE_INFINITY): number[] => ascending([...x].filter((t) => !y.has(t) && t > upTo));
  return {
    setEventTime: added(b.eventTime, a.eventTime),
    deleteEventTime: removed(b.eventTime, a.eventTime, consumed.eventTime),
    setProcessingTime: added(b.processingTime, a.processingTime),
    deleteProcessingTime: removed(b.processingTime, a.processingTime, consumed.processingTime),
  };
}

function ascending(times: Iterable<number>): number[] {
  return [...times].sort((x, y) => x - y);
}

function earlyLabel(everyRecords: number | undefined, everyMs: Duration | number | undefined): string {
  const every = [
    ...(everyRecords !== undefined ? [`${everyRecords} records`] : []),
    ...(everyMs !== undefined ? [typeof everyMs === 'number' ? formatDuration(everyMs) : everyMs] : []),
  ];
  return `early every ${every.join(' or ')}`;
}

/** Milliseconds in the largest unit that divides them exactly: 90000 → `90s`, 3600000 → `1h`. */
function formatDuration(ms: number): string {
  for (const [unit, per] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms !== 0 && ms % per === 0) return `${ms / per}${unit}`;
  }
  return `${ms}ms`;
}
