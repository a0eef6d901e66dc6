import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../../framework/record/partitioner.js';
import { readProvenance } from '../../../framework/record/provenance.js';
import { count, json, pipeline, string, sum } from '../../../framework/index.js';
import { EDGE_HEADER } from '../../../framework/runtime/input.js';
import type { Serde } from '../../../framework/index.js';
import { stageHarness } from '../../../framework/testing/index.js';

interface Order {
  readonly id: string;
  readonly user: string;
  readonly amount: number;
}

const orderSerde = json<Order>();
const users = ['ann', 'bob', 'cy', 'dee', 'eve', 'fay', 'gus', 'hal'];
const orders = users.map((user, i): Order => ({ id: `o${i}`, user, amount: i }));

function keyedByUser(keySerde?: Serde<string>) {
  const p = pipeline('shop', { partitions: 1 });
  p.source('orders', { serde: orderSerde })
    .keyBy((o) => o.user, { name: 'user', partitions: 4, ...(keySerde ? { keySerde } : {}) })
    .process<Order>((o, ctx) => ctx.emit(o))
    .sink('out', { serde: orderSerde });
  return stageHarness(p, 'orders');
}

describe('keyBy', () => {
  it('writes each record to partitionForKey(key bytes, partitions) of the internal topic', async () => {
    const h = keyedByUser();
    await h.send(orders.map((value) => ({ value })));
    const written = h.outputs('shop.by-user.in', orderSerde);
    const byUser = written.map((r) => [r.value.user, r.partition]).sort(([a], [b]) => String(a).localeCompare(String(b)));
    expect(byUser).toEqual(users.map((user) => [user, partitionForKey(Buffer.from(JSON.stringify(user)), 4)]));
    // The keys spread over more than one partition, so the assertion above means something.
    expect(new Set(written.map((r) => r.partition)).size).toBeGreaterThan(1);
  });

  it('writes the key bytes with the key serde (JSON by default)', async () => {
    const h = keyedByUser();
    await h.send([{ value: orders[0]! }]);
    expect(h.outputs('shop.by-user.in', orderSerde).map((r) => [r.key, r.value])).toEqual([[Buffer.from('"ann"'), orders[0]]]);
  });

  it('writes the key bytes with a declared key serde', async () => {
    const h = keyedByUser(string());
    await h.send([{ value: orders[1]! }]);
    const [written] = h.outputs('shop.by-user.in', orderSerde);
    expect(written!.key).toEqual(Buffer.from('bob'));
    expect(written!.partition).toBe(partitionForKey(Buffer.from('bob'), 4));
  });

  it('keeps the record event time as the output timestamp', async () => {
    const p = pipeline('shop', { partitions: 1 });
    p.source('orders', { serde: orderSerde, eventTime: (o) => 1_000 + o.amount })
      .keyBy((o) => o.user, { name: 'user' })
      .aggregate({ name: 'noop', createAccumulator: () => 0, add: (a) => a, getResult: (a) => a })
      .sink('out', { serde: json() });
    const h = stageHarness(p, 'orders');
    await h.send([{ value: orders[3]! }]);
    expect(h.outputs('shop.by-user.in').map((r) => r.timestamp)).toEqual([1_003]);
    // …and in a header, since internal topics are created with LogAppendTime (the broker overwrites the timestamp).
    const [raw] = h.kafka.readCommitted('shop.by-user.in');
    expect(raw!.headers.find((x) => x.name === 'sluice-et')?.value.toString()).toBe('1003');
  });

  it('marks no edge when one keyBy writes the topic', async () => {
    const h = keyedByUser();
    await h.send([{ value: orders[0]! }]);
    const [raw] = h.kafka.readCommitted('shop.by-user.in');
    expect(raw!.headers.map((x) => x.name)).toEqual(['sluice-et', 'sluice-src', 'sluice-seq', 'sluice-idx']);
    expect(readProvenance(raw!.headers)).toEqual({ task: 'orders.0', seq: 1, idx: 0 });
  });

  it('marks each record with its keyBy when two keyBy nodes write one topic', async () => {
    const p = pipeline('shop', { partitions: 2 });
    const byUser = p.source('orders', { serde: orderSerde }).keyBy((o) => o.user);
    const refunds = p
      .source('refunds', { serde: orderSerde })
      .map((o) => ({ ...o, amount: -o.amount }))
      .keyBy((o) => o.user);
    byUser.union(refunds).aggregate(count()).sink('counts', { serde: json() });
    const h = stageHarness(p, 'refunds');
    await h.send([{ value: orders[0]! }]);
    const [raw] = h.kafka.readCommitted('shop.keyed-1.in');
    expect(raw!.headers.find((x) => x.name === EDGE_HEADER)?.value.toString()).toBe(String(refunds.nodeId));
  });
});

describe('a keyed stage fed by two keyBy nodes', () => {
  it('routes each record to the branch of the keyBy that wrote it', async () => {
    const p = pipeline('shop', { partitions: 1 });
    const sales = p.source('orders', { serde: orderSerde }).keyBy((o) => o.user);
    const refunds = p.source('refunds', { serde: orderSerde }).keyBy((o) => o.user);
    sales
      .map((o) => o.amount)
      .union(refunds.map((o) => -o.amount))
      .aggregate(sum((n) => n))
      .sink('balances', { serde: json() });
    const h = stageHarness(p, 'keyed-1');
    const edge = (node: number) => [{ name: EDGE_HEADER, value: Buffer.from(String(node)) }];
    await h.send([
      { key: 'ann', value: { id: 'o1', user: 'ann', amount: 30 }, headers: edge(sales.nodeId) },
      { key: 'ann', value: { id: 'r1', user: 'ann', amount: 10 }, headers: edge(refunds.nodeId) },
    ]);
    expect(h.outputs('balances').map((o) => o.value)).toEqual([
      { key: 'ann', value: 30 },
      { key: 'ann', value: 20 },
    ]);
  });

  it('dead-letters a record whose edge header names no writer', async () => {
    const p = pipeline('shop', { partitions: 1 });
    const sales = p.source('orders', { serde: orderSerde }).keyBy((o) => o.user);
    const refunds = p.source('refunds', { serde: orderSerde }).keyBy((o) => o.user);
    sales.union(refunds).aggregate(count()).sink('counts', { serde: json() });
    const h = stageHarness(p, 'keyed-1');
    await h.send([{ key: 'ann', value: orders[0]! }]);
    expect(h.deadLetters().map((d) => [d.errorClass, d.errorMessage])).toEqual([['Error', 'edge: record has no valid sluice-edge header naming its keyBy']]);
  });
});
