import { describe, expect, it } from 'vitest';
import type { CommitStep, FaultHook } from '../../../framework/commit/ports.js';
import { SimulatedCrash } from '../../../framework/commit/ports.js';
import type { KafkaRecord } from '../../../framework/record/record.js';
import type { DecodedEvent } from '../../../framework/lambda/decode.js';
import { ConfigError, EventShapeError, InvocationFailedError, compile, encodeEvent, json, pipeline, stageHandler } from '../../../framework/index.js';
import type { StagePorts } from '../../../framework/index.js';
import { MemoryCheckpointStore, MemoryKafka, MemoryTxnSink, MemoryTaskLog } from '../../../framework/testing/index.js';

interface Order {
  readonly id: string;
  readonly amount: number;
}

const ARN = 'arn:aws:kafka:eu-west-1:123456789012:cluster/shop/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0-1';
const BROKERS = ['b-1.shop.kafka.eu-west-1.amazonaws.com:9098', 'b-2.shop.kafka.eu-west-1.amazonaws.com:9098'];

function shop() {
  // The checkpoint protocol: these tests crash at and assert its steps (the changelog protocol's: changelog-exactly-once.test.ts).
  const p = pipeline('shop', { partitions: 2, commit: 'checkpoint' });
  p.source('orders', { serde: json<Order>() })
    .map((o) => ({ id: o.id, cents: o.amount * 100 }))
    .sink('priced', { serde: json() });
  return compile(p.plan());
}

/** A stage's handler over in-memory Kafka and checkpoint store, with the adapters kept for assertions. */
function setup(fault?: FaultHook) {
  const topology = shop();
  const partitions = new Map(topology.topics.map((t) => [t.name, t.partitions]));
  const kafka = new MemoryKafka((t) => partitions.get(t) ?? 1);
  const store = new MemoryCheckpointStore();
  const ports: StagePorts = { store, sink: new MemoryTxnSink(kafka), log: new MemoryTaskLog(kafka) };
  const handler = stageHandler(topology, 'orders', { ports, ...(fault ? { fault } : {}) });
  const written = () => topology.topics.flatMap((t) => kafka.readUncommitted(t.name));
  const priced = () => kafka.readCommitted('priced').map((r) => JSON.parse(r.value!.toString()) as { id: string; cents: number });
  return { handler, kafka, store, written, priced };
}

function record(topic: string, partition: number, offset: number, value: Order): KafkaRecord {
  return { topic, partition, offset, timestamp: 1_767_225_600_000, timestampType: 'CREATE_TIME', key: null, value: Buffer.from(JSON.stringify(value)), headers: [] };
}

/** An MSK event with orders o1, o2 on partition 0 and o3 on partition 1. */
function mskEvent(batches?: DecodedEvent['batches']) {
  return encodeEvent({
    source: 'msk',
    eventSourceArn: ARN,
    bootstrapServers: BROKERS,
    batches: batches ?? [
      { topic: 'orders', partition: 0, records: [record('orders', 0, 10, { id: 'o1', amount: 1 }), record('orders', 0, 11, { id: 'o2', amount: 2 })] },
      { topic: 'orders', partition: 1, records: [record('orders', 1, 5, { id: 'o3', amount: 3 })] },
    ],
  });
}

