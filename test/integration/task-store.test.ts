/**
 * DynamoTaskStore against DynamoDB Local: the batch record as the arbiter between invocations,
 * the checkpoint's version condition, snapshot banks, loading the committed state, lost responses
 * (a write that landed although its caller never heard so), races, a rebase, and what a batch
 * costs in requests and write units.
 */
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  type DynamoDBClient,
  type PutItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EMPTY_CHECKPOINT, nextSeq, RING_SLOTS, TaskStateCorrupt } from '../../framework/commit/checkpoint.js';
import { CheckpointConflict, type BatchRecord, type Checkpoint, type SnapshotRef, type StateValue, type TaskRef } from '../../framework/commit/ports.js';
import { chunkKey, keyAttributes, recordKey, type Item, type ItemKey } from '../../framework/dynamodb/layout.js';
import { createTable, deleteTable } from '../../framework/dynamodb/table.js';
import { DynamoMetrics, DynamoStoreError, DynamoTaskStore } from '../../framework/dynamodb/task-store.js';
import { encodeEntries, type StateEntry } from '../../framework/state/codec.js';
import { buildSnapshot, SNAPSHOT_CHUNK_BYTES } from '../../framework/state/committed.js';
import { INITIAL_TIME, type TimeState } from '../../framework/time/watermark.js';
import { CAMPAIGNS } from '../../functions/ysb/campaigns.js';
import { testDynamo, uniqueName } from '../support/infra.js';

const dynamo = testDynamo();
const table = uniqueName('sluice-test-task-store');
const metrics = new DynamoMetrics();
let clock = 1_700_000_000_000;
const store = new DynamoTaskStore(dynamo, table, { metrics, now: () => clock });
const clients: DynamoDBClient[] = [dynamo];

beforeAll(async () => {
  await createTable(dynamo, table);
});

afterAll(async () => {
  await deleteTable(dynamo, table);
  for (const c of clients) c.destroy();
});

beforeEach(() => {
  metrics.reset();
});

// Every test gets its own app, so tasks never collide between tests.
function newTask(partition = 0): TaskRef {
  const app = uniqueName('app');
  return { app, stage: 'count', topic: `${app}.count.in`, partition, id: `count.${partition}` };
}

/** Another container: its own client and store on the same table. */
function otherStore(): DynamoTaskStore {
  const client = testDynamo();
  clients.push(client);
  return new DynamoTaskStore(client, table, { now: () => clock });
}

function val(text: string, expiresAt?: number): StateValue {
  return { bytes: Buffer.from(text), expiresAt };
}

function entry(key: string, value: string | undefined, expiresAt?: number): StateEntry {
  return { key: Buffer.from(key), name: 'total', value: value === undefined ? undefined : val(value, expiresAt) };
}

const timeAt = (wm: number): TimeState => ({ ...INITIAL_TIME, wm });

/** Batch `seq` of `task` changing `changes`. */
function batch(task: TaskRef, seq: number, changes: StateEntry[] = [], over: Partial<BatchRecord> = {}): BatchRecord {
  return {
    seq,
    nextOffset: seq * 10,
    time: timeAt(seq * 1_000),
    txnId: `${task.app}.${task.id}`,
    progress: { topic: `${task.app}.progress`, partition: 0, offset: seq },
    since: 1_700_000_000_000,
    changes,
    changeBytes: changes.length > 0 ? encodeEntries(changes).length : 0,
    snapshot: undefined,
    ...over,
  };
}

/** Prepares and confirms `record` on the checkpoint `from`; returns the new checkpoint. */
async function commit(task: TaskRef, from: Checkpoint, record: BatchRecord): Promise<Checkpoint> {
  await store.prepare(task, record);
  return store.confirm(task, from, record);
}

/** The committed state of a task as `key=value` strings, sorted. */
async function committed(task: TaskRef, after?: number): Promise<string[]> {
  const { checkpoint } = await store.read(task);
  const load = await store.load(task, checkpoint, after);
  return load.entries.map((e) => `${e.key.toString()}=${e.value === undefined ? '(deleted)' : e.value.bytes.toString()}`).sort();
}

