/**
 * An in-memory TaskStore with DynamoDB's semantics where the protocol relies on them: the
 * checkpoint's version condition, ring slots that only move to higher seqs, snapshot chunks that
 * only move to later snapshots. Which state is committed is decided by state/committed.ts, as for
 * the DynamoDB store. For the unit-test harness and protocol tests; integration tests use the
 * DynamoDB adapter.
 */
import type { BatchRecord, Checkpoint, SnapshotRef, SnapshotWrite, StateLoad, StateValue, TaskRef, TaskStore, TaskView } from '../commit/ports.js';
import { CheckpointConflict } from '../commit/ports.js';
import { abandoned, compacted, confirmed, EMPTY_CHECKPOINT, nextSeq, slotOf } from '../commit/checkpoint.js';
import { committedState, type SnapshotChunk } from '../state/committed.js';
import { stateMapKey } from '../state/task-state.js';
import { encodeEntries } from '../state/codec.js';

/** Requests by operation, like the DynamoDB adapter's metrics. */
export type MemoryStoreRequests = Record<'read' | 'readCheckpoint' | 'load' | 'prepare' | 'writeSnapshot' | 'snapshotComplete' | 'confirm' | 'abandon' | 'compact' | 'advance', number>;

interface TaskItems {
  readonly task: Pick<TaskRef, 'app' | 'stage' | 'id'>;
  checkpoint: Checkpoint;
  readonly slots: Map<number, BatchRecord>;
  /** `<bank>/<index>` → chunk. */
  readonly chunks: Map<string, SnapshotChunk>;
}

/** Checkpoints, batch records and snapshots in memory; shared by every simulated container of a test. */
export class MemoryCheckpointStore implements TaskStore {
  private readonly tasks = new Map<string, TaskItems>();
  readonly requests: MemoryStoreRequests = { read: 0, readCheckpoint: 0, load: 0, prepare: 0, writeSnapshot: 0, snapshotComplete: 0, confirm: 0, abandon: 0, compact: 0, advance: 0 };

  constructor(private readonly now: () => number = Date.now) {}

  async read(task: TaskRef): Promise<TaskView> {
    this.requests.read += 1;
    const t = this.items(task);
    const seq = nextSeq(t.checkpoint);
    const record = t.slots.get(slotOf(seq));
    return { checkpoint: t.checkpoint, pending: record?.seq === seq ? record : undefined };
  }

  async readCheckpoint(task: TaskRef): Promise<Checkpoint> {
    this.requests.readCheckpoint += 1;
    return this.items(task).checkpoint;
  }

  async load(task: TaskRef, checkpoint: Checkpoint, after?: number): Promise<StateLoad> {
    this.requests.load += 1;
    const t = this.items(task);
    const records = new Map([...t.slots.values()].map((r) => [r.seq, r]));
    return committedState(task.id, checkpoint, [...t.chunks.values()], records, this.now(), after);
  }

  async prepare(task: TaskRef, record: BatchRecord): Promise<void> {
    this.requests.prepare += 1;
    const t = this.items(task);
    const slot = slotOf(record.seq);
    const held = t.slots.get(slot);
    if (held && held.seq >= record.seq) throw new CheckpointConflict(task.id, t.checkpoint.version);
    t.slots.set(slot, record);
  }

  async writeSnapshot(task: TaskRef, snapshot: SnapshotWrite): Promise<void> {
    this.requests.writeSnapshot += 1;
    const t = this.items(task);
    snapshot.chunks.forEach((data, index) => {
      const at = `${snapshot.ref.bank}/${index}`;
      const old = t.chunks.get(at);
      const mayWrite = !old || old.baseVersion < snapshot.baseVersion || (old.baseVersion === snapshot.baseVersion && old.id === snapshot.ref.id);
      if (!mayWrite) throw new CheckpointConflict(task.id, snapshot.baseVersion);
      t.chunks.set(at, { id: snapshot.ref.id, baseVersion: snapshot.baseVersion, seq: snapshot.ref.seq, index, data });
    });
  }

  async snapshotComplete(task: TaskRef, snapshot: SnapshotRef): Promise<boolean> {
    this.requests.snapshotComplete += 1;
    const t = this.items(task);
    for (let i = 0; i < snapshot.chunks; i += 1) if (t.chunks.get(`${snapshot.bank}/${i}`)?.id !== snapshot.id) return false;
    return true;
  }

  async confirm(task: TaskRef, from: Checkpoint, record: BatchRecord): Promise<Checkpoint> {
    this.requests.confirm += 1;
    return this.write(task, from, confirmed(from, record));
  }

