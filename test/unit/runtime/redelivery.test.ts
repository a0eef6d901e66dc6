import { describe, expect, it } from 'vitest';
import { readProvenance } from '../../../framework/record/provenance.js';
import { count, json, pipeline } from '../../../framework/index.js';
import { stageHarness } from '../../../framework/testing/index.js';

interface Order {
  readonly id: string;
  readonly user: string;
}

const orderSerde = json<Order>();
const order = (id: string, user = 'ann'): { key: string; value: Order } => ({ key: user, value: { id, user } });
const values = <T>(outputs: ReadonlyArray<{ value: T }>): T[] => outputs.map((o) => o.value);

/** orders → (source stage) keyBy user → (by-user) running count → `counts`; source stage also copies ids to `ids`. */
function counting() {
  const p = pipeline('shop', { partitions: 1 });
  const orders = p.source('orders', { serde: orderSerde });
  orders.map((o) => o.id).sink('ids', { serde: json<string>() });
  orders
    .keyBy((o) => o.user, { name: 'user' })
    .aggregate(count(), { name: 'orders' })
    .sink('counts', { serde: json() });
  return p;
}

describe('redelivery', () => {
  it('skips a batch delivered twice with the same offsets', async () => {
    const h = stageHarness(counting(), 'orders');
    const batch = h.toKafkaRecords([order('o1'), order('o2')]);
    await h.deliver(batch);
    const [again] = await h.deliver(batch);
    expect(values(h.outputs('ids'))).toEqual(['o1', 'o2']);
    expect(again).toEqual({ task: 'orders.0', received: 2, duplicates: 2, processed: 0, outputs: 0, deadLetters: 0, seq: undefined, recovery: undefined, kind: 'data', timersFired: 0, watermark: expect.any(Number) });
  });

  it('processes only the new records of an overlapping, re-split batch', async () => {
    const h = stageHarness(counting(), 'orders');
    const records = h.toKafkaRecords([order('o1'), order('o2'), order('o3'), order('o4'), order('o5')]);
    await h.deliver(records.slice(0, 3));
    const [overlap] = await h.deliver(records.slice(1, 5));
    expect(values(h.outputs('ids'))).toEqual(['o1', 'o2', 'o3', 'o4', 'o5']);
    expect(overlap).toMatchObject({ received: 4, duplicates: 2, processed: 2, seq: 2 });
  });

  it('skips redelivered records after a container restart too (the position is in the checkpoint)', async () => {
    const h = stageHarness(counting(), 'orders');
    const batch = h.toKafkaRecords([order('o1'), order('o2')]);
    await h.deliver(batch);
    h.restartContainer();
    await h.deliver(batch);
    expect(values(h.outputs('ids'))).toEqual(['o1', 'o2']);
    expect(h.checkpoint()).toMatchObject({ committedSeq: 1, nextOffset: 2 });
  });

  it('does not count a redelivered record twice in keyed state', async () => {
    const h = stageHarness(counting(), 'by-user');
    const first = h.toKafkaRecords([order('o1'), order('o2', 'bob'), order('o3')]);
    const next = h.toKafkaRecords([order('o4')]);
    await h.deliver(first);
    await h.deliver(first);
    await h.deliver([...first.slice(2), ...next]);
    expect(values(h.outputs('counts'))).toEqual([
      { key: 'ann', value: 1 },
      { key: 'bob', value: 1 },
      { key: 'ann', value: 2 },
      { key: 'ann', value: 3 },
    ]);
    expect(h.state<number>('ann', 'orders')).toBe(3);
  });

  it('does not repartition a redelivered record twice', async () => {
    const h = stageHarness(counting(), 'orders');
    const batch = h.toKafkaRecords([order('o1'), order('o2')]);
    await h.deliver(batch);
    await h.deliver(batch);
    expect(h.outputs('shop.by-user.in', orderSerde).map((r) => r.value.id)).toEqual(['o1', 'o2']);
  });
});

describe('provenance headers', () => {
  it('mark every output with its task, commit sequence and index within the commit', async () => {
    const h = stageHarness(counting(), 'orders');
    await h.send([order('o1'), order('o2')]);
    await h.send([order('o3')]);
    const provenance = (topic: string) => h.kafka.readCommitted(topic).map((r) => readProvenance(r.headers));
    // Operators run a batch at a time, so a commit numbers the whole `ids` branch, then the keyBy branch.
    expect(provenance('ids')).toEqual([
      { task: 'orders.0', seq: 1, idx: 0 },
      { task: 'orders.0', seq: 1, idx: 1 },
      { task: 'orders.0', seq: 2, idx: 0 },
    ]);
    expect(provenance('shop.by-user.in')).toEqual([
      { task: 'orders.0', seq: 1, idx: 2 },
      { task: 'orders.0', seq: 1, idx: 3 },
      { task: 'orders.0', seq: 2, idx: 1 },
    ]);
  });

  it('mark dead letters too, after the batch outputs', async () => {
    const h = stageHarness(counting(), 'orders');
    await h.send([order('o1'), { raw: Buffer.from('not json') }]);
    const dead = h.kafka.readCommitted('shop.orders.dlq');
    expect(dead.map((r) => readProvenance(r.headers))).toEqual([{ task: 'orders.0', seq: 1, idx: 2 }]);
  });

  it('are what the harness reports as task and seq', async () => {
    const h = stageHarness(counting(), 'by-user');
    await h.send([order('o1')]);
    expect(h.outputs('counts').map((o) => [o.task, o.seq])).toEqual([['by-user.0', 1]]);
  });

  it('name the task by topic too when a stage reads several inputs', async () => {
    const p = pipeline('shop', { partitions: 1 });
    p.source('web', { serde: orderSerde })
      .union(p.source('store', { serde: orderSerde }))
      .stage('orders')
      .sink('all', { serde: orderSerde });
    const h = stageHarness(p, 'orders');
    await h.send([order('o1')], 'store');
    expect(h.outputs('all').map((o) => o.task)).toEqual(['orders.store.0']);
  });
});
