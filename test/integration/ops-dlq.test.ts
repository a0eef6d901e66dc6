/**
 * Dead letters on the real broker: a stage whose function rejects some records dead-letters
 * them; `dlq list` and `show` read them with their origin and reason; once the function is
 * fixed, `dlq replay` writes them back to the partition they came from, the running stage
 * processes them, and replaying again writes nothing.
 */
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile, json, pipeline, stageHandler } from '../../framework/index.js';
import type { Topology } from '../../framework/index.js';
import { createTable, deleteTable } from '../../framework/dynamodb/table.js';
import { inProcessInvoker } from '../../framework/local/esm/invoker.js';
import { EventSourceMapping } from '../../framework/local/esm/mapping.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { listDeadLetters, REPLAY_HEADER, replayDeadLetters, replayTopicName, showDeadLetter, type ReplayProgress } from '../../framework/ops/dlq.js';
import { OpsError } from '../../framework/ops/errors.js';
import { closeTarget, openTarget, type OpsTarget } from '../../framework/ops/target.js';
import { readToEnd, testBrokers, testDynamo, testDynamoEndpoint, testKafka, uniqueName, createTopologyTopics } from '../support/infra.js';

interface Order {
  readonly id: string;
  readonly amount: number;
}

const app = uniqueName('ops-dlq');
const source = `${app}-orders`;
const sinkTopic = `${app}-priced`;
const table = uniqueName('ops-dlq-table');

/** Until the "fix" is deployed, the pricing function rejects negative amounts. */
let rejectNegative = true;

function build(): Topology {
  const p = pipeline(app, { partitions: 2, functionTimeout: '30s', transactionTimeout: '60s' });
  p.source<Order>(source, { serde: json<Order>(), partitions: 2 })
    .stage('pricing')
    .map((o) => {
      if (rejectNegative && o.amount < 0) throw new RangeError(`amount ${o.amount} of order ${o.id} is negative`);
      return { id: o.id, cents: o.amount * 100 };
    })
    .sink(sinkTopic, { serde: json() });
  return compile(p.plan());
}

