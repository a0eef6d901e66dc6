/**
 * The DynamoDB CheckpointStore against DynamoDB Local: the staged/committed protocol,
 * conditional checkpoint writes, the claim path for large batches, and request counts.
 */
import { GetItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointConflict, type Pending, type StateValue, type StateWrite, type TaskRef } from '../../framework/commit/ports.js';
import { DynamoCheckpointStore, DynamoMetrics, DynamoStoreError, stateMapKey } from '../../framework/dynamodb/checkpoint-store.js';
import { stateItemKey, keyAttributes } from '../../framework/dynamodb/layout.js';
import { createTable, deleteTable } from '../../framework/dynamodb/table.js';
import { readCommittedState } from '../../framework/state/query.js';
import { testDynamo, uniqueName } from '../support/infra.js';

const dynamo = testDynamo();
const table = uniqueName('sluice-test-ckpt');
const metrics = new DynamoMetrics();
let clock = 1_700_000_000_000;
const store = new DynamoCheckpointStore(dynamo, table, { metrics, now: () => clock });
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

// Every test gets its own app, so tasks and keys never collide between tests.
function newTask(partition = 0): TaskRef {
  const app = uniqueName('app');
  return { app, stage: 'count', topic: `${app}.count.in`, partition, id: `count.${partition}` };
}

function val(text: string, expiresAt?: number): StateValue {
  return { bytes: Buffer.from(text), expiresAt };
}

function write(key: string, value: StateValue | undefined, previous?: StateValue, name = 'total'): StateWrite {
  return { key: Buffer.from(key), name, value, previous };
}

function pending(seq: number, nextOffset: number, extra: Record<string, unknown> = {}): Pending {
  return { seq, nextOffset, txnId: 'app.count.0', progress: { topic: 'app.progress', partition: 0, offset: seq * 10 }, extra };
}

async function committed(task: TaskRef, keys: string[], name = 'total'): Promise<Record<string, string | undefined>> {
  const checkpoint = await store.read(task);
  const values = await store.loadState(task, keys.map((k) => ({ key: Buffer.from(k), name })), checkpoint);
  return Object.fromEntries(keys.map((k) => [k, values.get(stateMapKey(Buffer.from(k), name))?.bytes.toString()]));
}

async function rawItem(task: TaskRef, key: string, name = 'total'): Promise<Record<string, AttributeValue> | undefined> {
  const out = await dynamo.send(
    new GetItemCommand({ TableName: table, Key: keyAttributes(stateItemKey(task.app, task.stage, Buffer.from(key), name)), ConsistentRead: true }),
  );
  return out.Item;
}

/** Commits `writes` as batch `seq` through prepare + confirm; returns the new version. */
async function commitBatch(task: TaskRef, version: number, seq: number, writes: StateWrite[]): Promise<number> {
  const p = pending(seq, seq * 100);
  const prepared = await store.prepare(task, version, p, writes);
  return store.confirm(task, prepared, p);
}

function keys(n: number, prefix = 'k'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

/** A client whose TransactWriteItems calls after the first `free` ones wait until `release()`. */
function gatedClient(free: number): { client: DynamoDBClient; release: () => void } {
  const client = testDynamo();
  clients.push(client);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let seen = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'TransactWriteItemsCommand' && ++seen > free) await gate;
      return next(args);
    },
    { step: 'initialize', name: 'testGate' },
  );
  return { client, release };
}

describe('read', () => {
  it('returns the empty checkpoint for a task that never wrote one', async () => {
    expect(await store.read(newTask())).toEqual({ version: 0, committedSeq: 0, holes: [], nextOffset: -1, pending: undefined, extra: {} });
  });
});

