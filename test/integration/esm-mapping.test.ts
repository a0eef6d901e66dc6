/**
 * The trigger emulator (framework/local/esm/mapping.ts) against the real broker: what Lambda's
 * Kafka event-source mapping promises, checked from the invocations a recording function sees —
 * several partitions per invocation within batchSize and the payload limit, per-partition order,
 * read_committed, offsets committed only after success, whole-batch retries, and the on-failure
 * topic after maxRetries.
 */
import type { Kafka } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LambdaKafkaEvent } from '../../framework/lambda/event.js';
import { decodeEvent, type DecodedEvent } from '../../framework/lambda/decode.js';
import { EventSourceMapping, type InvocationInfo, type MappingOptions } from '../../framework/local/esm/mapping.js';
import { createTestTopic, deleteTestTopics, readToEnd, testBrokers, testKafka, uniqueName } from '../support/infra.js';

let kafka: Kafka;
const topics: string[] = [];
const running: EventSourceMapping[] = [];

beforeAll(() => {
  kafka = testKafka('sluice-test-esm');
});

afterEach(async () => {
  for (const m of running.splice(0)) await m.stop();
});

afterAll(async () => {
  await deleteTestTopics(kafka, topics);
});

/** A topic with `perPartition` records in each of `partitions` partitions, values `p<partition>-<i>`. */
async function filledTopic(partitions: number, perPartition: number, valueBytes = 0): Promise<string> {
  const topic = await createTestTopic(kafka, 'esm', partitions);
  topics.push(topic);
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const pad = 'x'.repeat(valueBytes);
  for (let p = 0; p < partitions; p++) {
    await producer.send({ topic, messages: Array.from({ length: perPartition }, (_, i) => ({ partition: p, key: `k${i}`, value: `p${p}-${i}${pad}` })) });
  }
  await producer.disconnect();
  return topic;
}

/** A function that records every event it gets (decoded) and fails when `fail` says so. */
function recordingFunction(fail: (event: DecodedEvent, attempt: number) => boolean = () => false): {
  invoker: { invoke(name: string, event: LambdaKafkaEvent): Promise<unknown> };
  calls: Array<{ event: DecodedEvent; ok: boolean; bytes: number }>;
} {
  const calls: Array<{ event: DecodedEvent; ok: boolean; bytes: number }> = [];
  const attempts = new Map<string, number>();
  return {
    calls,
    invoker: {
      async invoke(_name, raw) {
        const event = decodeEvent(JSON.parse(JSON.stringify(raw)));
        const id = event.batches.map((b) => `${b.partition}@${b.records[0]!.offset}+${b.records.length}`).join(',');
        const attempt = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, attempt);
        const ok = !fail(event, attempt);
        calls.push({ event, ok, bytes: Buffer.byteLength(JSON.stringify(raw)) });
        if (!ok) throw new Error(`function failed on ${id}, attempt ${attempt}`);
        return { ok: true };
      },
    },
  };
}

async function start(topic: string, options: Partial<MappingOptions> & Pick<MappingOptions, 'invoker'>): Promise<EventSourceMapping> {
  const m = new EventSourceMapping({ kafka, brokers: testBrokers(), topic, functionName: 'fn', groupId: uniqueName('esm-group'), batchingWindowMs: 100, retryBackoffMs: 20, ...options });
  running.push(m);
  await m.start();
  return m;
}

/** Values delivered by successful invocations, per partition, in delivery order. */
function delivered(calls: ReadonlyArray<{ event: DecodedEvent; ok: boolean }>): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const c of calls) {
    if (!c.ok) continue;
    for (const b of c.event.batches) out.set(b.partition, [...(out.get(b.partition) ?? []), ...b.records.map((r) => r.value!.toString())]);
  }
  return out;
}

function expected(partitions: number, perPartition: number): Map<number, string[]> {
  return new Map(Array.from({ length: partitions }, (_, p) => [p, Array.from({ length: perPartition }, (_, i) => `p${p}-${i}`)]));
}

async function committedOffsets(groupId: string, topic: string): Promise<number[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return t!.partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset));
  } finally {
    await admin.disconnect();
  }
}