  async abandon(task: TaskRef, from: Checkpoint, record: BatchRecord): Promise<Checkpoint> {
    this.requests.abandon += 1;
    return this.write(task, from, abandoned(from, record));
  }

  async compact(task: TaskRef, from: Checkpoint, snapshot: SnapshotRef): Promise<Checkpoint> {
    this.requests.compact += 1;
    return this.write(task, from, compacted(from, snapshot));
  }

  async advance(task: TaskRef, from: Checkpoint, next: Checkpoint): Promise<Checkpoint> {
    this.requests.advance += 1;
    if (next.version !== from.version + 1) throw new Error(`advance must bump the version by one (${from.version} → ${next.version})`);
    return this.write(task, from, next);
  }

  /**
   * Writes a record into its slot whatever the slot holds, as a store without the prepare's
   * arbiter would (only for tests that switch that guarantee off and watch the checker fail).
   */
  overwriteRecord(task: TaskRef, record: BatchRecord): void {
    this.items(task).slots.set(slotOf(record.seq), record);
  }

  /** The committed state of a task as an outside reader sees it (queryable state), by `stateMapKey`. */
  committedState(task: TaskRef): Map<string, StateValue> {
    const t = this.items(task);
    const records = new Map([...t.slots.values()].map((r) => [r.seq, r]));
    const load = committedState(task.id, t.checkpoint, [...t.chunks.values()], records, this.now());
    return new Map(load.entries.flatMap((e) => (e.value ? [[stateMapKey(e.key, e.name), e.value] as const] : [])));
  }

  /** Every committed state entry of every task of a stage, for assertions (tasks ascending, then entries as loaded). */
  committedItems(app: string, stage: string): Array<{ key: Buffer; name: string; value: StateValue }> {
    const out: Array<{ key: Buffer; name: string; value: StateValue }> = [];
    const tasks = [...this.tasks.values()].filter((t) => t.task.app === app && t.task.stage === stage).sort((a, b) => (a.task.id < b.task.id ? -1 : 1));
    for (const t of tasks) {
      const records = new Map([...t.slots.values()].map((r) => [r.seq, r]));
      const load = committedState(t.task.id, t.checkpoint, [...t.chunks.values()], records, this.now());
      const entries = load.entries.flatMap((e) => (e.value ? [{ key: e.key, name: e.name, value: e.value }] : []));
      out.push(...entries.sort((a, b) => Buffer.compare(a.key, b.key) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
    }
    return out;
  }

  /** The raw checkpoint of a task, for assertions. */
  checkpoint(task: Pick<TaskRef, 'app' | 'id'>): Checkpoint {
    return this.tasks.get(taskKey(task))?.checkpoint ?? EMPTY_CHECKPOINT;
  }

  /** Bytes the task's batch records and snapshot take (what DynamoDB would bill for them to be written once). */
  storedBytes(task: Pick<TaskRef, 'app' | 'id'>): { records: number; snapshot: number } {
    const t = this.tasks.get(taskKey(task));
    if (!t) return { records: 0, snapshot: 0 };
    return {
      records: [...t.slots.values()].reduce((n, r) => n + r.changeBytes, 0),
      snapshot: [...t.chunks.values()].reduce((n, c) => n + c.data.length, 0),
    };
  }

  /** Overwrites a task's raw items (tools and tests: a savepoint import, a corrupted store). */
  replace(task: TaskRef, checkpoint: Checkpoint, entries: Parameters<typeof encodeEntries>[0]): void {
    const data = encodeEntries(entries);
    this.tasks.set(taskKey(task), {
      task: { app: task.app, stage: task.stage, id: task.id },
      checkpoint,
      slots: new Map(),
      chunks: new Map([[`${checkpoint.snapshot.bank}/0`, { id: checkpoint.snapshot.id, baseVersion: checkpoint.version, seq: checkpoint.snapshot.seq, index: 0, data }]]),
    });
  }

  private items(task: TaskRef): TaskItems {
    let t = this.tasks.get(taskKey(task));
    if (!t) this.tasks.set(taskKey(task), (t = { task: { app: task.app, stage: task.stage, id: task.id }, checkpoint: EMPTY_CHECKPOINT, slots: new Map(), chunks: new Map() }));
    return t;
  }

  private expect(task: TaskRef, version: number): TaskItems {
    const t = this.items(task);
    if (t.checkpoint.version !== version) throw new CheckpointConflict(task.id, version);
    return t;
  }

  private write(task: TaskRef, from: Checkpoint, next: Checkpoint): Checkpoint {
    this.expect(task, from.version).checkpoint = next;
    return next;
  }
}

const taskKey = (task: Pick<TaskRef, 'app' | 'id'>): string => `${task.app}\u0000${task.id}`;