async function rawItem(key: ItemKey): Promise<Item | undefined> {
  return (await dynamo.send(new GetItemCommand({ TableName: table, Key: keyAttributes(key), ConsistentRead: true }))).Item;
}

/** The error a promise rejects with (the test fails if it resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

/**
 * A client that loses the response of the first PutItem matching `lose` after DynamoDB applied it,
 * as a dropped connection would: the SDK's own retry then sends the request again and meets the
 * condition the first attempt already changed. `meanwhile` runs between the two attempts.
 */
function losingClient(lose: (input: PutItemCommandInput) => boolean, meanwhile?: () => Promise<void>): { client: DynamoDBClient; putAttempts: () => number; lost: () => number } {
  const client = testDynamo();
  clients.push(client);
  let putAttempts = 0;
  let lost = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'PutItemCommand') return next(args);
      putAttempts += 1;
      const out = await next(args);
      if (lost === 0 && lose(args.input as PutItemCommandInput)) {
        lost += 1;
        await meanwhile?.();
        // What Node's HTTP client throws when the connection drops before the response arrives.
        throw Object.assign(new Error('socket hang up (response dropped by the test)'), { code: 'ECONNRESET' });
      }
      return out;
    },
    // Inside the SDK's retry middleware (finalizeRequest, high priority): each attempt passes here, and the retry sees the error.
    { step: 'finalizeRequest', priority: 'low', name: 'testLoseResponse' },
  );
  return { client, putAttempts: () => putAttempts, lost: () => lost };
}

const sortKeyOf = (input: PutItemCommandInput): string | undefined => input.Item?.['sk']?.S;

describe('read', () => {
  it('finds the empty checkpoint and no pending batch for a task that never wrote', async () => {
    expect(await store.read(newTask())).toEqual({ checkpoint: EMPTY_CHECKPOINT, pending: undefined });
    // The checkpoint, the checkpoint Sluice 0.1 would have written (a v1 table is refused, not read as empty), the slot.
    expect(metrics.requests.GetItem).toBe(3);
  });

  it('finds the record prepared at the next seq as pending, as it was written', async () => {
    const task = newTask();
    const record = batch(task, 1, [entry('a', '1'), entry('b', undefined)]);
    await store.prepare(task, record);
    expect(await store.read(task)).toEqual({ checkpoint: EMPTY_CHECKPOINT, pending: record });
  });

  it('finds no pending batch once the record is confirmed', async () => {
    const task = newTask();
    const ckpt = await commit(task, EMPTY_CHECKPOINT, batch(task, 1));
    expect(await store.read(task)).toEqual({ checkpoint: ckpt, pending: undefined });
  });

  it('finds no pending batch once the record is abandoned (its seq is a hole)', async () => {
    const task = newTask();
    const record = batch(task, 1);
    await store.prepare(task, record);
    const ckpt = await store.abandon(task, EMPTY_CHECKPOINT, record);
    expect(await store.read(task)).toEqual({ checkpoint: ckpt, pending: undefined });
    expect(nextSeq(ckpt)).toBe(2);
  });

  it('does not take a record of an older lap in the next seq\'s slot for pending', async () => {
    const task = newTask();
    await store.prepare(task, batch(task, 1));
    // The task committed up to 64 (confirm does not read records): the next seq, 65, shares slot 1 with batch 1.
    await store.confirm(task, EMPTY_CHECKPOINT, batch(task, RING_SLOTS));
    expect((await store.read(task)).pending).toBeUndefined();
  });
});

