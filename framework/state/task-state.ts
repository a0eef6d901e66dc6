/**
 * The keyed state of one task, whole, in memory: every state value of every key the task owns,
 * as committed, plus what the running batch changed. User code reads and writes synchronously;
 * a batch hands its changes to the commit protocol as one list (`changes`), which becomes the
 * batch record; a warm container keeps the object between batches (`markCommitted`), and a cold
 * one rebuilds it from the task's snapshot and committed batch records (`fromEntries`).
 *
 * Per record, changes are journaled so a record whose function throws can be dead-lettered with
 * none of its state changes kept (`rollbackRecord`).
 */
import type { StateAccess } from '../dsl/context.js';
import type { StateValue } from '../commit/ports.js';
import type { Serde } from '../serde/serde.js';
import { json } from '../serde/index.js';
import { parseDuration } from '../time/duration.js';
import type { AggregatingState, ListState, MapState, ReducingState, StateDescriptor, ValueState } from './descriptors.js';
import { SluiceError } from '../errors.js';
import type { StateEntry } from './codec.js';

/** The map key of one state entry: key bytes and state name. */
export function stateMapKey(key: Buffer, name: string): string {
  return `${key.toString('base64')}\u0000${name}`;
}

/** The key bytes and name of a map key made by stateMapKey. */
export function parseStateMapKey(id: string): { key: Buffer; name: string } {
  const sep = id.indexOf('\u0000');
  return { key: Buffer.from(id.slice(0, sep), 'base64'), name: id.slice(sep + 1) };
}

/** User code touched state it did not declare. */
export class UndeclaredStateError extends SluiceError {
  constructor(stage: string, name: string) {
    super('SLUICE_STATE_UNDECLARED', `state "${name}" is used but not declared`, { stage, field: name }, 'list it in process(fn, { state: [...] })');
  }
}

/** A value that has expired counts as absent. */
export function isLive(value: StateValue | undefined, now: number): value is StateValue {
  return value !== undefined && (value.expiresAt === undefined || value.expiresAt > now);
}

/** The state of one task: committed entries in, a batch's changes out. */
export class TaskState {
  private readonly values = new Map<string, StateValue>();
  /** Entries changed since the last markCommitted, with their committed values (undefined = absent). */
  private readonly dirty = new Map<string, StateValue | undefined>();
  /** Entries as they were before the current record touched them (undefined = absent). */
  private readonly journal = new Map<string, StateValue | undefined>();
  private readonly declared: Map<string, StateDescriptor>;

  constructor(
    private readonly stage: string,
    descriptors: readonly StateDescriptor[],
    private readonly now: () => number,
  ) {
    this.declared = new Map(descriptors.map((d) => [d.name, d]));
  }

  /** A task state holding `entries` as committed (deletions and expired values left out). */
  static fromEntries(stage: string, descriptors: readonly StateDescriptor[], now: () => number, entries: Iterable<StateEntry>): TaskState {
    const state = new TaskState(stage, descriptors, now);
    state.apply(entries);
    return state;
  }

  /** Applies committed changes (a batch record written by another invocation) to this state. */
  apply(entries: Iterable<StateEntry>): void {
    const now = this.now();
    for (const e of entries) {
      const id = stateMapKey(e.key, e.name);
      if (isLive(e.value, now)) this.values.set(id, e.value);
      else this.values.delete(id);
    }
  }

  /** The live value of one entry (raw bytes). */
  get(key: Buffer, name: string): StateValue | undefined {
    const v = this.values.get(stateMapKey(key, name));
    return isLive(v, this.now()) ? v : undefined;
  }

  /** Sets or clears one entry (raw bytes), journaled like user writes. */
  put(key: Buffer, name: string, value: StateValue | undefined): void {
    const id = stateMapKey(key, name);
    if (!this.journal.has(id)) this.journal.set(id, this.values.get(id));
    if (!this.dirty.has(id)) this.dirty.set(id, this.values.get(id));
    if (value === undefined) this.values.delete(id);
    else this.values.set(id, value);
  }

  /** Every live entry of state `name`, in no particular order. */
  *entriesOf(name: string): Iterable<{ key: Buffer; value: StateValue }> {
    const now = this.now();
    const suffix = `\u0000${name}`;
    for (const [id, value] of this.values) {
      if (id.endsWith(suffix) && isLive(value, now)) yield { key: parseStateMapKey(id).key, value };
    }
  }