describe('prepare and confirm', () => {
  it('records pending after prepare and moves the position on confirm', async () => {
    const task = newTask();
    const p = pending(1, 42, { watermark: 7 });
    expect(await store.prepare(task, 0, p, [write('a', val('1'))])).toBe(1);
    expect(await store.read(task)).toEqual({ version: 1, committedSeq: 0, holes: [], nextOffset: -1, pending: p, extra: {} });
    expect(await store.confirm(task, 1, p)).toBe(2);
    expect(await store.read(task)).toEqual({ version: 2, committedSeq: 1, holes: [], nextOffset: 42, pending: undefined, extra: { watermark: 7 } });
  });

  it('makes staged values committed only once confirmed', async () => {
    const task = newTask();
    await commitBatch(task, 0, 1, [write('a', val('a1')), write('b', val('b1'))]);
    const p = pending(2, 200);
    await store.prepare(task, 2, p, [write('a', val('a2'), val('a1')), write('c', val('c2'))]);
    expect(await committed(task, ['a', 'b', 'c'])).toEqual({ a: 'a1', b: 'b1', c: undefined });
    await store.confirm(task, 3, p);
    expect(await committed(task, ['a', 'b', 'c'])).toEqual({ a: 'a2', b: 'b1', c: 'c2' });
  });

  it('commits a staged clear as absent and deletes items left with nothing', async () => {
    const task = newTask();
    const v = await commitBatch(task, 0, 1, [write('a', val('a1')), write('b', val('b1'))]);
    await commitBatch(task, v, 2, [write('a', undefined, val('a1'))]);
    expect(await committed(task, ['a', 'b'])).toEqual({ a: undefined, b: 'b1' });
    await commitBatch(task, v + 2, 3, [write('a', undefined, undefined)]);
    expect(await rawItem(task, 'a')).toBeUndefined();
  });

  it('stores an empty value as present', async () => {
    const task = newTask();
    await commitBatch(task, 0, 1, [write('a', val(''))]);
    expect(await committed(task, ['a'])).toEqual({ a: '' });
  });

  it('keeps the owning task in p for tools', async () => {
    const task = newTask(3);
    await store.prepare(task, 0, pending(1, 1), [write('a', val('1'))]);
    expect((await rawItem(task, 'a'))?.['p']).toEqual({ S: 'count.3' });
  });
});

describe('abandon', () => {
  it('keeps the old values, records a hole and leaves the position', async () => {
    const task = newTask();
    const v = await commitBatch(task, 0, 1, [write('a', val('a1'))]);
    const p = pending(2, 250);
    await store.prepare(task, v, p, [write('a', val('a2'), val('a1')), write('b', val('b2'))]);
    expect(await store.abandon(task, v + 1, p)).toBe(v + 2);
    expect(await store.read(task)).toMatchObject({ version: v + 2, committedSeq: 1, holes: [2], nextOffset: 100, pending: undefined });
    expect(await committed(task, ['a', 'b'])).toEqual({ a: 'a1', b: undefined });
  });

  it('keeps a hole uncommitted after later batches commit past it', async () => {
    const task = newTask();
    const v = await commitBatch(task, 0, 1, [write('a', val('a1'))]);
    const p = pending(2, 250);
    await store.prepare(task, v, p, [write('a', val('a2'), val('a1'))]);
    await store.abandon(task, v + 1, p);
    await commitBatch(task, v + 2, 3, [write('other', val('x'))]);
    expect(await store.read(task)).toMatchObject({ committedSeq: 3, holes: [2] });
    expect(await committed(task, ['a', 'other'])).toEqual({ a: 'a1', other: 'x' });
  });
});

