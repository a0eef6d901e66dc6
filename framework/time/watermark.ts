/**
 * Event time of a task, kept in its checkpoint (docs/event-time.md). Pure functions over a
 * JSON-serialisable TimeState:
 *  - a source task's watermark is max event time seen − maxOutOfOrderness;
 *  - a downstream task keeps the latest mark of every upstream task and applies a mark
 *    only once its own data position has passed the mark's fence (otherwise the
 *    watermark could overtake data it covers: data and control topics are read by two
 *    triggers with different lags);
 *  - its event time is the minimum over all upstream tasks of the topology, leaving out
 *    idle ones; a task none of whose inputs is active is idle itself, at the highest of their
 *    watermarks (Flink's flush when the last input goes idle).
 * Invariant: a task's watermark never decreases.
 */
import { MIN_WATERMARK, type WatermarkMark } from './control.js';

/** What a task knows about one upstream task. */
export interface UpstreamState {
  /** Applied watermark. */
  readonly wm: number;
  readonly idle: boolean;
  /** Marks whose fence the data position has not passed yet, fences ascending. */
  readonly queue: ReadonlyArray<{ readonly fence: number; readonly wm: number; readonly idle: boolean }>;
}

/** A task's event-time state, stored in the checkpoint. */
export interface TimeState {
  /** The task's current watermark (its event time). */
  readonly wm: number;
  /** Whether the task counts as idle for its downstream. */
  readonly idle: boolean;
  /** Source tasks: max event time seen. */
  readonly maxTs: number;
  /** Source tasks: processing time of the last data record. */
  readonly lastDataAt: number;
  /** Latest processing time seen (ticks and invocations). */
  readonly now: number;
  /** First processing time the task saw (idleness of a partition that never had data counts from here). */
  readonly since: number;
  /** Downstream tasks: by upstream task id. */
  readonly up: Readonly<Record<string, UpstreamState>>;
  /** Last offset written per downstream data topic and partition (the fences of our marks). */
  readonly written: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** What we last told downstream, and when. */
  readonly sentWm: number;
  readonly sentIdle: boolean;
  readonly sentAt: number;
  /** The task's earliest processing-time timer after its last batch (null: none), for the ticker. */
  readonly procDue: number | null;
}

/** The state of a task that never ran. */
export const INITIAL_TIME: TimeState = {
  wm: MIN_WATERMARK,
  idle: false,
  maxTs: MIN_WATERMARK,
  lastDataAt: MIN_WATERMARK,
  now: MIN_WATERMARK,
  since: MIN_WATERMARK,
  up: {},
  written: {},
  sentWm: MIN_WATERMARK,
  sentIdle: false,
  sentAt: MIN_WATERMARK,
  procDue: null,
};

/** Marks kept per upstream task while their fences are ahead of the data; older ones are merged. */
const MAX_QUEUE = 32;

/** Reads the time state from a checkpoint's extras. */
export function timeStateOf(extra: Readonly<Record<string, unknown>>): TimeState {
  const t = extra['time'] as Partial<TimeState> | undefined;
  return t ? { ...INITIAL_TIME, ...t } : INITIAL_TIME;
}

/** A source task saw data with these event times at processing time `now`. */
export function observeSourceData(s: TimeState, eventTimes: readonly number[], now: number, maxOutOfOrdernessMs: number): TimeState {
  const since = s.since === MIN_WATERMARK ? now : s.since;
  if (eventTimes.length === 0) return { ...s, since, now: Math.max(s.now, now) };
  const maxTs = eventTimes.reduce((a, b) => Math.max(a, b), s.maxTs);
  const wm = Math.max(s.wm, maxTs - maxOutOfOrdernessMs);
  return { ...s, since, maxTs, wm, idle: false, lastDataAt: now, now: Math.max(s.now, now) };
}

/**
 * Whether a source task at processing time `now` has seen no data for `idleTimeoutMs` (its last
 * data, or its first invocation if it never had any): the point where it may turn idle.
 */
export function quietFor(s: TimeState, now: number, idleTimeoutMs: number): boolean {
  const t = Math.max(s.now, now);
  const since = s.since === MIN_WATERMARK ? t : s.since;
  const quietSince = s.lastDataAt === MIN_WATERMARK ? since : s.lastDataAt;
  return t - quietSince >= idleTimeoutMs;
}

