// The harness runs a stage through its Lambda handler (stageHandler): every delivery is a Lambda
// Kafka event, as JSON, which the handler decodes, checks, dispatches to tasks and measures.
import { describe, expect, it } from 'vitest';
import type { CommitStep, FaultHook } from '../../../framework/commit/ports.js';
import { SimulatedCrash } from '../../../framework/commit/ports.js';
import type { InvocationFigures, MetricsSink } from '../../../framework/ops/metrics.js';
import type { KafkaRecord } from '../../../framework/record/record.js';
import { ConfigError, InvocationFailedError, decodeEvent, json, pipeline } from '../../../framework/index.js';
import { HARNESS_CLUSTER_ARN, stageHarness } from '../../../framework/testing/index.js';
import type { HarnessOptions } from '../../../framework/testing/index.js';

interface Order {
  readonly id: string;
  readonly amount: number;
}

/** Stage `orders` of app `shop`: prices each order; its input and control topics have 2 partitions. */
function shop(options: HarnessOptions = {}) {
  // The checkpoint protocol: these tests crash at and assert its steps (the changelog protocol's: changelog-exactly-once.test.ts).
  const p = pipeline('shop', { partitions: 2, commit: 'checkpoint' });
  p.source('orders', { serde: json<Order>() })
    .map((o) => ({ id: o.id, cents: o.amount * 100 }))
    .sink('priced', { serde: json() });
  return stageHarness(p, 'orders', options);
}

const order = (id: string, amount: number, partition: number) => ({ value: { id, amount }, partition });
const priced = (h: ReturnType<typeof shop>) => h.outputs<{ id: string; cents: number }>('priced').map((o) => o.value.id);

/** Records the commit steps as they happen, and crashes partition `crash.partition` once at `crash.step`. */
function journal(crash?: { partition: number; step: CommitStep }): { fault: FaultHook; steps: string[] } {
  const steps: string[] = [];
  let crashed = false;
  return {
    steps,
    fault: (step, task, seq) => {
      steps.push(`${task.partition}:${step}`);
      if (crash && !crashed && task.partition === crash.partition && step === crash.step) {
        crashed = true;
        throw new SimulatedCrash(step, task.id, seq);
      }
    },
  };
}