describe('conflicts', () => {
  it('rejects a prepare with a stale version and stages nothing', async () => {
    const task = newTask();
    const v = await commitBatch(task, 0, 1, [write('a', val('a1'))]);
    const before = await rawItem(task, 'a');
    await expect(store.prepare(task, v - 1, pending(2, 200), [write('a', val('a2'), val('a1')), write('b', val('b2'))])).rejects.toThrow(
      CheckpointConflict,
    );
    expect(await rawItem(task, 'a')).toEqual(before);
    expect(await rawItem(task, 'b')).toBeUndefined();
    expect(await store.read(task)).toMatchObject({ version: v, pending: undefined });
  });

  it('rejects a first prepare (version 0) when the checkpoint already exists', async () => {
    const task = newTask();
    await store.prepare(task, 0, pending(1, 1), [write('a', val('a1'))]);
    await expect(store.prepare(task, 0, pending(1, 1), [write('b', val('b1'))])).rejects.toThrow(CheckpointConflict);
    expect(await rawItem(task, 'b')).toBeUndefined();
  });

  it('rejects confirm and abandon with a stale version', async () => {
    const task = newTask();
    const p = pending(1, 10);
    const v = await store.prepare(task, 0, p, [write('a', val('a1'))]);
    await expect(store.confirm(task, v - 1, p)).rejects.toThrow(CheckpointConflict);
    await expect(store.abandon(task, v + 1, p)).rejects.toThrow(CheckpointConflict);
    expect(await store.read(task)).toMatchObject({ version: v, committedSeq: 0, holes: [], pending: p });
  });

  it('treats its own checkpoint write as done when a retried request finds it already applied', async () => {
    // The first attempt lands but "loses" its response; the retry then fails its condition.
    const client = testDynamo();
    clients.push(client);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UpdateItemCommand') await next(args);
        return next(args);
      },
      { step: 'build', name: 'testDoubleSend' },
    );
    const task = newTask();
    const p = pending(1, 10);
    const v = await store.prepare(task, 0, p, [write('a', val('a1'))]);
    const retried = new DynamoMetrics();
    expect(await new DynamoCheckpointStore(client, table, { metrics: retried }).confirm(task, v, p)).toBe(v + 1);
    // The failed retry made the store look at the checkpoint and find its own write token there.
    expect(retried.requests).toMatchObject({ UpdateItem: 1, GetItem: 1 });
    expect(await store.read(task)).toMatchObject({ version: v + 1, committedSeq: 1, pending: undefined });
  });

  it('rejects two writes of the same state item in one batch', async () => {
    await expect(store.prepare(newTask(), 0, pending(1, 1), [write('a', val('1')), write('a', val('2'))])).rejects.toThrow(DynamoStoreError);
  });
});

describe('batches over 99 writes', () => {
  it('claims the checkpoint, then stages in fenced chunks', async () => {
    const task = newTask();
    const ks = keys(250);
    const p = pending(1, 500);
    expect(await store.prepare(task, 0, p, ks.map((k) => write(k, val(`${k}=1`))))).toBe(1);
    expect(metrics.requests).toMatchObject({ UpdateItem: 1, TransactWriteItems: 3 });
    expect(await store.read(task)).toMatchObject({ version: 1, pending: p });
    await store.confirm(task, 1, p);
    const values = await committed(task, ks);
    expect(Object.values(values).filter((x) => x !== undefined)).toHaveLength(250);
    expect(values['k249']).toBe('k249=1');
  });

  it('fences a zombie whose claim was superseded: its remaining chunks fail and what it staged stays invisible', async () => {
    const task = newTask();
    const ks = keys(150, 'z');
    const v = await commitBatch(task, 0, 1, ks.map((k) => write(k, val(`${k}@1`))));
    // The zombie claims and writes its first chunk, then stalls.
    const gated = gatedClient(1);
    const zombie = new DynamoCheckpointStore(gated.client, table);
    const zp = pending(2, 300);
    const zombieDone = zombie.prepare(task, v, zp, ks.map((k) => write(k, val(`${k}@zombie`), val(`${k}@1`)))).then(
      () => 'prepared',
      (err: unknown) => err,
    );
    await expect.poll(async () => (await store.read(task)).pending?.seq, { timeout: 10_000 }).toBe(2);
    await expect.poll(async () => (await rawItem(task, 'z0'))?.['ss'], { timeout: 10_000 }).toEqual({ N: '2' });
    // The live invocation recovers (the zombie's Kafka transaction never committed) and moves on.
    const found = await store.read(task);
    const afterAbandon = await store.abandon(task, found.version, zp);
    const lp = pending(3, 300);
    const lv = await store.prepare(task, afterAbandon, lp, [write('z1', val('z1@live'), val('z1@1'))]);
    await store.confirm(task, lv, lp);
    gated.release();
    expect(await zombieDone).toBeInstanceOf(CheckpointConflict);
    expect(await rawItem(task, 'z149')).toMatchObject({ ss: { N: '1' } });
    const values = await committed(task, ks);
    expect(values['z0']).toBe('z0@1');
    expect(values['z1']).toBe('z1@live');
    expect(ks.filter((k) => k !== 'z1' && values[k] !== `${k}@1`)).toEqual([]);
    expect(await store.read(task)).toMatchObject({ committedSeq: 3, holes: [2], nextOffset: 300, pending: undefined });
  });

  it('fences a zombie that loses the claim itself', async () => {
    const task = newTask();
    const ks = keys(120, 'c');
    await store.prepare(task, 0, pending(1, 10), [write('first', val('1'))]);
    await expect(store.prepare(task, 0, pending(1, 10), ks.map((k) => write(k, val(k))))).rejects.toThrow(CheckpointConflict);
    expect(await rawItem(task, 'c0')).toBeUndefined();
    expect(await rawItem(task, 'c119')).toBeUndefined();
  });
});