/**
 * A source task at processing time `now`: idle once it saw no data for `idleTimeoutMs`, unless
 * its partition still holds records it has not read (`unread`): a partition whose trigger lags
 * (retries, throttling, a slow batch) is behind, not idle — leaving it out of the minimum would
 * let the watermark overtake its records and make them late. Flink's sources are idle only when
 * they have nothing to read, too.
 */
export function observeSourceTick(s: TimeState, now: number, idleTimeoutMs: number, unread = false): TimeState {
  const t = Math.max(s.now, now);
  const since = s.since === MIN_WATERMARK ? t : s.since;
  return { ...s, now: t, since, idle: s.idle || (quietFor(s, now, idleTimeoutMs) && !unread) };
}

/** Records a mark from an upstream task; applies it at once if `position` (next data offset) passed its fence. */
export function receiveMark(s: TimeState, mark: WatermarkMark, position: number): TimeState {
  const cur = s.up[mark.from] ?? { wm: MIN_WATERMARK, idle: false, queue: [] };
  let queue = [...cur.queue, { fence: mark.fence, wm: mark.watermark, idle: mark.idle }].sort((a, b) => a.fence - b.fence || a.wm - b.wm);
  if (queue.length > MAX_QUEUE) {
    // Dropping a middle mark only delays the watermark (the later mark covers it); never wrong.
    queue = [...queue.slice(0, MAX_QUEUE / 2), ...queue.slice(queue.length - MAX_QUEUE / 2)];
  }
  return applyPosition({ ...s, up: { ...s.up, [mark.from]: { ...cur, queue } } }, position);
}

/**
 * Applies every queued mark whose fence the data position (next offset to read) has passed.
 * A position of -1 (no data read yet) counts as 0: a mark with fence -1 covers no data, so it
 * applies at once; a mark with fence ≥ 0 waits for data.
 */
export function applyPosition(s: TimeState, position: number): TimeState {
  const read = Math.max(position, 0);
  let changed = false;
  const up: Record<string, UpstreamState> = {};
  for (const [from, u] of Object.entries(s.up)) {
    let { wm, idle } = u;
    const queue = [];
    for (const m of u.queue) {
      if (m.fence < read) {
        wm = Math.max(wm, m.wm);
        idle = m.idle;
        changed = true;
      } else queue.push(m);
    }
    up[from] = { wm, idle, queue };
  }
  return changed ? { ...s, up } : s;
}

/**
 * The event time of a downstream task: min over `upstream` task ids of their applied
 * watermarks, idle ones left out. All idle: the task is idle itself and its watermark is the
 * highest of theirs (none of them holds anything back any more). Never decreases.
 */
export function combine(s: TimeState, upstream: readonly string[]): TimeState {
  if (upstream.length === 0) return s;
  const active = upstream.filter((id) => !(s.up[id]?.idle ?? false));
  if (active.length === 0) {
    // Every upstream task is idle, so none holds anything back any more (each one's data up to
    // its applied mark has been read: the fence). Flush to the highest of their watermarks, as
    // Flink's StatusWatermarkValve does. Holding the old minimum made the result depend on
    // batching: the last active task's final mark and its idle mark applied in one batch left
    // the windows between the two unfired; in two batches they fired.
    const max = Math.max(...upstream.map((id) => s.up[id]?.wm ?? MIN_WATERMARK));
    return { ...s, wm: Math.max(s.wm, max), idle: true };
  }
  const min = Math.min(...active.map((id) => s.up[id]?.wm ?? MIN_WATERMARK));
  return { ...s, wm: Math.max(s.wm, min), idle: false };
}

/** Records the offsets written to downstream data partitions in a batch (the fences of later marks). */
export function recordWritten(s: TimeState, sent: ReadonlyArray<{ topic: string; partition: number; offset: number }>): TimeState {
  if (sent.length === 0) return s;
  const written: Record<string, Record<string, number>> = Object.fromEntries(Object.entries(s.written).map(([t, m]) => [t, { ...m }]));
  for (const r of sent) {
    const m = (written[r.topic] ??= {});
    m[String(r.partition)] = Math.max(m[String(r.partition)] ?? -1, r.offset);
  }
  return { ...s, written };
}

/** The fence of a mark to partition `partition` of `topic`: the last offset this task wrote there (-1 = none). */
export function fenceFor(s: TimeState, topic: string, partition: number): number {
  return s.written[topic]?.[String(partition)] ?? -1;
}