describe('the harness runs a stage through its Lambda handler', () => {
  it('invokes it with the JSON event an MSK trigger sends: base64 key and value, signed header bytes', async () => {
    const h = shop();
    const [record] = h.toKafkaRecords([{ key: 'ann', value: { id: 'o1', amount: 2 }, partition: 1, headers: [{ name: 'trace', value: Buffer.from([0x01, 0xff]) }] }]);
    await h.deliver([record!]);
    expect(h.lastInvocation?.event).toEqual({
      eventSource: 'aws:kafka',
      eventSourceArn: HARNESS_CLUSTER_ARN,
      bootstrapServers: 'b-1.sluice-harness.memory:9098',
      records: {
        'orders-1': [
          {
            topic: 'orders',
            partition: 1,
            offset: 0,
            timestamp: h.now,
            timestampType: 'CREATE_TIME',
            key: Buffer.from('"ann"').toString('base64'),
            value: Buffer.from('{"id":"o1","amount":2}').toString('base64'),
            headers: [{ trace: [1, -1] }],
          },
        ],
      },
    });
    expect(decodeEvent(h.lastInvocation?.event).batches).toEqual([{ topic: 'orders', partition: 1, records: [record] }]);
    expect(priced(h)).toEqual(['o1']);
  });

  it('takes a hand-written Lambda event, base64 and all, through invoke', async () => {
    const h = shop();
    const report = await h.invoke({
      eventSource: 'SelfManagedKafka',
      bootstrapServers: 'kafka-1:9092,kafka-2:9092',
      records: {
        'orders-0': [
          { topic: 'orders', partition: 0, offset: 7, timestamp: h.now, timestampType: 'CREATE_TIME', value: 'eyJpZCI6Im8xIiwiYW1vdW50IjozfQ==', headers: [] },
        ],
      },
    });
    expect(report).toMatchObject({ stage: 'orders', tasks: [{ task: 'orders.0', received: 1, processed: 1, outputs: 1, seq: 1 }] });
    expect(h.outputs('priced').map((o) => o.value)).toEqual([{ id: 'o1', cents: 300 }]);
  });

  it('refuses a record of a topic the stage does not read, as the handler does, before running any task', async () => {
    const h = shop();
    const stray: KafkaRecord = { topic: 'returns', partition: 0, offset: 0, timestamp: h.now, timestampType: 'CREATE_TIME', key: null, value: Buffer.from('{}'), headers: [] };
    const error = await h.deliver([...h.toKafkaRecords([order('o1', 1, 0)]), stray]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(
      'stage "orders" got records of topic "returns", which it does not read [stage=orders topic=returns partition=0] — this function reads orders, shop.orders.control: check its event-source mappings',
    );
    expect(h.kafka.readUncommitted('priced')).toEqual([]);
    expect(h.lastInvocation).toMatchObject({ ok: false, error, metrics: { figures: { ok: false, errorCode: 'SLUICE_CONFIG' } } });
  });

  it('records the handler’s metrics of every invocation, at the harness clock', async () => {
    const seen: InvocationFigures[] = [];
    const sink: MetricsSink = { record: (figures) => seen.push(figures) };
    const h = shop({ metrics: sink });
    await h.send([order('o1', 1, 0), order('o2', 2, 1), order('o3', 3, 1)]);
    const batch = h.toKafkaRecords([order('o4', 4, 0)]);
    await h.deliver(batch);
    await h.deliver(batch);
    expect(h.invocations.map((i) => i.metrics.figures)).toEqual(seen);
    expect(seen.map((f) => [f.tasks, f.recordsIn, f.recordsProcessed, f.recordsOut, f.duplicatesSkipped, f.batchesCommitted])).toEqual([
      [2, 3, 3, 3, 0, 2],
      [1, 1, 1, 1, 0, 1],
      [1, 1, 0, 0, 1, 0],
    ]);
    expect(h.lastInvocation?.metrics.figures).toMatchObject({ app: 'shop', stage: 'orders', ok: true, at: h.now, durationMs: 0 });
    expect(h.lastInvocation?.metrics.emf).toMatchObject({ app: 'shop', stage: 'orders', Invocations: 1, DuplicatesSkipped: 1 });
  });

  it('runs the partitions of one delivery concurrently, in one invocation, and reports them by partition', async () => {
    const { fault, steps } = journal();
    const h = shop({ fault });
    const reports = await h.send([order('o2', 2, 1), order('o1', 1, 0)]);
    expect(h.invocations).toHaveLength(1);
    expect(reports.map((r) => r.task)).toEqual(['orders.0', 'orders.1']);
    // Both tasks opened their batch before either confirmed it.
    expect(steps.indexOf('1:before-send')).toBeLessThan(steps.indexOf('0:after-confirm'));
    expect(steps.indexOf('0:before-send')).toBeLessThan(steps.indexOf('1:after-confirm'));
  });

  it('a task that fails fails the invocation, and the other task of it still commits', async () => {
    const { fault } = journal({ partition: 0, step: 'after-prepare' });
    const h = shop({ fault });
    const batch = h.toKafkaRecords([order('o1', 1, 0), order('o2', 2, 1)]);
    // deliver rejects with the task's own error; the handler's error is on the invocation.
    await expect(h.deliver(batch)).rejects.toBeInstanceOf(SimulatedCrash);
    const failed = h.lastInvocation;
    expect(failed?.ok === false && failed.error).toBeInstanceOf(InvocationFailedError);
    expect(priced(h)).toEqual(['o2']);
    // Lambda retries the whole event, in a new container: the committed task skips its record, the other recovers.
    h.restartContainer();
    const [p0, p1] = await h.deliver(batch);
    expect(p0).toMatchObject({ task: 'orders.0', recovery: { seq: 1, outcome: 'aborted' }, processed: 1 });
    expect(p1).toMatchObject({ task: 'orders.1', duplicates: 1, processed: 0, seq: undefined });
    expect(priced(h).sort()).toEqual(['o1', 'o2']);
  });

  it('delivers a tick to every control partition in one invocation of the control trigger', async () => {
    const h = shop();
    const reports = await h.tick();
    expect(Object.keys(h.lastInvocation?.event.records ?? {})).toEqual(['shop.orders.control-0', 'shop.orders.control-1']);
    expect(reports.map((r) => [r.task, r.kind])).toEqual([
      ['orders.0', 'control'],
      ['orders.1', 'control'],
    ]);
    expect(h.lastInvocation?.metrics.figures).toMatchObject({ tasks: 2, controlRecordsIn: 2, recordsIn: 0 });
  });
});