describe('loadState', () => {
  it('reads over 100 keys in batches of 100 and leaves missing keys out', async () => {
    const task = newTask();
    const ks = keys(230);
    await store.commitDirect(task, 0, 1, 10, ks.slice(0, 200).map((k) => write(k, val(k))), {});
    metrics.reset();
    const checkpoint = await store.read(task);
    const values = await store.loadState(task, ks.map((k) => ({ key: Buffer.from(k), name: 'total' })), checkpoint);
    expect(values.size).toBe(200);
    expect(values.get(stateMapKey(Buffer.from('k199'), 'total'))?.bytes.toString()).toBe('k199');
    expect(values.has(stateMapKey(Buffer.from('k200'), 'total'))).toBe(false);
    expect(metrics.requests.BatchGetItem).toBe(3);
  });

  it('tells state names of one key apart and accepts a key asked for twice', async () => {
    const task = newTask();
    await commitBatch(task, 0, 1, [write('a', val('sum'), undefined, 'sum'), write('a', val('max'), undefined, 'max')]);
    const checkpoint = await store.read(task);
    const asked = [{ key: Buffer.from('a'), name: 'sum' }, { key: Buffer.from('a'), name: 'max' }, { key: Buffer.from('a'), name: 'sum' }];
    const values = await store.loadState(task, asked, checkpoint);
    expect([...values.entries()].map(([k, v]) => [k, v.bytes.toString()]).sort()).toEqual([
      [stateMapKey(Buffer.from('a'), 'max'), 'max'],
      [stateMapKey(Buffer.from('a'), 'sum'), 'sum'],
    ]);
  });
});

describe('TTL', () => {
  it('writes ttl as the latest expiry in epoch seconds and reads expired values as absent', async () => {
    const task = newTask();
    const expiresAt = clock + 60_500;
    await commitBatch(task, 0, 1, [write('a', val('a1', expiresAt)), write('forever', val('f'))]);
    const item = await rawItem(task, 'a');
    expect(item?.['ttl']).toEqual({ N: String(Math.ceil(expiresAt / 1000)) });
    expect(item?.['se']).toEqual({ N: String(expiresAt) });
    expect((await rawItem(task, 'forever'))?.['ttl']).toBeUndefined();
    expect(await committed(task, ['a'])).toEqual({ a: 'a1' });
    const saved = clock;
    try {
      clock = expiresAt;
      expect(await committed(task, ['a', 'forever'])).toEqual({ a: undefined, forever: 'f' });
      expect(await readCommittedState({ client: dynamo, table, app: task.app, stage: 'count', now: () => clock }, Buffer.from('a'), 'total')).toBeUndefined();
    } finally {
      clock = saved;
    }
  });
});

