/**
 * Timers of one task during one batch: registrations and deletions buffered with the
 * batch's other effects (so they commit exactly once with it), merged with the committed
 * timers the store reports due. Stored as items of the task's timer index; a timer's
 * "previous" value is what it was before the batch, so an aborted batch leaves it as it was.
 *
 * Where the runtime does not know whether a timer existed before the batch (a user
 * deleting or re-registering a timer it set in an earlier batch), it assumes it did:
 * after an aborted batch such a timer may fire once more than it would otherwise —
 * `onTimer` should check its state, as in Flink. Window timers are always known.
 */
import type { StateWrite, TimerEntry, TimerRef } from '../commit/ports.js';

/** The marker value of a present timer item. */
const PRESENT = { bytes: Buffer.from([1]), expiresAt: undefined };

/** Whether a timer existed before the batch. */
export type TimerKnowledge = 'present' | 'absent' | 'unknown';

interface Change {
  readonly entry: TimerEntry;
  set: boolean;
  readonly before: TimerKnowledge;
}

/** Identity of a timer: kind, time, key, operator. */
export function timerId(t: TimerEntry): string {
  return `${t.kind}\u0000${t.time}\u0000${t.key.toString('base64')}\u0000${t.name}`;
}

/** Buffered timer changes of one batch. */
export class TimerBuffer {
  private readonly changes = new Map<string, Change>();
  /** Committed timers that fired in this batch (deleted when the batch commits). */
  private readonly fired = new Set<string>();
  /** Changes as they were before the current record touched them (undefined = no change yet). */
  private readonly journal = new Map<string, Change | undefined>();

  private remember(id: string): void {
    if (this.journal.has(id)) return;
    const c = this.changes.get(id);
    this.journal.set(id, c ? { ...c } : undefined);
  }

  /** Keeps the current record's timer changes. */
  commitRecord(): void {
    this.journal.clear();
  }

  /** Undoes the current record's timer changes (the record is dead-lettered). */
  rollbackRecord(): void {
    for (const [id, before] of this.journal) {
      if (before) this.changes.set(id, before);
      else this.changes.delete(id);
    }
    this.journal.clear();
  }

  /** Registers a timer. */
  set(entry: TimerEntry, before: TimerKnowledge = 'unknown'): void {
    const id = timerId(entry);
    this.remember(id);
    const c = this.changes.get(id);
    if (c) c.set = true;
    else this.changes.set(id, { entry, set: true, before });
  }

  /** Deletes a timer. */
  delete(entry: TimerEntry, before: TimerKnowledge = 'unknown'): void {
    const id = timerId(entry);
    this.remember(id);
    const c = this.changes.get(id);
    if (c) c.set = false;
    else this.changes.set(id, { entry, set: false, before });
  }

  /** Marks a committed timer as fired: it is deleted with the batch. */
  fire(entry: TimerEntry): void {
    this.fired.add(timerId(entry));
    this.delete(entry, 'present');
  }

  /** Timers registered in this batch that are due at or before `upTo`, not yet fired. */
  dueInBatch(kind: TimerRef['kind'], upTo: number): TimerEntry[] {
    return [...this.changes.values()]
      .filter((c) => c.set && c.entry.kind === kind && c.entry.time <= upTo && !this.fired.has(timerId(c.entry)))
      .map((c) => c.entry);
  }

  /** Whether a committed timer was deleted (or already fired) in this batch. */
  isDeleted(entry: TimerEntry): boolean {
    const c = this.changes.get(timerId(entry));
    return (c !== undefined && !c.set) || this.fired.has(timerId(entry));
  }

  /** The batch's timer writes for the commit protocol. */
  writes(): StateWrite[] {
    const out: StateWrite[] = [];
    for (const c of this.changes.values()) {
      const previous = c.before === 'absent' ? undefined : PRESENT;
      if (c.before === 'absent' && !c.set) continue; // set and deleted within the batch: nothing to store
      out.push({ key: c.entry.key, name: c.entry.name, value: c.set ? PRESENT : undefined, previous, timer: { kind: c.entry.kind, time: c.entry.time } });
    }
    return out;
  }

  /** Whether anything changed. */
  get size(): number {
    return this.changes.size;
  }
}