describe('the Kafka trigger emulator', () => {
  it('bundles several partitions into one invocation, within batchSize, each partition in order and once', async () => {
    const topic = await filledTopic(4, 30);
    const fn = recordingFunction();
    const infos: InvocationInfo[] = [];
    const groupId = uniqueName('esm-group');
    const m = await start(topic, { invoker: fn.invoker, batchSize: 25, groupId, onInvocation: (i) => infos.push(i) });
    await m.waitForCatchUp(30_000);

    expect(fn.calls.every((c) => c.ok)).toBe(true);
    expect(Math.max(...fn.calls.map((c) => c.event.batches.length)), 'partitions in the largest invocation').toBeGreaterThan(1);
    for (const c of fn.calls) expect(c.event.batches.reduce((n, b) => n + b.records.length, 0)).toBeLessThanOrEqual(25);
    expect(delivered(fn.calls)).toEqual(expected(4, 30));
    // Lambda's MSK event: one cluster ARN for every invocation of the mapping.
    expect(new Set(fn.calls.map((c) => c.event.eventSourceArn)).size).toBe(1);
    expect(fn.calls[0]!.event.source).toBe('msk');
    // onInvocation reports each partition of an invocation, numbered so an invocation counts once.
    expect(infos.filter((i) => i.part === 0)).toHaveLength(fn.calls.length);
    expect(m.stats).toMatchObject({ invocations: fn.calls.length, failures: 0, records: 120 });
    expect(await committedOffsets(groupId, topic)).toEqual([30, 30, 30, 30]);
  }, 60_000);

  it('invokes one partition at a time when bundling is off', async () => {
    const topic = await filledTopic(3, 12);
    const fn = recordingFunction();
    const m = await start(topic, { invoker: fn.invoker, batchSize: 5, bundlePartitions: false, eventSource: 'self-managed' });
    await m.waitForCatchUp(30_000);
    expect(fn.calls.every((c) => c.event.batches.length === 1 && c.event.batches[0]!.records.length <= 5)).toBe(true);
    expect(fn.calls[0]!.event.source).toBe('self-managed');
    expect(delivered(fn.calls)).toEqual(expected(3, 12));
  }, 60_000);

  it('keeps an invocation under the payload limit; a record larger than the limit goes alone', async () => {
    const topic = await filledTopic(2, 10, 1500);
    const big = kafka.producer({ idempotent: true });
    await big.connect();
    await big.send({ topic, messages: [{ partition: 0, value: `p0-10${'y'.repeat(9000)}` }] });
    await big.disconnect();
    const fn = recordingFunction();
    const m = await start(topic, { invoker: fn.invoker, batchSize: 100, maxPayloadBytes: 8 * 1024 });
    await m.waitForCatchUp(30_000);
    const lone = fn.calls.filter((c) => c.bytes > 8 * 1024);
    expect(lone).toHaveLength(1);
    expect(lone[0]!.event.batches.flatMap((b) => b.records)).toHaveLength(1);
    const values = delivered(fn.calls);
    expect(values.get(0)!.map((v) => v.replace(/[xy]+$/, ''))).toEqual([...Array.from({ length: 10 }, (_, i) => `p0-${i}`), 'p0-10']);
    expect(values.get(1)).toHaveLength(10);
  }, 60_000);

  it('retries a failed invocation whole, and moves past it only after it succeeded', async () => {
    const topic = await filledTopic(3, 20);
    // Every invocation carrying record 7 of partition 1 fails twice.
    const fn = recordingFunction((e, attempt) => attempt <= 2 && e.batches.some((b) => b.partition === 1 && b.records.some((r) => r.offset === 7)));
    const m = await start(topic, { invoker: fn.invoker, batchSize: 10 });
    await m.waitForCatchUp(30_000);

    const failed = fn.calls.filter((c) => !c.ok);
    expect(failed).toHaveLength(2);
    const shape = (e: DecodedEvent): string => JSON.stringify(e.batches.map((b) => b.records.map((r) => `${b.partition}@${r.offset}`)));
    // The retries carry exactly the same batch: every partition of it, no record more or less.
    expect(shape(failed[0]!.event)).toBe(shape(failed[1]!.event));
    expect(fn.calls.some((c) => c.ok && shape(c.event) === shape(failed[0]!.event))).toBe(true);
    // Nothing of partition 1 after the failing batch was invoked before the batch succeeded.
    const lastOfFailed = Math.max(...failed[0]!.event.batches.filter((b) => b.partition === 1).flatMap((b) => b.records.map((r) => r.offset)));
    const firstSuccess = fn.calls.findIndex((c) => c.ok && shape(c.event) === shape(failed[0]!.event));
    for (const c of fn.calls.slice(0, firstSuccess)) {
      for (const b of c.event.batches.filter((x) => x.partition === 1)) expect(b.records[0]!.offset).toBeLessThanOrEqual(lastOfFailed);
    }
    expect(delivered(fn.calls)).toEqual(expected(3, 20));
    expect(m.stats.failures).toBe(2);
  }, 60_000);

  it('after maxRetries writes the batch to the on-failure topic and moves on: every record is either delivered or listed there', async () => {
    const topic = await filledTopic(3, 15);
    const failureTopic = await createTestTopic(kafka, 'esm-onfailure');
    topics.push(failureTopic);
    const fn = recordingFunction((e) => e.batches.some((b) => b.partition === 2 && b.records.some((r) => r.offset === 4)));
    const m = await start(topic, { invoker: fn.invoker, batchSize: 8, maxRetries: 2, onFailureTopic: failureTopic });
    await m.waitForCatchUp(30_000);

    const notes = (await readToEnd(kafka, failureTopic, { isolation: 'read_committed' })).map(
      (r) => JSON.parse(r.value!.toString()) as { requestContext: { condition: string; error: string }; kafka: { topic: string; partition: number; firstOffset: number; lastOffset: number; count: number } },
    );
    expect(notes.length).toBeGreaterThan(0);
    for (const n of notes) {
      expect(n.requestContext.condition).toBe('RetryAttemptsExhausted');
      expect(n.requestContext.error).toMatch(/function failed/);
      expect(n.kafka.topic).toBe(topic);
    }
    expect(notes.some((n) => n.kafka.partition === 2 && n.kafka.firstOffset <= 4 && n.kafka.lastOffset >= 4)).toBe(true);
    // 1 attempt + 2 retries of the failing batch, then it is skipped.
    expect(m.stats.skippedBatches).toBe(1);
    expect(fn.calls.filter((c) => !c.ok)).toHaveLength(3);
    const got = delivered(fn.calls);
    for (let p = 0; p < 3; p++) {
      const skipped = notes.filter((n) => n.kafka.partition === p).flatMap((n) => Array.from({ length: n.kafka.count }, (_, i) => `p${p}-${n.kafka.firstOffset + i}`));
      expect([...(got.get(p) ?? []), ...skipped].sort()).toEqual(expected(3, 15).get(p)!.sort());
    }
  }, 60_000);

  it('delivers committed transactional records only (read_committed)', async () => {
    const topic = await createTestTopic(kafka, 'esm-txn', 2);
    topics.push(topic);
    const producer = kafka.producer({ transactionalId: uniqueName('esm-txn'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (const [outcome, tag] of [['commit', 'a'], ['abort', 'b'], ['commit', 'c']] as const) {
      const txn = await producer.transaction();
      await txn.send({ topic, messages: [0, 1].flatMap((partition) => [{ partition, value: `${tag}${partition}-1` }, { partition, value: `${tag}${partition}-2` }]) });
      if (outcome === 'commit') await txn.commit();
      else await txn.abort();
    }
    await producer.disconnect();
    const fn = recordingFunction();
    const m = await start(topic, { invoker: fn.invoker, batchSize: 100 });
    await m.waitForCatchUp(30_000);
    expect(delivered(fn.calls)).toEqual(
      new Map([
        [0, ['a0-1', 'a0-2', 'c0-1', 'c0-2']],
        [1, ['a1-1', 'a1-2', 'c1-1', 'c1-2']],
      ]),
    );
  }, 60_000);
});
