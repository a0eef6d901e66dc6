/**
 * Every timer of a task, in one place: where timers are fired from. Nothing here is stored:
 * timers are derived from the task's state. A window's on-time and cleanup timers follow from its
 * window state (timersOf in window-operator.ts); a process operator's user timers are a state
 * entry of the key (`processTimerName(node)`: the registered times), persisted with the task's
 * state like any value. So timers commit exactly once with the batch that changed them, cost no
 * write of their own, and a cold container rebuilds them from the state it loads.
 *
 * Firing order is time, then key bytes, then operator; a timer fires at most once per batch (a
 * user timer registered again for a time that already fired fires in the next batch).
 */
import type { TimerEntry, TimerRef } from '../commit/ports.js';
import type { TaskState } from '../state/task-state.js';

/** Where the timers of one state name come from. */
export interface TimerSource {
  /** The state entry name (a window's state, or a process operator's timer set). */
  readonly name: string;
  /** User timers are registered by user code and kept as a timer set; window timers are derived only. */
  readonly kind: 'window' | 'user';
  /** The timers an entry's value implies. */
  derive(bytes: Buffer): { readonly eventTime: readonly number[]; readonly processingTime: readonly number[] };
  /** The same from the value already decoded (what `derive` would have decoded from the bytes), when the caller has it. */
  deriveDecoded?(value: unknown): { readonly eventTime: readonly number[]; readonly processingTime: readonly number[] };
}

/** A user timer set as stored: event and processing times, ascending, distinct. */
interface TimerSet {
  e: number[];
  p: number[];
}

/** The derive function of a user timer set entry. */
export function userTimerTimes(bytes: Buffer): { eventTime: number[]; processingTime: number[] } {
  const set = decodeSet(bytes);
  return { eventTime: set.e, processingTime: set.p };
}

/** The timers of one task, derived from its state (the runtime side of the user-facing TimerService). */
export class TaskTimers {
  private readonly sources: Map<string, TimerSource>;
  private readonly byEntry = new Map<string, TimerEntry[]>();
  private readonly firedThisBatch = new Set<string>();

  constructor(
    sources: readonly TimerSource[],
    private readonly state: TaskState,
  ) {
    this.sources = new Map(sources.map((s) => [s.name, s]));
    this.rebuild();
  }

  /** Derives every timer from the whole state (after a cold load or applying other invocations' batches). */
  rebuild(): void {
    this.byEntry.clear();
    for (const source of this.sources.values()) {
      for (const { key } of this.state.entriesOf(source.name)) this.refresh(key, source.name);
    }
  }

  /**
   * Derives the timers of one entry again, after it changed. `decoded`: the entry's value as
   * decoded from the bytes the state now holds, if the caller has it (saves decoding them again).
   */
  refresh(key: Buffer, name: string, decoded?: unknown): void {
    const source = this.sources.get(name);
    if (!source) return;
    const id = entryId(key, name);
    const value = this.state.get(key, name);
    if (!value) {
      this.byEntry.delete(id);
      return;
    }
    const times = decoded !== undefined && source.deriveDecoded ? source.deriveDecoded(decoded) : source.derive(value.bytes);
    const timers: TimerEntry[] = [
      ...times.eventTime.map((time) => ({ kind: 'event' as const, time, key, name })),
      ...times.processingTime.map((time) => ({ kind: 'processing' as const, time, key, name })),
    ];
    if (timers.length === 0) this.byEntry.delete(id);
    else this.byEntry.set(id, timers);
  }

  /** Registers a user timer of operator state `name` for `key` (a change of the key's state). */
  register(timer: TimerEntry): void {
    this.editSet(timer, (times) => (times.includes(timer.time) ? times : [...times, timer.time].sort((a, b) => a - b)));
  }

  /** Deletes a user timer (a no-op if it is not registered). */
  unregister(timer: TimerEntry): void {
    this.editSet(timer, (times) => times.filter((t) => t !== timer.time));
  }

  /** Starts a batch: every timer may fire once in it. */
  startBatch(): void {
    this.firedThisBatch.clear();
  }

  /** Timers of `kind` due at or before `upTo` that have not fired in this batch, in firing order. */
  due(kind: TimerRef['kind'], upTo: number): TimerEntry[] {
    const out: TimerEntry[] = [];
    for (const timers of this.byEntry.values()) {
      for (const t of timers) if (t.kind === kind && t.time <= upTo && !this.firedThisBatch.has(timerId(t))) out.push(t);
    }
    return out.sort(firingOrder);
  }

  /** The earliest timer of `kind`, if any (what a task is next due for). */
  earliest(kind: TimerRef['kind']): number | undefined {
    let min: number | undefined;
    for (const timers of this.byEntry.values()) for (const t of timers) if (t.kind === kind && (min === undefined || t.time < min)) min = t.time;
    return min;
  }

  /**
   * A timer is firing: it will not fire again in this batch, and a user timer leaves its set (a
   * window timer goes away with the window state the firing changes).
   */
  fire(timer: TimerEntry): void {
    this.firedThisBatch.add(timerId(timer));
    if (this.sources.get(timer.name)?.kind === 'user') this.unregister(timer);
  }

  /** Timers held (for tests and status). */
  get size(): number {
    let n = 0;
    for (const timers of this.byEntry.values()) n += timers.length;
    return n;
  }

  private editSet(timer: TimerEntry, edit: (times: number[]) => number[]): void {
    const current = this.state.get(timer.key, timer.name);
    const set = current ? decodeSet(current.bytes) : { e: [], p: [] };
    const next: TimerSet = timer.kind === 'event' ? { e: edit(set.e), p: set.p } : { e: set.e, p: edit(set.p) };
    if (next.e.length === set.e.length && next.p.length === set.p.length) return; // already so: no change of state
    this.state.put(timer.key, timer.name, next.e.length + next.p.length === 0 ? undefined : { bytes: Buffer.from(JSON.stringify(next)), expiresAt: undefined });
    this.refresh(timer.key, timer.name);
  }
}

/** Identity of a timer: kind, time, key, operator. */
export function timerId(t: TimerEntry): string {
  return `${t.kind}\u0000${t.time}\u0000${t.key.toString('base64')}\u0000${t.name}`;
}

function entryId(key: Buffer, name: string): string {
  return `${key.toString('base64')}\u0000${name}`;
}

function firingOrder(a: TimerEntry, b: TimerEntry): number {
  return a.time - b.time || Buffer.compare(a.key, b.key) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

function decodeSet(bytes: Buffer): TimerSet {
  const v = JSON.parse(bytes.toString('utf8')) as Partial<TimerSet>;
  return { e: Array.isArray(v.e) ? v.e : [], p: Array.isArray(v.p) ? v.p : [] };
}