describe('prepare: the first write of a seq wins', () => {
  it('refuses a second prepare of the same seq with CheckpointConflict and keeps the first record', async () => {
    const task = newTask();
    const first = batch(task, 1, [entry('a', 'first')]);
    await store.prepare(task, first);
    const error = await rejection(otherStore().prepare(task, batch(task, 1, [entry('a', 'second')], { nextOffset: 999 })));
    expect(error).toBeInstanceOf(CheckpointConflict);
    expect(error).toMatchObject({ task: task.id });
    expect((await store.read(task)).pending).toEqual(first);
  });

  it('refuses the same record twice (a prepare is not idempotent across invocations)', async () => {
    const task = newTask();
    const record = batch(task, 1);
    await store.prepare(task, record);
    await expect(store.prepare(task, record)).rejects.toThrow(CheckpointConflict);
  });

  it('never lets a record of a lower seq replace a higher one in its slot (a zombie a lap behind)', async () => {
    const task = newTask();
    await store.prepare(task, batch(task, 1 + RING_SLOTS));
    await expect(store.prepare(task, batch(task, 1))).rejects.toThrow(CheckpointConflict);
    expect((await rawItem(recordKey(task.app, task.id, 1)))?.['q']).toEqual({ N: String(1 + RING_SLOTS) });
  });

  it('lets a higher seq replace a lower one a ring lap later', async () => {
    const task = newTask();
    await store.prepare(task, batch(task, 1, [entry('a', 'lap 1')]));
    await store.prepare(task, batch(task, 1 + RING_SLOTS, [entry('a', 'lap 2')]));
    const item = await rawItem(recordKey(task.app, task.id, 1));
    expect(item?.['sk']).toEqual({ S: 'r#01' });
    expect(item?.['q']).toEqual({ N: String(1 + RING_SLOTS) });
  });

  it('lets exactly one of 8 concurrent invocations prepare a seq', async () => {
    const task = newTask();
    const racers = Array.from({ length: 8 }, (_, i) => ({ store: otherStore(), record: batch(task, 1, [entry('a', `racer ${i}`)], { nextOffset: 100 + i }) }));
    const outcomes = await Promise.allSettled(racers.map((r) => r.store.prepare(task, r.record)));
    const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
    expect(won).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(CheckpointConflict);
    expect((await store.read(task)).pending).toEqual(racers[won[0]!]!.record);
  });
});

describe('checkpoint writes: conditional on the version read', () => {
  it('confirm moves the checkpoint to the record and returns what a read then finds', async () => {
    const task = newTask();
    const record = batch(task, 1, [entry('a', '1')]);
    await store.prepare(task, record);
    const ckpt = await store.confirm(task, EMPTY_CHECKPOINT, record);
    expect(ckpt).toEqual({ version: 1, committedSeq: 1, holes: [], nextOffset: 10, time: timeAt(1_000), snapshot: EMPTY_CHECKPOINT.snapshot, deltaBytes: record.changeBytes });
    expect((await store.read(task)).checkpoint).toEqual(ckpt);
  });

  it('a first write (from version 0) needs the checkpoint item absent', async () => {
    const task = newTask();
    await store.confirm(task, EMPTY_CHECKPOINT, batch(task, 1));
    const error = await rejection(otherStore().confirm(task, EMPTY_CHECKPOINT, batch(task, 1)));
    expect(error).toBeInstanceOf(CheckpointConflict);
    expect(error).toMatchObject({ task: task.id, expectedVersion: 0 });
    await expect(store.abandon(task, EMPTY_CHECKPOINT, batch(task, 2))).rejects.toThrow(CheckpointConflict);
    expect((await store.read(task)).checkpoint.version).toBe(1);
  });

  it('confirm, abandon and compact fail with CheckpointConflict when the version moved, and change nothing', async () => {
    const task = newTask();
    const v1 = await commit(task, EMPTY_CHECKPOINT, batch(task, 1));
    const v2 = await commit(task, v1, batch(task, 2));
    const snapshot: SnapshotRef = { seq: 2, bank: 1, chunks: 0, id: '', bytes: 0 };
    for (const write of [() => store.confirm(task, v1, batch(task, 3)), () => store.abandon(task, v1, batch(task, 3)), () => store.compact(task, v1, snapshot)]) {
      const error = await rejection(write());
      expect(error).toBeInstanceOf(CheckpointConflict);
      expect(error).toMatchObject({ expectedVersion: 1 });
    }
    expect((await store.read(task)).checkpoint).toEqual(v2);
  });

  it('abandon makes the seq a hole and leaves position, time and state as they were', async () => {
    const task = newTask();
    const v1 = await commit(task, EMPTY_CHECKPOINT, batch(task, 1, [entry('a', '1')]));
    const doomed = batch(task, 2, [entry('a', 'aborted')]);
    await store.prepare(task, doomed);
    const v2 = await store.abandon(task, v1, doomed);
    expect(v2).toEqual({ ...v1, version: 2, holes: [2] });
    expect(await committed(task)).toEqual(['a=1']);
  });

  it('compact makes a written snapshot the task\'s', async () => {
    const task = newTask();
    const v1 = await commit(task, EMPTY_CHECKPOINT, batch(task, 1, [entry('a', '1')]));
    const snapshot = buildSnapshot([entry('a', '1')], 1, 0, 'snap-1', v1.version);
    await store.writeSnapshot(task, snapshot);
    const v2 = await store.compact(task, v1, snapshot.ref);
    expect(v2).toEqual({ ...v1, version: 2, snapshot: snapshot.ref, deltaBytes: 0 });
    expect(await committed(task)).toEqual(['a=1']);
  });
});

