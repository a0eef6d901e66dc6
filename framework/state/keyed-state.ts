/**
 * Keyed state of one task during one batch: a write-back cache over committed values.
 * User code reads and writes synchronously (the runtime prefetched every key of the
 * batch); `changes()` hands the dirty items to the commit protocol.
 */
import type { StateAccess } from '../dsl/context.js';
import type { StateKey, StateValue, StateWrite } from '../commit/ports.js';
import type { Serde } from '../serde/serde.js';
import { json } from '../serde/index.js';
import { parseDuration } from '../time/duration.js';
import type {
  AggregatingState,
  ListState,
  MapState,
  ReducingState,
  StateDescriptor,
  ValueState,
} from './descriptors.js';
import { SluiceError } from '../errors.js';

/** The cache key of one state item. */
export function stateMapKey(key: Buffer, name: string): string {
  return `${key.toString('base64')}\u0000${name}`;
}

/** User code touched state it did not declare. */
export class UndeclaredStateError extends SluiceError {
  constructor(stage: string, name: string) {
    super('SLUICE_STATE_UNDECLARED', `state "${name}" is used but not declared`, { stage, field: name }, 'list it in process(fn, { state: [...] })');
  }
}

interface Entry {
  /** Committed value the batch started from. */
  readonly base: StateValue | undefined;
  current: StateValue | undefined;
  dirty: boolean;
}

/** Per-task keyed state: committed values in, changed values out. */
export class KeyedStateCache {
  private readonly entries = new Map<string, Entry>();
  private readonly declared: Map<string, StateDescriptor>;
  /** Entries as they were before the current record touched them (undefined = did not exist). */
  private readonly journal = new Map<string, Entry | undefined>();

  constructor(
    private readonly stage: string,
    descriptors: readonly StateDescriptor[],
    private readonly now: () => number,
  ) {
    this.declared = new Map(descriptors.map((d) => [d.name, d]));
  }

  /** State items not yet loaded for the given keys (each key × each declared state). */
  missing(keys: Iterable<Buffer>): StateKey[] {
    const out: StateKey[] = [];
    const seen = new Set<string>();
    for (const key of keys) {
      for (const name of this.declared.keys()) {
        const k = stateMapKey(key, name);
        if (!this.entries.has(k) && !seen.has(k)) {
          seen.add(k);
          out.push({ key, name });
        }
      }
    }
    return out;
  }

  /** Records committed values loaded from the store (absent keys included as undefined). */
  load(keys: readonly StateKey[], values: ReadonlyMap<string, StateValue>): void {
    for (const { key, name } of keys) {
      const k = stateMapKey(key, name);
      const v = values.get(k);
      this.entries.set(k, { base: v, current: v, dirty: false });
    }
  }

  /** State accessors for one key. */
  access(key: Buffer): StateAccess {
    const stage = this.stage;
    const get = (name: string): { d: StateDescriptor; read: () => unknown; write: (v: unknown) => void } => {
      const d = this.declared.get(name);
      if (!d) throw new UndeclaredStateError(stage, name);
      const serde = (d.options.serde ?? json()) as Serde<unknown>;
      const k = stateMapKey(key, name);
      const ttlMs = d.options.ttl === undefined ? undefined : parseDuration(d.options.ttl, `state ${name} ttl`);
      const entry = (): Entry => {
        let e = this.entries.get(k);
        if (!e) {
          // Not prefetched (e.g. a key first seen mid-batch through a timer): counts as empty, loaded values win later.
          e = { base: undefined, current: undefined, dirty: false };
          this.entries.set(k, e);
        }
        return e;
      };
      return {
        d,
        read: () => {
          const cur = entry().current;
          if (!cur || (cur.expiresAt !== undefined && cur.expiresAt <= this.now())) return undefined;
          return serde.deserialize(cur.bytes, { topic: `state:${name}` });
        },
        write: (v) => {
          if (!this.journal.has(k)) {
            const before = this.entries.get(k);
            this.journal.set(k, before ? { ...before } : undefined);
          }
          const e = entry();
          if (v === undefined) e.current = undefined;
          else {
            const bytes = serde.serialize(v);
            e.current = bytes === null ? undefined : { bytes, expiresAt: ttlMs === undefined ? undefined : this.now() + ttlMs };
          }
          e.dirty = true;
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

  /** Keeps the current record's state changes (called after the record was processed). */
  commitRecord(): void {
    this.journal.clear();
  }

  /** Undoes the current record's state changes (its function threw and the record is dead-lettered). */
  rollbackRecord(): void {
    for (const [k, before] of this.journal) {
      if (before) this.entries.set(k, before);
      else this.entries.delete(k);
    }
    this.journal.clear();
  }

  /** Items changed since the last `markClean()`, with the committed value each started from. */
  changes(): StateWrite[] {
    const out: StateWrite[] = [];
    for (const [k, e] of this.entries) {
      if (!e.dirty) continue;
      const sep = k.indexOf('\u0000');
      out.push({ key: Buffer.from(k.slice(0, sep), 'base64'), name: k.slice(sep + 1), value: e.current, previous: e.base });
    }
    return out;
  }

  /** After a successful commit: current values become the committed base (the warm cache). */
  markCommitted(): void {
    for (const [k, e] of this.entries) {
      if (e.dirty) this.entries.set(k, { base: e.current, current: e.current, dirty: false });
    }
  }

  /** Committed view of every cached item (for the test harness and tools). */
  snapshot(): Map<string, StateValue | undefined> {
    return new Map([...this.entries].map(([k, e]) => [k, e.current]));
  }
}
