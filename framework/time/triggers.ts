/**
 * Triggers: when a window emits. A trigger is a plain JSON-describable value (so the compiler can
 * describe it); its decisions are pure functions of one window's bookkeeping and the time given.
 *
 * - Time windows (tumbling, sliding, session) use the event-time trigger: fire once, 'on-time',
 *   when the watermark reaches the window's maxTimestamp; while allowed lateness keeps the window,
 *   fire again, 'late', on every element added after that; optionally fire 'early' (speculative)
 *   results before the end, every N records and/or every D of processing time.
 * - Global windows take their trigger explicitly. `countTrigger(n)` fires every n records and
 *   purges: the window's contents are dropped after the firing, so each firing covers the next n
 *   records. With `{ purge: false }` the window accumulates and every firing covers all records so far.
 *
 * Firings of the event-time trigger never purge (accumulating mode, as in Flink): an early or
 * late firing reports everything the window holds. Window state ends at the cleanup time
 * (maxTimestamp + allowed lateness), which the window operator, not the trigger, enforces.
 */
import { ConfigError } from '../errors.js';
import { parseDuration } from './duration.js';
import type { Duration } from './duration.js';
import type { WindowAssigner } from './windows.js';

/** Why a window emitted: speculatively before its end, when the watermark passed its end, or for late data. */
export type FiringKind = 'early' | 'on-time' | 'late';

/** Early (speculative) firings of a time window before the watermark reaches its end. */
export interface EarlyFirings {
  /** Fire after every this many records added since the window last fired. */
  readonly everyRecords?: number;
  /** Fire at most once per this much processing time, when records arrived since the last firing. */
  readonly everyMs?: Duration;
}

/** What a time window's options say about its trigger: the default event-time trigger, plus early firings. */
export interface TriggerSpec {
  readonly early?: EarlyFirings;
}

/** Fires a window when the watermark passes its end, for late data, and optionally early. */
export interface EventTimeTrigger {
  readonly kind: 'event-time';
  readonly earlyEveryRecords?: number;
  readonly earlyEveryMs?: number;
}

/** Fires every `count` records; with `purge` the window's contents are dropped after each firing. */
export interface CountTrigger {
  readonly kind: 'count';
  readonly count: number;
  readonly purge: boolean;
}

/** Any trigger. */
export type Trigger = EventTimeTrigger | CountTrigger;

/** One window's bookkeeping, as a trigger sees it. */
export interface TriggerWindow {
  readonly maxTimestamp: number;
  /** The global window: it never ends, so it has no on-time or late firings. */
  readonly global: boolean;
  /** A non-early firing happened (on-time or late). */
  readonly fired: boolean;
  /** Records added since the window last fired. */
  readonly sinceFiring: number;
}

/** A trigger's decision to fire a window, and whether to drop the window's contents afterwards. */
export interface TriggerFiring {
  readonly firing: FiringKind;
  readonly purge: boolean;
}

/** The event-time trigger with optional early firings; throws ConfigError for bad early options. */
export function eventTimeTrigger(spec: TriggerSpec = {}): EventTimeTrigger {
  return eventTimeTriggerIn(spec, undefined);
}

/** Fires every `n` records and, unless `purge: false`, drops the window's contents after each firing. */
export function countTrigger(n: number, options: { purge?: boolean } = {}): CountTrigger {
  const trigger: CountTrigger = { kind: 'count', count: n, purge: options.purge ?? true };
  validateTrigger(trigger, 'window.trigger');
  return trigger;
}

/** The trigger a window spec runs: the global window's own, else the event-time trigger with `spec`'s early firings. */
export function windowTrigger(assigner: WindowAssigner, spec: TriggerSpec | undefined, stage?: string): Trigger {
  if (assigner.kind === 'global') {
    if (spec !== undefined) {
      throw new ConfigError('trigger: a global window takes its trigger from globalWindow(trigger)', { stage, field: 'trigger' }, 'remove the trigger option, or pass eventTimeTrigger({ early }) to globalWindow()');
    }
    return assigner.trigger;
  }
  return eventTimeTriggerIn(spec ?? {}, stage);
}

/** Throws ConfigError naming `field` (and `stage` when known) unless the trigger is well-formed. */
export function validateTrigger(trigger: Trigger, field: string, stage?: string): void {
  const kind = (trigger as { kind?: unknown } | undefined)?.kind;
  if (kind === 'count') {
    const { count } = trigger as CountTrigger;
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new ConfigError(`${field}.count: ${String(count)} is not a record count`, { stage, field: `${field}.count` }, 'count at least 1 record');
    }
  } else if (kind === 'event-time') {
    const t = trigger as EventTimeTrigger;
    checkEveryRecords(t.earlyEveryRecords, `${field}.early.everyRecords`, stage);
    if (t.earlyEveryMs !== undefined) checkEveryMs(t.earlyEveryMs, `${field}.early.everyMs`, stage);
  } else {
    throw new ConfigError(`${field}: not a trigger`, { stage, field }, 'use countTrigger(n) or eventTimeTrigger({ early })');
  }
}