describe('a lost response counts as success when the write is ours', () => {
  it('prepare: the retry meets its own record and succeeds', async () => {
    const task = newTask();
    const lossy = losingClient((input) => sortKeyOf(input)?.startsWith('r#') === true);
    const counted = new DynamoMetrics();
    const record = batch(task, 1, [entry('a', '1')]);
    await new DynamoTaskStore(lossy.client, table, { metrics: counted }).prepare(task, record);
    expect([lossy.lost(), lossy.putAttempts()]).toEqual([1, 2]);
    // One PutItem as the store sees it (two attempts inside the SDK), then the look at its own token.
    expect([counted.requests.PutItem, counted.requests.GetItem]).toEqual([1, 1]);
    expect((await store.read(task)).pending).toEqual(record);
  });

  it('a first checkpoint write (condition: item absent): the retry meets its own checkpoint and succeeds', async () => {
    const task = newTask();
    const lossy = losingClient((input) => sortKeyOf(input) === 'ckpt');
    const ckpt = await new DynamoTaskStore(lossy.client, table).confirm(task, EMPTY_CHECKPOINT, batch(task, 1));
    expect([lossy.lost(), lossy.putAttempts()]).toEqual([1, 2]);
    expect(ckpt).toMatchObject({ version: 1, committedSeq: 1 });
    expect((await store.read(task)).checkpoint).toEqual(ckpt);
  });

  it('a later checkpoint write (condition: version): the retry meets its own checkpoint and succeeds', async () => {
    const task = newTask();
    const v1 = await commit(task, EMPTY_CHECKPOINT, batch(task, 1));
    const lossy = losingClient((input) => sortKeyOf(input) === 'ckpt');
    const lossyStore = new DynamoTaskStore(lossy.client, table);
    const v2 = await lossyStore.abandon(task, v1, batch(task, 2));
    expect([lossy.lost(), lossy.putAttempts()]).toEqual([1, 2]);
    expect((await store.read(task)).checkpoint).toEqual(v2);
    expect(v2).toMatchObject({ version: 2, holes: [2] });
  });

  it('a snapshot chunk: the retry rewrites the same chunk and succeeds', async () => {
    const task = newTask();
    const lossy = losingClient((input) => sortKeyOf(input)?.startsWith('s#') === true);
    const counted = new DynamoMetrics();
    const snapshot = buildSnapshot([entry('a', '1')], 0, 0, 'snap-0', 0);
    await new DynamoTaskStore(lossy.client, table, { metrics: counted }).writeSnapshot(task, snapshot);
    expect([lossy.lost(), lossy.putAttempts()]).toEqual([1, 2]);
    expect([counted.requests.PutItem, counted.requests.GetItem]).toEqual([1, 0]);
    expect((await rawItem(chunkKey(task.app, task.id, 0, 0)))?.['id']).toEqual({ S: 'snap-0' });
  });

  it('but not when another writer moved the checkpoint between the lost response and the retry: CheckpointConflict', async () => {
    const task = newTask();
    const v1 = await commit(task, EMPTY_CHECKPOINT, batch(task, 1));
    // Our confirm of batch 2 lands; before the retry, another invocation reads it and abandons batch 3.
    const lossy = losingClient(
      (input) => sortKeyOf(input) === 'ckpt',
      async () => {
        const other = otherStore();
        const { checkpoint } = await other.read(task);
        await other.abandon(task, checkpoint, batch(task, 3));
      },
    );
    await store.prepare(task, batch(task, 2));
    const error = await rejection(new DynamoTaskStore(lossy.client, table).confirm(task, v1, batch(task, 2)));
    expect(error).toBeInstanceOf(CheckpointConflict);
    expect((await store.read(task)).checkpoint).toMatchObject({ version: 3, committedSeq: 2, holes: [3] });
  });
});

