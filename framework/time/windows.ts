/**
 * Window assigners: which windows an element belongs to, given its event time. An assigner is a
 * plain JSON-describable value (sizes in ms) that a user passes to `window()`; the topology
 * compiler describes it and the window operator asks `assignWindows` where an element goes.
 *
 * A window is half-open, [start, end) in epoch ms; the last timestamp it holds is `end - 1`
 * (its maxTimestamp), the event time at which it is complete. Tumbling and sliding windows are
 * aligned to the epoch plus an offset, for negative timestamps too (floor, not truncation).
 */
import { ConfigError } from '../errors.js';
import { parseDuration } from './duration.js';
import type { Duration } from './duration.js';
import type { Trigger } from './triggers.js';
import { validateTrigger } from './triggers.js';

/** A window of event time: half-open [start, end) in epoch milliseconds. */
export interface TimeWindow {
  readonly start: number;
  readonly end: number;
}

/** Fixed-size, non-overlapping windows: [k·size + offset, (k+1)·size + offset). */
export interface TumblingWindows {
  readonly kind: 'tumbling';
  readonly sizeMs: number;
  /** Shifts the window grid; 0 ≤ offset < size. */
  readonly offsetMs: number;
}

/** Fixed-size windows starting every `slide`: an element is in about size/slide of them. */
export interface SlidingWindows {
  readonly kind: 'sliding';
  readonly sizeMs: number;
  /** 0 < slide ≤ size (a longer slide would leave records in no window, see `sliding`). */
  readonly slideMs: number;
  /** Shifts the window grid; 0 ≤ offset < slide. */
  readonly offsetMs: number;
}

/** Per-key activity sessions: a session closes after `gap` without elements. */
export interface SessionWindows {
  readonly kind: 'session';
  readonly gapMs: number;
}

/** One window per key spanning all of time; only its trigger makes it emit. */
export interface GlobalWindows {
  readonly kind: 'global';
  readonly trigger: Trigger;
}

/** Any window assigner. */
export type WindowAssigner = TumblingWindows | SlidingWindows | SessionWindows | GlobalWindows;

/** The one window of a global assigner. Safe integers rather than ±Infinity, so state stays JSON. */
export const GLOBAL_WINDOW: TimeWindow = Object.freeze({ start: Number.MIN_SAFE_INTEGER, end: Number.MAX_SAFE_INTEGER });

/** The last timestamp `window` holds; its event-time timer is due when the watermark reaches it. */
export function maxTimestamp(window: TimeWindow): number {
  return window.end - 1;
}

/** Tumbling windows of `size`; `offset` shifts the grid (e.g. `'2h'` for days starting 02:00 UTC). */
export function tumbling(size: Duration, options: { offset?: Duration } = {}): TumblingWindows {
  const assigner: TumblingWindows = {
    kind: 'tumbling',
    sizeMs: parseDuration(size, 'window.size'),
    offsetMs: parseDuration(options.offset ?? 0, 'window.offset'),
  };
  validateAssigner(assigner);
  return assigner;
}

/**
 * Sliding windows of `size` starting every `slide`. A slide longer than the size is rejected:
 * records between two windows would belong to none and be dropped without a trace (Flink allows
 * it for sampling; here nothing is dropped silently — filter the records instead).
 */
export function sliding(size: Duration, slide: Duration, options: { offset?: Duration } = {}): SlidingWindows {
  const assigner: SlidingWindows = {
    kind: 'sliding',
    sizeMs: parseDuration(size, 'window.size'),
    slideMs: parseDuration(slide, 'window.slide'),
    offsetMs: parseDuration(options.offset ?? 0, 'window.offset'),
  };
  validateAssigner(assigner);
  return assigner;
}

/** Session windows: each element opens [t, t + gap); windows of a key that overlap or touch merge. */
export function session(gap: Duration): SessionWindows {
  const assigner: SessionWindows = { kind: 'session', gapMs: parseDuration(gap, 'window.gap') };
  validateAssigner(assigner);
  return assigner;
}

/** One window per key for all of time, emitting when `trigger` says (e.g. `countTrigger(100)`). */
export function globalWindow(trigger: Trigger): GlobalWindows {
  const assigner: GlobalWindows = { kind: 'global', trigger };
  validateAssigner(assigner);
  return assigner;
}

