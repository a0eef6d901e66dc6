/**
 * An in-memory CheckpointStore with DynamoDB's semantics where the protocol relies on
 * them (conditional writes on the checkpoint version, staged values, holes). For the
 * unit-test harness and protocol tests; integration tests use the DynamoDB adapter.
 */
import type { Checkpoint, CheckpointStore, Pending, StateKey, StateValue, StateWrite, TaskRef, TimerEntry, TimerRef } from '../commit/ports.js';
import { parseTimerSortKey, timerSortKey } from '../dynamodb/layout.js';
import { CheckpointConflict } from '../commit/ports.js';
import type { StagedItem } from '../state/staged.js';
import { committedValue } from '../state/staged.js';
import { stateMapKey } from '../state/keyed-state.js';

interface StoredItem extends StagedItem {
  readonly owner: string;
}

const EMPTY: Checkpoint = { version: 0, committedSeq: 0, holes: [], nextOffset: -1, pending: undefined, extra: {} };

/** Checkpoints and state in memory; shared by every simulated container of a test. */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly checkpoints = new Map<string, Checkpoint>();
  private readonly items = new Map<string, StoredItem>();
  /** Requests by operation, like the DynamoDB adapter's metrics. */
  readonly requests: Record<'read' | 'loadState' | 'dueTimers' | 'prepare' | 'confirm' | 'abandon' | 'commitDirect', number> = {
    read: 0,
    dueTimers: 0,
    loadState: 0,
    prepare: 0,
    confirm: 0,
    abandon: 0,
    commitDirect: 0,
  };

  constructor(private readonly now: () => number = Date.now) {}

  async read(task: TaskRef): Promise<Checkpoint> {
    this.requests.read += 1;
    return this.checkpoints.get(ckptKey(task)) ?? EMPTY;
  }

  async loadState(task: TaskRef, keys: readonly StateKey[], ckpt: Checkpoint): Promise<Map<string, StateValue>> {
    this.requests.loadState += 1;
    const out = new Map<string, StateValue>();
    for (const { key, name } of keys) {
      const item = this.items.get(itemKey(task.app, task.stage, key, name));
      const v = item ? committedValue(item, ckpt, this.now()) : undefined;
      if (v) out.set(stateMapKey(key, name), v);
    }
    return out;
  }

  async dueTimers(task: TaskRef, kind: TimerRef['kind'], upTo: number, ckpt: Checkpoint): Promise<TimerEntry[]> {
    this.requests.dueTimers += 1;
    const prefix = `timer\u0000${task.app}\u0000${task.id}\u0000`;
    const out: TimerEntry[] = [];
    for (const [k, item] of this.items) {
      if (!k.startsWith(prefix)) continue;
      const timer = parseTimerSortKey(k.slice(prefix.length));
      if (timer.kind === kind && timer.time <= upTo && committedValue(item, ckpt, this.now())) out.push(timer);
    }
    return out.sort((a, b) => a.time - b.time);
  }

  async prepare(task: TaskRef, expectedVersion: number, pending: Pending, writes: readonly StateWrite[]): Promise<number> {
    this.requests.prepare += 1;
    const ckpt = this.expect(task, expectedVersion);
    for (const w of writes) {
      this.items.set(writeKey(task, w), {
        owner: task.id,
        committed: w.previous,
        staged: w.value ?? 'clear',
        stagedSeq: pending.seq,
      });
    }
    return this.put(task, { ...ckpt, pending });
  }

  async confirm(task: TaskRef, expectedVersion: number, pending: Pending): Promise<number> {
    this.requests.confirm += 1;
    const ckpt = this.expect(task, expectedVersion);
    return this.put(task, { ...ckpt, committedSeq: pending.seq, nextOffset: pending.nextOffset, extra: pending.extra, pending: undefined });
  }

  async abandon(task: TaskRef, expectedVersion: number, pending: Pending): Promise<number> {
    this.requests.abandon += 1;
    const ckpt = this.expect(task, expectedVersion);
    return this.put(task, { ...ckpt, holes: [...ckpt.holes, pending.seq], pending: undefined });
  }

  async commitDirect(
    task: TaskRef,
    expectedVersion: number,
    seq: number,
    nextOffset: number,
    writes: readonly StateWrite[],
    extra: Readonly<Record<string, unknown>>,
  ): Promise<number> {
    this.requests.commitDirect += 1;
    const ckpt = this.expect(task, expectedVersion);
    for (const w of writes) {
      this.items.set(writeKey(task, w), { owner: task.id, committed: w.value, staged: undefined, stagedSeq: undefined });
    }
    return this.put(task, { ...ckpt, committedSeq: seq, nextOffset, extra });
  }

  /** The committed value of a state item as an outside reader sees it (queryable state). */
  committed(app: string, stage: string, key: Buffer, name: string): StateValue | undefined {
    const item = this.items.get(itemKey(app, stage, key, name));
    if (!item) return undefined;
    const ckpt = [...this.checkpoints.entries()].find(([k]) => k === `${app}\u0000${item.owner}`)?.[1] ?? EMPTY;
    return committedValue(item, ckpt, this.now());
  }

  /** Every state item of a stage as committed now, for assertions. */
  committedItems(app: string, stage: string): Array<{ key: Buffer; name: string; value: StateValue }> {
    const prefix = `${app}\u0000${stage}\u0000`;
    const out: Array<{ key: Buffer; name: string; value: StateValue }> = [];
    for (const k of this.items.keys()) {
      if (!k.startsWith(prefix)) continue;
      const [keyB64, name] = k.slice(prefix.length).split('\u0000') as [string, string];
      const key = Buffer.from(keyB64, 'base64');
      const value = this.committed(app, stage, key, name);
      if (value) out.push({ key, name, value });
    }
    return out;
  }

  /** The raw checkpoint of a task, for assertions. */
  checkpoint(task: Pick<TaskRef, 'app' | 'id'>): Checkpoint {
    return this.checkpoints.get(`${task.app}\u0000${task.id}`) ?? EMPTY;
  }

  private expect(task: TaskRef, version: number): Checkpoint {
    const ckpt = this.checkpoints.get(ckptKey(task)) ?? EMPTY;
    if (ckpt.version !== version) throw new CheckpointConflict(task.id, version);
    return ckpt;
  }

  private put(task: TaskRef, ckpt: Checkpoint): number {
    const next = { ...ckpt, version: ckpt.version + 1 };
    this.checkpoints.set(ckptKey(task), next);
    return next.version;
  }
}

const ckptKey = (task: Pick<TaskRef, 'app' | 'id'>): string => `${task.app}\u0000${task.id}`;
const writeKey = (task: TaskRef, w: StateWrite): string =>
  w.timer ? `timer\u0000${task.app}\u0000${task.id}\u0000${timerSortKey(w.timer, w.key, w.name)}` : itemKey(task.app, task.stage, w.key, w.name);
const itemKey = (app: string, stage: string, key: Buffer, name: string): string => `${app}\u0000${stage}\u0000${key.toString('base64')}\u0000${name}`;