describe('writeSnapshot: a chunk place only takes a later version\'s chunks, or the same snapshot again', () => {
  it('refuses chunks written from an older checkpoint version than the ones in the bank', async () => {
    const task = newTask();
    await store.writeSnapshot(task, buildSnapshot([entry('a', 'v5')], 10, 1, 'from-v5', 5));
    await expect(otherStore().writeSnapshot(task, buildSnapshot([entry('a', 'v4')], 9, 1, 'from-v4', 4))).rejects.toThrow(CheckpointConflict);
    expect(await rawItem(chunkKey(task.app, task.id, 1, 0))).toMatchObject({ id: { S: 'from-v5' }, bv: { N: '5' }, q: { N: '10' } });
  });

  it('of two snapshots written from one version, refuses the second', async () => {
    const task = newTask();
    await store.writeSnapshot(task, buildSnapshot([entry('a', 'first')], 10, 1, 'first', 5));
    await expect(otherStore().writeSnapshot(task, buildSnapshot([entry('a', 'second')], 10, 1, 'second', 5))).rejects.toThrow(CheckpointConflict);
    expect((await rawItem(chunkKey(task.app, task.id, 1, 0)))?.['id']).toEqual({ S: 'first' });
  });

  it('accepts the same snapshot written twice', async () => {
    const task = newTask();
    const snapshot = buildSnapshot([entry('a', '1')], 10, 1, 'same', 5);
    await store.writeSnapshot(task, snapshot);
    await expect(store.writeSnapshot(task, snapshot)).resolves.toBeUndefined();
  });

  it('lets a later version\'s snapshot take the bank', async () => {
    const task = newTask();
    await store.writeSnapshot(task, buildSnapshot([entry('a', 'old')], 10, 1, 'old', 5));
    await store.writeSnapshot(task, buildSnapshot([entry('a', 'new')], 20, 1, 'new', 6));
    expect((await rawItem(chunkKey(task.app, task.id, 1, 0)))?.['id']).toEqual({ S: 'new' });
  });

  it('leaves the other bank alone', async () => {
    const task = newTask();
    await store.writeSnapshot(task, buildSnapshot([entry('a', 'bank 0')], 10, 0, 'zero', 5));
    await store.writeSnapshot(task, buildSnapshot([entry('a', 'bank 1')], 10, 1, 'one', 5));
    expect([(await rawItem(chunkKey(task.app, task.id, 0, 0)))?.['id'], (await rawItem(chunkKey(task.app, task.id, 1, 0)))?.['id']]).toEqual([{ S: 'zero' }, { S: 'one' }]);
  });
});