  /** State accessors for one key. */
  access(key: Buffer): StateAccess {
    const stage = this.stage;
    const get = (name: string): { d: StateDescriptor; read: () => unknown; write: (v: unknown) => void } => {
      const d = this.declared.get(name);
      if (!d) throw new UndeclaredStateError(stage, name);
      const serde = (d.options.serde ?? json()) as Serde<unknown>;
      const ttlMs = d.options.ttl === undefined ? undefined : parseDuration(d.options.ttl, `state ${name} ttl`);
      return {
        d,
        read: () => {
          const cur = this.get(key, name);
          return cur ? serde.deserialize(cur.bytes, { topic: `state:${name}` }) : undefined;
        },
        write: (v) => {
          if (v === undefined) return this.put(key, name, undefined);
          const bytes = serde.serialize(v);
          this.put(key, name, bytes === null ? undefined : { bytes, expiresAt: ttlMs === undefined ? undefined : this.now() + ttlMs });
        },
      };
    };
    const access = (descriptor: StateDescriptor): unknown => {
      const { d, read, write } = get(descriptor.name);
      switch (d.kind) {
        case 'value':
          return { get: () => read(), set: (v: unknown) => write(v), clear: () => write(undefined) } satisfies ValueState<unknown>;
        case 'list':
          return {
            get: () => (read() as unknown[] | undefined) ?? [],
            add: (v: unknown) => write([...((read() as unknown[] | undefined) ?? []), v]),
            update: (vs: readonly unknown[]) => write([...vs]),
            clear: () => write(undefined),
          } satisfies ListState<unknown>;
        case 'map': {
          const m = (): Record<string, unknown> => ({ ...((read() as Record<string, unknown> | undefined) ?? {}) });
          return {
            get: (f: string) => m()[f],
            put: (f: string, v: unknown) => write({ ...m(), [f]: v }),
            remove: (f: string) => {
              const next = m();
              delete next[f];
              write(Object.keys(next).length === 0 ? undefined : next);
            },
            has: (f: string) => Object.prototype.hasOwnProperty.call(m(), f),
            entries: () => Object.entries(m()),
            clear: () => write(undefined),
          } satisfies MapState<unknown>;
        }
        case 'reducing':
          return {
            get: () => read(),
            add: (v: unknown) => {
              const cur = read();
              write(cur === undefined ? v : d.reduce(cur, v));
            },
            clear: () => write(undefined),
          } satisfies ReducingState<unknown>;
        case 'aggregating':
          return {
            get: () => {
              const acc = read();
              return acc === undefined ? undefined : d.aggregate.getResult(acc);
            },
            add: (v: unknown) => {
              const acc = read();
              write(d.aggregate.add(acc === undefined ? d.aggregate.createAccumulator() : acc, v));
            },
            clear: () => write(undefined),
          } satisfies AggregatingState<unknown, unknown>;
      }
    };
    return { state: access } as StateAccess;
  }

  /** Keeps the current record's changes (called after the record was processed). */
  commitRecord(): void {
    this.journal.clear();
  }

  /**
   * Undoes the current record's changes (its function threw and the record is dead-lettered);
   * returns the entries restored, so derived structures (timers) can follow.
   */
  rollbackRecord(): Array<{ key: Buffer; name: string }> {
    const restored = this.restore(this.journal);
    this.journal.clear();
    return restored;
  }

  /**
   * Undoes every change of the batch (it failed: what it wrote is not committed, or not known to
   * be): the state is the committed one again, so a warm container can keep it. Returns the
   * entries restored.
   */
  rollbackBatch(): Array<{ key: Buffer; name: string }> {
    const restored = this.restore(this.dirty);
    this.dirty.clear();
    this.journal.clear();
    return restored;
  }

  /** The batch's changes: every entry written since the last markCommitted, with its value now. */
  changes(): StateEntry[] {
    // An entry changed and changed back still counts: cheaper than comparing bytes, and harmless.
    return [...this.dirty.keys()].map((id) => ({ ...parseStateMapKey(id), value: this.values.get(id) }));
  }

  /** Whether the batch changed anything. */
  get changed(): boolean {
    return this.dirty.size > 0;
  }

  /** After the batch committed: its changes are the committed state now. */
  markCommitted(): void {
    this.dirty.clear();
    this.journal.clear();
  }

  /** Every live entry, as a snapshot writes them (expired values are left out: a snapshot is where they go). */
  entries(): StateEntry[] {
    const now = this.now();
    const out: StateEntry[] = [];
    for (const [id, value] of this.values) if (isLive(value, now)) out.push({ ...parseStateMapKey(id), value });
    return out;
  }

  private restore(before: ReadonlyMap<string, StateValue | undefined>): Array<{ key: Buffer; name: string }> {
    const restored: Array<{ key: Buffer; name: string }> = [];
    for (const [id, value] of before) {
      if (value === undefined) this.values.delete(id);
      else this.values.set(id, value);
      restored.push(parseStateMapKey(id));
    }
    return restored;
  }

  /** Entries held (expired ones included until the next snapshot). */
  get size(): number {
    return this.values.size;
  }

  /** Every live value by map key (for the test harness and tools). */
  snapshot(): Map<string, StateValue | undefined> {
    const now = this.now();
    return new Map([...this.values].filter(([, v]) => isLive(v, now)));
  }
}