describe('sluice dlq on a running stage', () => {
  const topology = build();
  let kafka: Kafka;
  let target: OpsTarget;
  let mapping: EventSourceMapping;

  beforeAll(async () => {
    kafka = testKafka('ops-dlq');
    await createTable(testDynamo(), table);
    const admin = kafka.admin();
    await admin.connect();
    await createTopologyTopics(admin, topology);
    await admin.disconnect();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic: source,
      messages: [
        { partition: 0, key: 'o1', value: JSON.stringify({ id: 'o1', amount: 1 }) },
        { partition: 0, key: 'o2', value: JSON.stringify({ id: 'o2', amount: -2 }), headers: { 'trace-id': 't-o2' } },
        { partition: 1, key: 'o3', value: JSON.stringify({ id: 'o3', amount: 3 }) },
        { partition: 1, key: 'o4', value: JSON.stringify({ id: 'o4', amount: -4 }) },
        { partition: 1, key: 'o5', value: JSON.stringify({ id: 'o5', amount: 5 }) },
      ],
    });
    await producer.disconnect();
    const connect = lambdaPorts(topology, { table, dynamodbEndpoint: testDynamoEndpoint() });
    const invoker = inProcessInvoker({ pricing: () => stageHandler(topology, 'pricing', { connect }) });
    mapping = new EventSourceMapping({ kafka, brokers: testBrokers(), topic: source, functionName: 'pricing', invoker, batchSize: 10, batchingWindowMs: 100 });
    await mapping.start();
    await mapping.waitForCatchUp();
    target = openTarget(topology, { brokers: testBrokers(), table, dynamodbEndpoint: testDynamoEndpoint(), region: undefined });
  });

  afterAll(async () => {
    await mapping?.stop();
    if (target) closeTarget(target);
    await deleteTable(testDynamo(), table).catch(() => undefined);
  });

  it('lists the dead letters with their origin and reason', async () => {
    const list = await listDeadLetters(target, 'pricing');
    expect(list.topic).toBe(`${app}.pricing.dlq`);
    expect(list.replayedCount).toBe(0);
    expect(list.entries.map((e) => [e.origin?.topic, e.origin?.partition, e.origin?.offset, e.origin?.errorClass]).sort()).toEqual([
      [source, 0, 1, 'RangeError'],
      [source, 1, 1, 'RangeError'],
    ]);
    expect(list.entries.find((e) => e.origin?.partition === 0)?.origin?.errorMessage).toBe('map: amount -2 of order o2 is negative');
    expect(list.entries.every((e) => e.writtenBy?.task.startsWith('pricing.'))).toBe(true);
  });

  it('shows one dead letter by offset, and says which offsets exist when asked for another', async () => {
    const list = await listDeadLetters(target, 'pricing');
    const o2 = list.entries.find((e) => e.origin?.partition === 0)!;
    const shown = await showDeadLetter(target, 'pricing', o2.record.offset);
    expect(shown.record.value?.toString()).toBe(JSON.stringify({ id: 'o2', amount: -2 }));
    expect(shown.record.headers.find((h) => h.name === 'trace-id')?.value.toString()).toBe('t-o2');
    const error = await showDeadLetter(target, 'pricing', 999).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpsError);
    expect((error as OpsError).message).toContain('no dead letter at offset 999');
  });

  it('replays the dead letters into their input partitions once the function is fixed, and the stage processes them', async () => {
    rejectNegative = false;
    const progress: ReplayProgress[] = [];
    const result = await replayDeadLetters(target, 'pricing', { all: true }, { onProgress: (p) => progress.push(p), chunkSize: 1 });
    expect(result.replayed).toHaveLength(2);
    expect(result.alreadyReplayed).toEqual([]);
    expect(progress).toEqual([
      { done: 0, total: 2 },
      { done: 1, total: 2 },
      { done: 2, total: 2 },
    ]);

    const inputs = await readToEnd(kafka, source, { isolation: 'read_committed' });
    const replays = inputs.filter((r) => r.headers.some((h) => h.name === REPLAY_HEADER));
    expect(replays.map((r) => [r.partition, r.key?.toString(), r.value?.toString()]).sort()).toEqual([
      [0, 'o2', JSON.stringify({ id: 'o2', amount: -2 })],
      [1, 'o4', JSON.stringify({ id: 'o4', amount: -4 })],
    ]);
    const o2 = replays.find((r) => r.key?.toString() === 'o2')!;
    expect(o2.headers.map((h) => h.name).sort()).toEqual([REPLAY_HEADER, 'trace-id']);
    expect(o2.headers.find((h) => h.name === REPLAY_HEADER)?.value.toString()).toMatch(new RegExp(`^${app}\\.pricing\\.dlq/0/\\d+$`));

    await mapping.waitForCatchUp();
    const priced = (await readToEnd(kafka, sinkTopic, { isolation: 'read_committed' })).map((r) => JSON.parse(r.value!.toString()) as { id: string; cents: number });
    expect(priced.map((p) => p.id).sort()).toEqual(['o1', 'o2', 'o3', 'o4', 'o5']);
    expect(priced.find((p) => p.id === 'o4')?.cents).toBe(-400);
  });

  it('writes nothing when the same dead letters are replayed again', async () => {
    const before = (await readToEnd(kafka, source, { isolation: 'read_committed' })).length;
    const list = await listDeadLetters(target, 'pricing');
    expect(list.replayedCount).toBe(2);
    const again = await replayDeadLetters(target, 'pricing', { offsets: list.entries.map((e) => e.record.offset) });
    expect(again.replayed).toEqual([]);
    expect(again.alreadyReplayed).toHaveLength(2);
    expect(await replayDeadLetters(target, 'pricing', { all: true })).toMatchObject({ replayed: [] });
    expect(await readToEnd(kafka, source, { isolation: 'read_committed' })).toHaveLength(before);
    expect(await readToEnd(kafka, replayTopicName(app, 'pricing'), { isolation: 'read_committed' })).toHaveLength(2);
  });

  it('writes each dead letter once even when two replays run at the same time', async () => {
    rejectNegative = true;
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic: source, messages: [{ partition: 0, key: 'o6', value: JSON.stringify({ id: 'o6', amount: -6 }) }, { partition: 1, key: 'o7', value: JSON.stringify({ id: 'o7', amount: -7 }) }] });
    await producer.disconnect();
    await mapping.waitForCatchUp();
    expect((await listDeadLetters(target, 'pricing')).entries).toHaveLength(4);
    rejectNegative = false;

    const runs = await Promise.allSettled([replayDeadLetters(target, 'pricing', { all: true }), replayDeadLetters(target, 'pricing', { all: true })]);
    const done = runs.flatMap((r) => (r.status === 'fulfilled' ? r.value.replayed : []));
    for (const r of runs) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'SLUICE_OPS_REPLAY' });
    expect(runs.some((r) => r.status === 'fulfilled')).toBe(true);
    expect(done.length).toBeLessThanOrEqual(2);
    // Whatever the interleaving, a last run finishes the job and every dead letter went back exactly once.
    await replayDeadLetters(target, 'pricing', { all: true });
    const replays = (await readToEnd(kafka, source, { isolation: 'read_committed' })).filter((r) => r.headers.some((h) => h.name === REPLAY_HEADER));
    expect(replays.map((r) => r.key?.toString()).sort()).toEqual(['o2', 'o4', 'o6', 'o7']);
  });

  it('refuses offsets that hold no dead letter, writing nothing', async () => {
    const error = await replayDeadLetters(target, 'pricing', { offsets: [500] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SLUICE_OPS_DLQ', message: expect.stringContaining('offset(s) 500') as string });
  });
});