describe('queryable state', () => {
  it('reads the committed value, not the staged one, until the batch is confirmed', async () => {
    const task = newTask(2);
    const target = { client: dynamo, table, app: task.app, stage: 'count' };
    const v = await commitBatch(task, 0, 1, [write('a', val('a1'))]);
    const p = pending(2, 200);
    await store.prepare(task, v, p, [write('a', val('a2'), val('a1'))]);
    expect((await readCommittedState(target, Buffer.from('a'), 'total'))?.toString()).toBe('a1');
    expect((await readCommittedState({ ...target, taskId: task.id }, Buffer.from('a'), 'total'))?.toString()).toBe('a1');
    await store.confirm(task, v + 1, p);
    expect((await readCommittedState(target, Buffer.from('a'), 'total'))?.toString()).toBe('a2');
    expect((await readCommittedState({ ...target, taskId: task.id }, Buffer.from('a'), 'total'))?.toString()).toBe('a2');
  });

  it('reads an unknown key as absent', async () => {
    const task = newTask();
    expect(await readCommittedState({ client: dynamo, table, app: task.app, stage: 'count' }, Buffer.from('nope'), 'total')).toBeUndefined();
  });
});

describe('commitDirect (at-least-once)', () => {
  it('writes values as committed and moves the position in one transaction', async () => {
    const task = newTask();
    expect(await store.commitDirect(task, 0, 1, 77, [write('a', val('a1')), write('b', val('b1'))], { watermark: 5 })).toBe(1);
    expect(metrics.requests).toMatchObject({ TransactWriteItems: 1, UpdateItem: 0 });
    expect(await store.read(task)).toEqual({ version: 1, committedSeq: 1, holes: [], nextOffset: 77, pending: undefined, extra: { watermark: 5 } });
    expect(await committed(task, ['a', 'b'])).toEqual({ a: 'a1', b: 'b1' });
    expect((await rawItem(task, 'a'))?.['ss']).toBeUndefined();
  });

  it('writes nothing when the version is stale', async () => {
    const task = newTask();
    await store.commitDirect(task, 0, 1, 1, [write('a', val('a1'))], {});
    await expect(store.commitDirect(task, 0, 2, 2, [write('b', val('b1'))], {})).rejects.toThrow(CheckpointConflict);
    expect(await rawItem(task, 'b')).toBeUndefined();
  });

  it('writes over 99 values by claiming the checkpoint, fenced chunks, then moving the position', async () => {
    const task = newTask();
    const ks = keys(130);
    expect(await store.commitDirect(task, 0, 1, 130, ks.map((k) => write(k, val(k))), {})).toBe(2);
    expect(metrics.requests).toMatchObject({ UpdateItem: 2, TransactWriteItems: 2 });
    expect(await store.read(task)).toMatchObject({ version: 2, committedSeq: 1, nextOffset: 130, pending: undefined });
    expect(Object.values(await committed(task, ks)).filter((x) => x !== undefined)).toHaveLength(130);
  });

  it('cannot lose an update: a loser whose claim was superseded writes nothing more', async () => {
    const task = newTask();
    const ks = keys(150, 'w');
    const v = await store.commitDirect(task, 0, 1, 10, ks.map((k) => write(k, val(`${k}=1`))), {});
    // The loser (a zombie, or a concurrent invocation of the task) claims and writes its first chunk, then stalls.
    const gated = gatedClient(1);
    const loser = new DynamoCheckpointStore(gated.client, table);
    const loserDone = loser.commitDirect(task, v, 2, 20, ks.map((k) => write(k, val(`${k}=loser`))), {}).then(
      () => 'committed',
      (err: unknown) => err,
    );
    await expect.poll(async () => (await store.read(task)).version, { timeout: 10_000 }).toBe(v + 1);
    await expect.poll(async () => (await committed(task, ['w0']))['w0'], { timeout: 10_000 }).toBe('w0=loser');
    // The winner starts from the checkpoint as it now is, commits its batch and then the next one.
    const claimedByLoser = (await store.read(task)).version;
    const afterFirst = await store.commitDirect(task, claimedByLoser, 2, 20, ks.map((k) => write(k, val(`${k}=2`))), {});
    await store.commitDirect(task, afterFirst, 3, 30, [write('w149', val('w149=3'))], {});
    gated.release();
    expect(await loserDone).toBeInstanceOf(CheckpointConflict);
    const values = await committed(task, ks);
    expect(values['w149']).toBe('w149=3');
    expect(ks.filter((k) => k !== 'w149' && values[k] !== `${k}=2`)).toEqual([]);
    expect(await store.read(task)).toMatchObject({ committedSeq: 3, nextOffset: 30, pending: undefined });
  });

  it('writes nothing when it loses the claim itself', async () => {
    const task = newTask();
    await store.commitDirect(task, 0, 1, 1, [write('first', val('1'))], {});
    await expect(store.commitDirect(task, 0, 2, 2, keys(120, 'c').map((k) => write(k, val(k))), {})).rejects.toThrow(CheckpointConflict);
    expect(await rawItem(task, 'c0')).toBeUndefined();
    expect(await rawItem(task, 'c119')).toBeUndefined();
  });
});