/**
 * The windows an element with event time `timestamp` belongs to, by ascending start. For session
 * windows this is the element's own window [t, t + gap), before merging with the key's sessions.
 * Throws RangeError unless `timestamp` is a safe integer (ms): a fractional or missing event
 * time would land beyond its window's maxTimestamp or in no window at all.
 */
export function assignWindows(assigner: WindowAssigner, timestamp: number): TimeWindow[] {
  if (!Number.isSafeInteger(timestamp)) {
    throw new RangeError(`event time ${String(timestamp)} is not a whole number of milliseconds`);
  }
  switch (assigner.kind) {
    case 'tumbling': {
      const start = windowStart(timestamp, assigner.offsetMs, assigner.sizeMs);
      return [{ start, end: start + assigner.sizeMs }];
    }
    case 'sliding': {
      const windows: TimeWindow[] = [];
      const last = windowStart(timestamp, assigner.offsetMs, assigner.slideMs);
      for (let start = last; start > timestamp - assigner.sizeMs; start -= assigner.slideMs) {
        windows.push({ start, end: start + assigner.sizeMs });
      }
      return windows.reverse();
    }
    case 'session':
      return [{ start: timestamp, end: timestamp + assigner.gapMs }];
    case 'global':
      return [GLOBAL_WINDOW];
  }
}

/** Whether windows of this assigner merge (session windows). */
export function isMerging(assigner: WindowAssigner): assigner is SessionWindows {
  return assigner.kind === 'session';
}

/** Throws ConfigError naming `stage` (when known) and the field unless the assigner is well-formed. */
export function validateAssigner(assigner: WindowAssigner, stage?: string): void {
  const bad = (field: string, message: string, hint: string): never => {
    throw new ConfigError(`${field}: ${message}`, { stage, field }, hint);
  };
  const positive = (ms: number, field: string): void => {
    if (!Number.isSafeInteger(ms) || ms <= 0) bad(field, `must be at least 1ms, got ${String(ms)}`, "give a positive duration such as '1m'");
  };
  const offsetBelow = (offset: number, limit: number, of: string): void => {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= limit) {
      bad('window.offset', `${String(offset)}ms must be at least 0 and less than the ${of} (${limit}ms)`, `an offset works modulo the ${of}: for a negative offset -x use ${of} - x`);
    }
  };
  const kind = (assigner as { kind?: unknown }).kind;
  switch (assigner.kind) {
    case 'tumbling':
      positive(assigner.sizeMs, 'window.size');
      offsetBelow(assigner.offsetMs, assigner.sizeMs, 'size');
      return;
    case 'sliding':
      positive(assigner.sizeMs, 'window.size');
      positive(assigner.slideMs, 'window.slide');
      if (assigner.slideMs > assigner.sizeMs) {
        bad(
          'window.slide',
          `a slide of ${assigner.slideMs}ms is longer than the window size (${assigner.sizeMs}ms), so records between windows would belong to none`,
          'use a slide no longer than the size (equal is a tumbling window); to sample, filter the records instead',
        );
      }
      offsetBelow(assigner.offsetMs, assigner.slideMs, 'slide');
      return;
    case 'session':
      positive(assigner.gapMs, 'window.gap');
      return;
    case 'global': {
      const { trigger } = assigner;
      validateTrigger(trigger, 'window.trigger', stage);
      if (trigger.kind === 'event-time' && trigger.earlyEveryRecords === undefined && trigger.earlyEveryMs === undefined) {
        // The global window never ends, so the watermark never fires it.
        bad('window.trigger', 'an event-time trigger without early firings never fires a global window', 'use countTrigger(n), or eventTimeTrigger({ early: { everyMs } }) for periodic results');
      }
      return;
    }
    default:
      bad('window', `unknown window kind ${JSON.stringify(kind)}`, 'use tumbling(), sliding(), session() or globalWindow()');
  }
}

/** Start of the window of length `every` (grid shifted by `offset`) holding `t`: floor, also below 0. */
function windowStart(t: number, offset: number, every: number): number {
  const into = (((t - offset) % every) + every) % every;
  return t - into + 0; // + 0 turns -0 into 0
}