/** Decision after an element was added to `window` (the window holds it already). */
export function fireOnElement(trigger: Trigger, window: TriggerWindow, watermark: number): TriggerFiring | undefined {
  if (trigger.kind === 'count') {
    return window.sinceFiring >= trigger.count ? { firing: 'on-time', purge: trigger.purge } : undefined;
  }
  // The watermark already passed the end: the element is late data the lateness let in.
  if (!window.global && watermark >= window.maxTimestamp) return { firing: 'late', purge: false };
  if (!window.fired && trigger.earlyEveryRecords !== undefined && window.sinceFiring >= trigger.earlyEveryRecords) {
    return { firing: 'early', purge: false };
  }
  return undefined;
}

/** Decision when event time reaches `time` (an event-time timer at or before it is due). */
export function fireOnEventTime(trigger: Trigger, window: TriggerWindow, time: number): TriggerFiring | undefined {
  if (trigger.kind !== 'event-time' || window.global || window.fired) return undefined;
  return window.maxTimestamp <= time ? { firing: 'on-time', purge: false } : undefined;
}

/** Decision when the window's early-firing processing-time timer comes due. */
export function fireOnProcessingTime(trigger: Trigger, window: TriggerWindow, watermark: number): TriggerFiring | undefined {
  if (trigger.kind !== 'event-time' || window.fired || window.sinceFiring === 0) return undefined;
  // Once the watermark passed the end, the on-time firing is due: a speculative one would only repeat it.
  if (!window.global && watermark >= window.maxTimestamp) return undefined;
  return { firing: 'early', purge: false };
}

/** Event-time timer the trigger needs for `window`: its maxTimestamp until the on-time firing. */
export function triggerEventTimer(trigger: Trigger, window: TriggerWindow): number | undefined {
  return trigger.kind === 'event-time' && !window.global && !window.fired ? window.maxTimestamp : undefined;
}

/**
 * The early-firing processing-time timer of `window` after an element arrived at `processingTime`:
 * the pending one, else the next multiple of `everyMs` (aligned, so one key's windows share timers);
 * null when no early firing is wanted. Only records re-arm it, so an idle window costs no timers.
 */
export function earlyTimerAfterElement(trigger: Trigger, window: TriggerWindow, pending: number | null, watermark: number, processingTime: number): number | null {
  if (trigger.kind !== 'event-time' || trigger.earlyEveryMs === undefined || window.fired) return null;
  if (!window.global && watermark >= window.maxTimestamp) return null;
  if (pending !== null) return pending;
  if (window.sinceFiring === 0) return null; // just fired early by count: nothing new to report yet
  const every = trigger.earlyEveryMs;
  return Math.floor(processingTime / every) * every + every;
}

function eventTimeTriggerIn(spec: TriggerSpec, stage: string | undefined): EventTimeTrigger {
  const early = spec.early;
  if (early === undefined) return { kind: 'event-time' };
  checkEveryRecords(early.everyRecords, 'trigger.early.everyRecords', stage);
  const everyMs = early.everyMs === undefined ? undefined : durationIn(early.everyMs, 'trigger.early.everyMs', stage);
  if (everyMs !== undefined) checkEveryMs(everyMs, 'trigger.early.everyMs', stage);
  return {
    kind: 'event-time',
    ...(early.everyRecords !== undefined ? { earlyEveryRecords: early.everyRecords } : {}),
    ...(everyMs !== undefined ? { earlyEveryMs: everyMs } : {}),
  };
}

function checkEveryRecords(n: number | undefined, field: string, stage: string | undefined): void {
  if (n !== undefined && (!Number.isSafeInteger(n) || n < 1)) {
    throw new ConfigError(`${field}: ${String(n)} is not a record count`, { stage, field }, 'fire early after at least 1 record, or leave everyRecords out');
  }
}

function checkEveryMs(ms: number, field: string, stage: string | undefined): void {
  if (!Number.isSafeInteger(ms) || ms < 1) {
    throw new ConfigError(`${field}: must be at least 1ms, got ${String(ms)}`, { stage, field }, "give a positive duration such as '10s', or leave everyMs out");
  }
}

/** parseDuration, with the stage named in the error when it is known. */
function durationIn(d: Duration, field: string, stage: string | undefined): number {
  try {
    return parseDuration(d, field);
  } catch (e) {
    if (stage === undefined || !(e instanceof ConfigError)) throw e;
    throw new ConfigError(`${field}: ${typeof d === 'string' ? JSON.stringify(d) : String(d)} is not a duration`, { stage, field }, e.hint);
  }
}