describe('requests per operation', () => {
  it('costs one request per step for a batch of 10 writes', async () => {
    const task = newTask();
    const ks = keys(10);
    const checkpoint = await store.read(task);
    expect(metrics.requests.GetItem).toBe(1);
    await store.loadState(task, ks.map((k) => ({ key: Buffer.from(k), name: 'total' })), checkpoint);
    expect(metrics.requests.BatchGetItem).toBe(1);
    const p = pending(1, 10);
    metrics.reset();
    const v = await store.prepare(task, 0, p, ks.map((k) => write(k, val(k))));
    expect(metrics.totalRequests()).toBe(1);
    expect(metrics.requests.TransactWriteItems).toBe(1);
    metrics.reset();
    await store.confirm(task, v, p);
    expect(metrics.totalRequests()).toBe(1);
    expect(metrics.requests.UpdateItem).toBe(1);
  });

  it('prepares and commits a batch without state writes with one conditional UpdateItem (1 unit, not a 2-unit transaction)', async () => {
    const task = newTask();
    const p = pending(1, 10);
    expect(await store.prepare(task, 0, p, [])).toBe(1);
    expect(metrics.requests).toMatchObject({ UpdateItem: 1, TransactWriteItems: 0 });
    expect(metrics.estimatedCapacityUnits.UpdateItem).toBe(1);
    expect(await store.read(task)).toMatchObject({ version: 1, pending: p });
    await expect(store.prepare(task, 0, pending(1, 10), [])).rejects.toThrow(CheckpointConflict);
    await store.confirm(task, 1, p);
    metrics.reset();
    expect(await store.commitDirect(task, 2, 2, 20, [], { x: 1 })).toBe(3);
    expect(metrics.requests).toMatchObject({ UpdateItem: 1, TransactWriteItems: 0 });
    expect(await store.read(task)).toMatchObject({ version: 3, committedSeq: 2, nextOffset: 20, extra: { x: 1 } });
  });

  it('reports the capacity DynamoDB returned and estimates it by the pricing rules', async () => {
    const task = newTask();
    await store.prepare(task, 0, pending(1, 10), keys(10).map((k) => write(k, val(k))));
    // DynamoDB Local reports a flat 4 per transaction; AWS would say 2 WCU per item under 1 KB.
    expect(metrics.capacityUnits.TransactWriteItems).toBeGreaterThan(0);
    expect(metrics.estimatedCapacityUnits.TransactWriteItems).toBe(2 * 11);
    metrics.reset();
    await store.commitDirect(newTask(), 0, 1, 1, keys(130).map((k) => write(k, val(k))), {});
    // 2 claim/move updates; chunks of 99 + 31 items, each with its ConditionCheck, at 2 units per item.
    expect(metrics.estimatedCapacityUnits).toMatchObject({ TransactWriteItems: 2 * (130 + 2), UpdateItem: 2 });
  });
});

describe('errors', () => {
  it('names the table and what to do when the table does not exist', async () => {
    const missing = new DynamoCheckpointStore(dynamo, uniqueName('sluice-missing'));
    const err: unknown = await missing.read(newTask()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DynamoStoreError);
    expect(err).toMatchObject({ code: 'SLUICE_DYNAMODB', place: { stage: 'count', partition: 0 } });
    expect(String((err as Error).message)).toMatch(/ResourceNotFoundException.*createTable/);
  });

  it('creates the table idempotently', async () => {
    await expect(createTable(dynamo, table)).resolves.toBeUndefined();
  });
});