describe('load: the snapshot plus the committed records after it', () => {
  /**
   * Batch 1 commits a=1, b=1; batch 2 is abandoned (a=aborted); batch 3 commits b=3, c=3 with a
   * snapshot of the state after it; batch 4 commits a=4 and clears c; batch 5 is pending (a=5).
   */
  async function history(task: TaskRef): Promise<Checkpoint> {
    let ckpt = await commit(task, EMPTY_CHECKPOINT, batch(task, 1, [entry('a', '1'), entry('b', '1')]));
    const aborted = batch(task, 2, [entry('a', 'aborted')]);
    await store.prepare(task, aborted);
    ckpt = await store.abandon(task, ckpt, aborted);
    const snapshot = buildSnapshot([entry('a', '1'), entry('b', '3'), entry('c', '3')], 3, 0, 'snap-3', ckpt.version);
    const third = batch(task, 3, [entry('b', '3'), entry('c', '3')], { snapshot: snapshot.ref });
    await store.prepare(task, third);
    await store.writeSnapshot(task, snapshot);
    ckpt = await store.confirm(task, ckpt, third);
    ckpt = await commit(task, ckpt, batch(task, 4, [entry('a', '4'), entry('c', undefined)]));
    await store.prepare(task, batch(task, 5, [entry('a', '5')]));
    return ckpt;
  }

  it('is the snapshot with the committed records after it applied; holes and the pending batch are not read', async () => {
    const task = newTask();
    const ckpt = await history(task);
    expect(ckpt).toMatchObject({ committedSeq: 4, holes: [2], snapshot: { seq: 3, bank: 0, chunks: 1, id: 'snap-3' } });
    metrics.reset();
    const load = await store.load(task, ckpt);
    expect(load.entries.map((e) => `${e.key.toString()}=${e.value!.bytes.toString()}`).sort()).toEqual(['a=4', 'b=3']);
    expect(load.records).toBe(1);
    // One consistent BatchGetItem for the chunk and record 4.
    expect(metrics.requests).toMatchObject({ BatchGetItem: 1, GetItem: 0 });
  });

  it('after a batch, returns only the committed changes after it, without reading the snapshot', async () => {
    const task = newTask();
    const ckpt = await history(task);
    metrics.reset();
    expect(await store.load(task, ckpt, 3)).toEqual({ entries: [entry('a', '4'), entry('c', undefined)], records: 1 });
    expect(metrics.estimatedCapacityUnits.BatchGetItem).toBe(1);
  });

  it('after the committed seq, returns nothing', async () => {
    const task = newTask();
    const ckpt = await history(task);
    expect(await store.load(task, ckpt, 4)).toEqual({ entries: [], records: 0 });
  });

  it('after a batch before the snapshot, loads the whole state', async () => {
    const task = newTask();
    const ckpt = await history(task);
    const load = await store.load(task, ckpt, 1);
    expect(load.entries.map((e) => `${e.key.toString()}=${e.value!.bytes.toString()}`).sort()).toEqual(['a=4', 'b=3']);
  });

  it('without a snapshot, applies every committed record from the first', async () => {
    const task = newTask();
    let ckpt = await commit(task, EMPTY_CHECKPOINT, batch(task, 1, [entry('a', '1')]));
    ckpt = await commit(task, ckpt, batch(task, 2, [entry('b', '2'), entry('a', '2')]));
    expect(await committed(task)).toEqual(['a=2', 'b=2']);
    expect((await store.load(task, ckpt)).records).toBe(2);
  });

  it('leaves out values expired at the store\'s clock', async () => {
    const task = newTask();
    await commit(task, EMPTY_CHECKPOINT, batch(task, 1, [entry('a', 'short', clock + 1_000), entry('b', 'long', clock + 60_000)]));
    expect(await committed(task)).toEqual(['a=short', 'b=long']);
    const saved = clock;
    try {
      clock += 1_000;
      expect(await committed(task)).toEqual(['b=long']);
    } finally {
      clock = saved;
    }
  });

  it('reads a snapshot of several chunks back whole', async () => {
    const task = newTask();
    // Random values do not deflate: 540 KB, two chunks.
    const big: StateEntry[] = Array.from({ length: 6 }, (_, i) => ({ key: Buffer.from(`k${i}`), name: 'total', value: { bytes: randomBytes(90 * 1024), expiresAt: undefined } }));
    const v1 = await store.confirm(task, EMPTY_CHECKPOINT, batch(task, 1));
    const snapshot = buildSnapshot(big, 1, 0, 'big', v1.version);
    expect(snapshot.ref.chunks).toBe(Math.ceil(snapshot.ref.bytes / SNAPSHOT_CHUNK_BYTES));
    expect(snapshot.ref.chunks).toBeGreaterThanOrEqual(2);
    await store.writeSnapshot(task, snapshot);
    const ckpt = await store.compact(task, v1, snapshot.ref);
    const load = await store.load(task, ckpt);
    expect(load.entries.map((e) => e.key.toString()).sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5']);
    expect(load.entries.every((e) => e.value!.bytes.equals(big.find((b) => b.key.equals(e.key))!.value!.bytes))).toBe(true);
  });

  it('throws TaskStateCorrupt naming the task when a committed record is gone', async () => {
    const task = newTask();
    const ckpt = await history(task);
    await dynamo.send(new DeleteItemCommand({ TableName: table, Key: keyAttributes(recordKey(task.app, task.id, 4)) }));
    const error = await rejection(store.load(task, ckpt));
    expect(error).toBeInstanceOf(TaskStateCorrupt);
    expect((error as Error).message).toMatch(new RegExp(`^task ${task.id.replace('.', '\\.')}: the record of committed batch 4 is missing`));
  });

  it('throws TaskStateCorrupt when a snapshot chunk was overwritten by another snapshot', async () => {
    const task = newTask();
    const ckpt = await history(task);
    await store.writeSnapshot(task, buildSnapshot([entry('z', 'other')], 4, 0, 'other', ckpt.version));
    await expect(store.load(task, ckpt)).rejects.toThrow(/the snapshot of batch 3 has 0 of its 1 chunks/);
  });
});

describe('rebase (reset, savepoint import)', () => {
  it('replaces the state and the position, and puts the task a whole ring above every seq used', async () => {
    const task = newTask();
    let ckpt = await commit(task, EMPTY_CHECKPOINT, batch(task, 1, [entry('a', '1')]));
    ckpt = await commit(task, ckpt, batch(task, 2, [entry('b', '2')]));
    const rebased = await store.rebase(task, ckpt, [entry('x', 'imported')], 500, timeAt(42));
    expect(rebased).toMatchObject({ version: 3, committedSeq: 2 + RING_SLOTS, holes: [], nextOffset: 500, time: timeAt(42), snapshot: { seq: 2 + RING_SLOTS, bank: 0, chunks: 1 }, deltaBytes: 0 });
    expect(await store.read(task)).toEqual({ checkpoint: rebased, pending: undefined });
    expect(await committed(task)).toEqual(['x=imported']);
  });

  it('never reads a record written before it, or by a zombie after it, and lets the next batch take the zombie\'s slot', async () => {
    const task = newTask();
    const ckpt = await commit(task, EMPTY_CHECKPOINT, batch(task, 1, [entry('a', '1')]));
    // A batch left pending at seq 2, then the rebase.
    await store.prepare(task, batch(task, 2, [entry('a', 'pending')]));
    const rebased = await store.rebase(task, ckpt, [entry('x', 'imported')], 500, timeAt(42));
    expect(nextSeq(rebased)).toBe(2 + RING_SLOTS);
    // A zombie that still holds the old checkpoint prepares the seq after the pending one.
    await otherStore().prepare(task, batch(task, 3, [entry('a', 'zombie')]));
    expect(await store.read(task)).toEqual({ checkpoint: rebased, pending: undefined });
    expect(await committed(task)).toEqual(['x=imported']);
    // The first batch after the rebase lands in slot 2, replacing the old pending record.
    const next = batch(task, nextSeq(rebased), [entry('x', 'after')]);
    await store.prepare(task, next);
    expect((await store.read(task)).pending).toEqual(next);
    await store.confirm(task, rebased, next);
    expect(await committed(task)).toEqual(['x=after']);
  });

  it('fails with CheckpointConflict when the task moved since the checkpoint it started from', async () => {
    const task = newTask();
    const v1 = await commit(task, EMPTY_CHECKPOINT, batch(task, 1, [entry('a', '1')]));
    await commit(task, v1, batch(task, 2, [entry('a', '2')]));
    await expect(store.rebase(task, v1, [entry('x', 'imported')], 500, timeAt(42))).rejects.toThrow(CheckpointConflict);
    expect(await committed(task)).toEqual(['a=2']);
  });
});

describe('requests and write units', () => {
  it('a warm batch costs one PutItem for the record and one for the confirm', async () => {
    const task = newTask();
    const record = batch(task, 1, [entry('a', '1')]);
    await store.prepare(task, record);
    expect(metrics.requests).toMatchObject({ PutItem: 1, GetItem: 0, BatchGetItem: 0, UpdateItem: 0, TransactWriteItems: 0 });
    await store.confirm(task, EMPTY_CHECKPOINT, record);
    expect(metrics.totalRequests()).toBe(2);
    expect(metrics.requests.PutItem).toBe(2);
  });

  it('a YSB-sized batch (25 campaign windows) costs 3 write units: 2 for the record, 1 for the confirm', async () => {
    const task = newTask();
    const start = 1_700_000_000_000;
    const changes: StateEntry[] = CAMPAIGNS.slice(0, 25).map((c, i) => ({
      key: Buffer.from(c.campaign_id),
      name: 'window-3',
      value: val(JSON.stringify({ windows: [{ start, end: start + 10_000, acc: 40 + i, count: 40 + i, sinceFiring: 40 + i, fired: false, earlyTimer: null }] })),
    }));
    const encoded = encodeEntries(changes);
    const time: TimeState = { ...INITIAL_TIME, wm: start + 9_000, now: start + 9_500, since: start, up: { 'views.0': { wm: start + 9_000, idle: false, queue: [] }, 'views.1': { wm: start + 9_100, idle: false, queue: [] } } };
    const record = batch(task, 1, changes, { time, encoded, changeBytes: encoded.length, nextOffset: 123_456 });
    await store.prepare(task, record);
    const recordUnits = metrics.estimatedCapacityUnits.PutItem;
    await store.confirm(task, EMPTY_CHECKPOINT, record);
    const confirmUnits = metrics.estimatedCapacityUnits.PutItem - recordUnits;
    console.log(
      `YSB-sized batch: ${encoded.length} bytes of changes; estimated write units: record ${recordUnits}, confirm ${confirmUnits}, total ${metrics.totalEstimatedCapacityUnits()}; DynamoDB Local reported ${metrics.totalCapacityUnits()}`,
    );
    expect([recordUnits, confirmUnits]).toEqual([2, 1]);
    expect(metrics.totalEstimatedCapacityUnits()).toBe(3);
    expect(metrics.requests.PutItem).toBe(2);
  });

  it('a cold start of a task with a snapshot and 3 records costs 2 GetItems and 1 BatchGetItem', async () => {
    const task = newTask();
    let ckpt = await store.confirm(task, EMPTY_CHECKPOINT, batch(task, 1));
    const snapshot = buildSnapshot([entry('a', '1')], 1, 0, 'snap-1', ckpt.version);
    await store.writeSnapshot(task, snapshot);
    ckpt = await store.compact(task, ckpt, snapshot.ref);
    for (const seq of [2, 3, 4]) ckpt = await commit(task, ckpt, batch(task, seq, [entry('a', String(seq))]));
    metrics.reset();
    const view = await store.read(task);
    const load = await store.load(task, view.checkpoint);
    expect(load).toEqual({ entries: [entry('a', '4')], records: 3 });
    expect(metrics.requests).toMatchObject({ GetItem: 2, BatchGetItem: 1, PutItem: 0 });
    // Checkpoint 1 + the empty slot of batch 5 1 + (chunk 1 + 3 records) = 6 read units.
    expect(metrics.totalEstimatedCapacityUnits()).toBe(6);
  });

  it('counts a refused prepare as one PutItem and the look at the token as one GetItem', async () => {
    const task = newTask();
    await store.prepare(task, batch(task, 1));
    metrics.reset();
    await expect(store.prepare(task, batch(task, 1))).rejects.toThrow(CheckpointConflict);
    expect(metrics.requests).toMatchObject({ PutItem: 1, GetItem: 1 });
  });
});

describe('errors', () => {
  it('names the table, the task and what to do when the table does not exist', async () => {
    const missing = new DynamoTaskStore(dynamo, uniqueName('sluice-missing'));
    const error = await rejection(missing.read(newTask(2)));
    expect(error).toBeInstanceOf(DynamoStoreError);
    expect(error).toMatchObject({ code: 'SLUICE_DYNAMODB', place: { stage: 'count', partition: 2 } });
    expect((error as Error).message).toMatch(/GetItem on table sluice-missing-.* failed for task count\.2: ResourceNotFoundException.*createTable/);
  });
});

describe('a table written by Sluice 0.1 (per-key layout)', () => {
  it('is refused with an error naming the task and the way out (a savepoint), not read as empty', async () => {
    const task = newTask();
    await dynamo.send(new PutItemCommand({ TableName: table, Item: { pk: { S: `ckpt#${task.app}#${task.id}` }, sk: { S: 'ckpt' }, version: { N: '3' } } }));
    await expect(store.read(task)).rejects.toMatchObject({ code: 'SLUICE_DYNAMODB', message: expect.stringContaining(`task ${task.id} has state in the per-key layout of Sluice 0.1`) as string });
  });
});