/** Crashes the task of `partition` once, at `step`. */
function crashOnce(partition: number, step: CommitStep): FaultHook {
  let crashed = false;
  return (at, task, seq) => {
    if (!crashed && at === step && task.partition === partition) {
      crashed = true;
      throw new SimulatedCrash(at, task.id, seq);
    }
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected the invocation to fail');
}

describe('stageHandler', () => {
  it('runs one task per partition of an MSK event and reports each', async () => {
    const { handler } = setup();
    const report = await handler(mskEvent());
    expect(report).toEqual({
      stage: 'orders',
      tasks: [
        { task: 'orders.0', received: 2, duplicates: 0, processed: 2, outputs: 2, deadLetters: 0, seq: 1, recovery: undefined, kind: 'data', timersFired: 0, watermark: expect.any(Number), commitMs: expect.any(Number) },
        { task: 'orders.1', received: 1, duplicates: 0, processed: 1, outputs: 1, deadLetters: 0, seq: 1, recovery: undefined, kind: 'data', timersFired: 0, watermark: expect.any(Number), commitMs: expect.any(Number) },
      ],
    });
  });

  it('commits every task’s outputs and input position', async () => {
    const { handler, store, priced } = setup();
    await handler(mskEvent());
    expect(priced()).toEqual([
      { id: 'o1', cents: 100 },
      { id: 'o2', cents: 200 },
      { id: 'o3', cents: 300 },
    ]);
    expect(store.checkpoint({ app: 'shop', id: 'orders.0' })).toMatchObject({ committedSeq: 1, nextOffset: 12 });
    expect(store.checkpoint({ app: 'shop', id: 'orders.1' })).toMatchObject({ committedSeq: 1, nextOffset: 6 });
  });

  it('connects once, with the bootstrap servers of the first event', async () => {
    const kafka = new MemoryKafka(() => 2);
    const calls: Array<readonly string[]> = [];
    const handler = stageHandler(shop(), 'orders', {
      connect: (servers) => {
        calls.push(servers);
        return { store: new MemoryCheckpointStore(), sink: new MemoryTxnSink(kafka), log: new MemoryTaskLog(kafka) };
      },
    });
    await handler(mskEvent([{ topic: 'orders', partition: 0, records: [record('orders', 0, 0, { id: 'o1', amount: 1 })] }]));
    await handler(mskEvent([{ topic: 'orders', partition: 0, records: [record('orders', 0, 1, { id: 'o2', amount: 1 })] }]));
    expect(calls).toEqual([BROKERS]);
  });

  it('rejects a malformed event with EventShapeError and writes nothing', async () => {
    const { handler, store, written } = setup();
    const event = { ...mskEvent(), records: { 'orders-0': [{ topic: 'orders', partition: 0, offset: -1 }] } };
    const e = await rejection(handler(event));
    expect(e).toBeInstanceOf(EventShapeError);
    expect((e as EventShapeError).place).toMatchObject({ field: 'records["orders-0"][0].offset', topic: 'orders', partition: 0 });
    expect(written()).toEqual([]);
    expect(store.requests).toEqual({ read: 0, readCheckpoint: 0, load: 0, prepare: 0, writeSnapshot: 0, snapshotComplete: 0, confirm: 0, abandon: 0, compact: 0, advance: 0 });
  });

  it('rejects an event carrying a topic the stage does not read, before running any task', async () => {
    const { handler, store, written } = setup();
    const event = mskEvent([
      { topic: 'orders', partition: 0, records: [record('orders', 0, 0, { id: 'o1', amount: 1 })] },
      { topic: 'returns', partition: 0, records: [record('returns', 0, 0, { id: 'r1', amount: 1 })] },
    ]);
    const e = await rejection(handler(event));
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).message).toBe(
      'stage "orders" got records of topic "returns", which it does not read [stage=orders topic=returns partition=0] — this function reads orders, shop.orders.control: check its event-source mappings',
    );
    expect(written()).toEqual([]);
    expect(store.requests.read).toBe(0);
  });

  describe('when one task of an invocation fails', () => {
    it('fails the invocation with InvocationFailedError naming the task', async () => {
      const { handler } = setup(crashOnce(1, 'after-prepare'));
      const e = await rejection(handler(mskEvent()));
      expect(e).toBeInstanceOf(InvocationFailedError);
      const failed = e as InvocationFailedError;
      expect(failed.failures.map((f) => f.task)).toEqual(['orders-1']);
      expect(failed.message).toBe(
        '1 task(s) failed: orders-1: simulated crash at after-prepare (task orders.1, seq 1) [stage=orders] — Lambda retries the batch; committed tasks skip what they already processed',
      );
    });

    it('keeps the commit of the task that succeeded', async () => {
      const { handler, priced } = setup(crashOnce(1, 'after-prepare'));
      await rejection(handler(mskEvent()));
      expect(priced()).toEqual([
        { id: 'o1', cents: 100 },
        { id: 'o2', cents: 200 },
      ]);
    });

    it('on a retry of the whole event, skips the committed task and recovers the failed one', async () => {
      const { handler } = setup(crashOnce(1, 'after-prepare'));
      await rejection(handler(mskEvent()));
      const retry = await handler(mskEvent());
      expect(retry.tasks).toEqual([
        { task: 'orders.0', received: 2, duplicates: 2, processed: 0, outputs: 0, deadLetters: 0, seq: undefined, recovery: undefined, kind: 'data', timersFired: 0, watermark: expect.any(Number) },
        { task: 'orders.1', received: 1, duplicates: 0, processed: 1, outputs: 1, deadLetters: 0, seq: 2, recovery: { seq: 1, outcome: 'aborted' }, kind: 'data', timersFired: 0, watermark: expect.any(Number), commitMs: expect.any(Number) },
      ]);
    });

    it('after the retry, every output is committed exactly once', async () => {
      const { handler, priced } = setup(crashOnce(1, 'after-prepare'));
      await rejection(handler(mskEvent()));
      await handler(mskEvent());
      expect(priced()).toEqual([
        { id: 'o1', cents: 100 },
        { id: 'o2', cents: 200 },
        { id: 'o3', cents: 300 },
      ]);
    });
  });

  it('refuses to build a handler for a stage the pipeline does not have', () => {
    expect(() => stageHandler(shop(), 'nope', { ports: { store: new MemoryCheckpointStore(), sink: new MemoryTxnSink(new MemoryKafka()), log: new MemoryTaskLog(new MemoryKafka()) } })).toThrow(
      'pipeline "shop" has no stage "nope" [stage=nope] — stages: orders',
    );
  });
});
