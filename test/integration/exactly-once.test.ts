/**
 * Exactly-once, proven by fault injection against an oracle, over the real adapters: kafkajs
 * KafkaTxnSink (or, with SLUICE_KAFKA_CLIENT=platformatic under Node 22, PlatformaticTxnSink:
 * test/support/sink-client.ts) on the local broker and DynamoTaskStore on DynamoDB Local. The schedules
 * are the unit suite's (test/support/fault-driver.ts), fewer and smaller, since every crash
 * leaves a real zombie producer and every recovery fences and reads the progress topic.
 *
 * Broker restarts (graceful and SIGKILL) are covered by broker-restart.test.ts.
 *
 * Replay one schedule: SLUICE_SEED=<seed> npx vitest run --project integration test/integration/exactly-once.test.ts
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoMetrics, DynamoTaskStore } from '../../framework/dynamodb/task-store.js';
import { createTable, deleteTable } from '../../framework/dynamodb/table.js';
import { isFencedError, ProducerFencedError } from '../../framework/kafka/sink-errors.js';
import { KafkajsChangelogReader } from '../../framework/kafka/changelog-reader.js';
import { newKafkaSinkCounters } from '../../framework/kafka/sink-counters.js';
import { progressRecord } from '../../framework/record/progress.js';
import type { KafkaRecord } from '../../framework/record/record.js';
import type { Topology } from '../../framework/topology/topology.js';
import type { World } from '../support/fault-driver.js';
import { CHANGELOG_STEPS, clicksSeen, describeStats, faultSuiteConfig, formatFailures, measureHappyPath, runFaultSchedules, runningTotals, traceFromEnv } from '../support/fault-driver.js';
import { createTestTopic, createTopologyTopics, deleteTestTopics, readToEnd, testDynamo, testKafka, uniqueName } from '../support/infra.js';
import { SINK_CLIENT, testSink, type TestSink } from '../support/sink-client.js';

const config = faultSuiteConfig({ seed: 20_260_201, schedules: 8, soakSchedules: 60 });
// A crashed zombie's open transaction holds read_committed readers back until the broker aborts
// it; a short transaction timeout keeps that to seconds.
const scenarioOptions = { pipeline: { functionTimeout: '4s', transactionTimeout: '8s', commit: 'checkpoint' } } as const;
const schedule = { records: 24, invocations: 16, maxBatch: 5 };

const kafka: Kafka = testKafka('sluice-test-exactly-once');
const dynamo: DynamoDBClient = testDynamo();
const table = uniqueName('sluice-test-eo');
const dynamoMetrics = new DynamoMetrics();
const kafkaCounters = newKafkaSinkCounters();

/** The real world: a TxnSink of the client under test and a DynamoTaskStore per container, one table, topics per schedule. */
const realWorld: World = {
  async open(topology: Topology) {
    const topics = topology.topics.map((t) => t.name);
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createTopologyTopics(admin, topology);
    } finally {
      await admin.disconnect();
    }
    const sinks: Array<TestSink | KafkajsChangelogReader> = [];
    // One per schedule: a kafkajs cluster refreshes metadata for every topic it ever read, and fails when one was deleted.
    const observerLog = new KafkajsChangelogReader(kafka, { settleMs: 2_000 });
    sinks.push(observerLog);
    return {
      container: () => {
        const sink = testSink(kafka, { transactionTimeoutMs: topology.settings.transactionTimeoutMs, counters: kafkaCounters, resolveTimeoutMs: 60_000 });
        sinks.push(sink);
        const log = new KafkajsChangelogReader(kafka);
        sinks.push(log);
        return { store: new DynamoTaskStore(dynamo, table, { metrics: dynamoMetrics }), sink, log };
      },
      observer: new DynamoTaskStore(dynamo, table),
      observerLog,
      readCommitted: (topic) => readCommittedExactly(topic),
      isFenced: (error) => error instanceof ProducerFencedError || isFencedError(error),
      dumpLog: async (topic) => dumpRaw(await readRaw(topic, await appendSentinels(topic))),
      close: async () => {
        await Promise.all(sinks.map((s) => s.close().catch(() => undefined)));
        await deleteTestTopics(kafka, topics);
      },
    };
  },
};

/** A record as kafkajs decodes it, with the fields its Batch keeps but does not type. */
type RawMessage = KafkaMessage & {
  readonly isControlRecord?: boolean;
  readonly batchContext?: { readonly producerId: string; readonly inTransaction: boolean };
};

/**
 * What a read_committed consumer must see, computed from the raw log instead of trusting
 * kafkajs: kafkajs 2.2.4 (consumer/filterAbortedMessages.js) drops an aborted transaction's
 * records only if the broker lists aborted transactions in first-offset order, but the broker
 * lists them in the order they were aborted; so kafkajs read_committed readers (readToEnd among
 * them) return records of aborted transactions. Here a transactional record counts as committed
 * iff the next control marker of its producer is a COMMIT. Like a read_committed reader held
 * back by the last stable offset, it waits while a transaction is undecided (markers are
 * written just after EndTxn returns; a crashed zombie's transaction ends at its timeout).
 */
async function readCommittedExactly(topic: string): Promise<KafkaRecord[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { committed, undecided } = decide(topic, await readRaw(topic, await appendSentinels(topic)));
    if (undecided === 0) return committed;
    if (Date.now() > deadline) throw new Error(`${topic}: ${undecided} record(s) still in undecided transactions after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const SENTINEL_HEADER = 'sluice-test-sentinel';

/**
 * Appends a plain record to every partition and returns where each landed: the end of the log
 * to read up to. kafkajs's consumer never hands over a fetch that holds only control records, so a
 * marker at the end of a log segment would go unseen; with a data record after the last marker,
 * every fetch holds one. And kafkajs's admin reports a partition's end as its last stable offset
 * (ListOffsets at READ_COMMITTED), which stops before a transaction still open: reading only that
 * far, an undecided transaction went unseen and a batch whose commit marker came late looked lost.
 * The reader drops sentinels.
 */
async function appendSentinels(topic: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  const producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
  try {
    const partitions = (await admin.fetchTopicOffsets(topic)).map((p) => p.partition);
    const sent = await producer.send({ topic, messages: partitions.map((partition) => ({ partition, value: null, headers: { [SENTINEL_HEADER]: '1' } })) });
    return new Map(sent.map((m) => [m.partition, Number(m.baseOffset)]));
  } finally {
    await Promise.all([admin.disconnect(), producer.disconnect()]);
  }
}

/** Every record of `topic` up to `ends` (default: its last stable offsets), control records included, by partition. */
async function readRaw(topic: string, ends?: ReadonlyMap<number, number>): Promise<Map<number, Map<number, RawMessage>>> {
  const raw = new Map<number, Map<number, RawMessage>>();
  const admin = kafka.admin();
  await admin.connect();
  const groupId = uniqueName('sluice-test-eo-read');
  try {
    const ranges = new Map<number, { low: number; end: number }>();
    for (const p of await admin.fetchTopicOffsets(topic)) {
      const end = ends?.get(p.partition) ?? Number(p.high) - 1;
      if (end >= Number(p.low)) ranges.set(p.partition, { low: Number(p.low), end });
    }
    if (ranges.size === 0) return raw;
    const consumer = kafka.consumer({ groupId, readUncommitted: true, maxWaitTimeInMs: 100 });
    let finish: (error?: Error) => void = () => undefined;
    const finished = new Promise<void>((resolve, reject) => (finish = (error) => (error ? reject(error) : resolve())));
    const timer = setTimeout(() => finish(new Error(`reading ${topic} did not reach its end within 60 s`)), 60_000);
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          // Control records (the transaction markers) are kept only in this undocumented field.
          const all = (batch as unknown as { messagesWithinOffset?: RawMessage[] }).messagesWithinOffset;
          if (!all) return finish(new Error('kafkajs Batch has no messagesWithinOffset any more; update readRaw'));
          const range = ranges.get(batch.partition);
          if (range === undefined) return;
          const part = raw.get(batch.partition) ?? new Map<number, RawMessage>();
          for (const m of all) if (Number(m.offset) <= range.end) part.set(Number(m.offset), m);
          raw.set(batch.partition, part);
          if ([...ranges].every(([p, r]) => raw.get(p)?.has(r.end) ?? false)) finish();
        },
      });
      await finished;
    } finally {
      clearTimeout(timer);
      await consumer.disconnect();
    }
    // Every offset must have been seen, or a marker was skipped and the decisions would be wrong.
    for (const [p, r] of ranges) {
      const part = raw.get(p)!;
      for (let o = r.low; o <= r.end; o++) if (!part.has(o)) throw new Error(`reading ${topic}: kafkajs skipped offset ${o} of partition ${p}`);
    }
    return raw;
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

/** One line per record: partition, offset, producer id/epoch, transactional or not, control type, provenance. */
function dumpRaw(raw: ReadonlyMap<number, ReadonlyMap<number, RawMessage>>): string {
  const lines: string[] = [];
  for (const [partition, part] of [...raw].sort(([a], [b]) => a - b)) {
    for (const m of [...part.values()].sort((a, b) => Number(a.offset) - Number(b.offset))) {
      const ctx = m.batchContext as (RawMessage['batchContext'] & { producerEpoch?: number }) | undefined;
      const what = m.isControlRecord ? (m.key?.readInt16BE(2) === 1 ? 'COMMIT' : 'ABORT') : m.headers?.[SENTINEL_HEADER] ? 'sentinel' : (m.headers?.['sluice-src']?.toString() ?? '') + ' ' + (m.headers?.['sluice-seq']?.toString() ?? '') + ' ' + (m.value?.toString('utf8').slice(0, 80) ?? 'null');
      lines.push(`  p${partition}@${m.offset} pid ${ctx?.producerId ?? '?'} epoch ${ctx?.producerEpoch ?? '?'} ${ctx?.inTransaction ? 'txn' : 'plain'} ${what}`);
    }
  }
  return lines.join('\n');
}

/** The committed records (partition, then offset order), and how many are in undecided transactions. */
function decide(topic: string, raw: ReadonlyMap<number, ReadonlyMap<number, RawMessage>>): { committed: KafkaRecord[]; undecided: number } {
  const committed: KafkaRecord[] = [];
  let undecided = 0;
  for (const [partition, part] of [...raw].sort(([a], [b]) => a - b)) {
    const open = new Map<string, RawMessage[]>();
    const kept: RawMessage[] = [];
    for (const m of [...part.values()].sort((a, b) => Number(a.offset) - Number(b.offset))) {
      const producer = m.batchContext?.producerId ?? '';
      if (m.isControlRecord) {
        if (m.key?.readInt16BE(2) === 1) kept.push(...(open.get(producer) ?? [])); // type 1 = COMMIT, 0 = ABORT
        open.delete(producer);
      } else if (m.batchContext?.inTransaction) {
        open.set(producer, [...(open.get(producer) ?? []), m]);
      } else if (!m.headers?.[SENTINEL_HEADER]) {
        kept.push(m);
      }
    }
    for (const list of open.values()) undecided += list.length;
    committed.push(...kept.sort((a, b) => Number(a.offset) - Number(b.offset)).map((m) => toRecord(topic, partition, m)));
  }
  return { committed, undecided };
}

function toRecord(topic: string, partition: number, m: KafkaMessage): KafkaRecord {
  const headers = Object.entries(m.headers ?? {}).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value]).flatMap((v) => (v === undefined ? [] : [{ name, value: Buffer.isBuffer(v) ? v : Buffer.from(v) }])),
  );
  return { topic, partition, offset: Number(m.offset), timestamp: Number(m.timestamp), timestampType: 'CREATE_TIME', key: m.key, value: m.value, headers };
}

beforeAll(async () => {
  await createTable(dynamo, table);
});

afterAll(async () => {
  await deleteTable(dynamo, table).catch(() => undefined);
  dynamo.destroy();
});

describe(`exactly-once under faults, on Kafka (${SINK_CLIENT}) and DynamoDB Local: ${config.schedules} schedule(s) per scenario from seed ${config.seed}`, () => {
  for (const scenario of [runningTotals('keyed', scenarioOptions), runningTotals('chain', scenarioOptions)]) {
    it(`${scenario.name}: committed output and state equal the oracle`, async () => {
      const report = await runFaultSchedules(realWorld, scenario, { seed: config.seed, schedules: config.schedules, ...schedule, trace: traceFromEnv() });
      console.log(`${scenario.name}: ${describeStats(report.stats)}`);
      expect(report.failures.length, formatFailures(report)).toBe(0);
    }, 300_000);
  }

  it('clicks-seen/at-least-once with over 99 state writes per batch: no click lost from output or state (duplicates allowed)', async () => {
    // 1,000 users over 2 partitions and batches of up to 400 records: most batches change hundreds
    // of state entries, all in one batch record on DynamoDB Local. Zombies sleep up to 40 ms before
    // each call, so one often acts after its rival committed: only the record slot's condition (the
    // first prepare of a batch wins) keeps the loser's state from replacing the winner's.
    const scenario = clicksSeen({ ...scenarioOptions, users: 1000, partitions: 2 });
    const schedules = config.replay ? 1 : Math.max(1, Math.ceil(config.schedules / 2));
    const report = await runFaultSchedules({ ...realWorld, jitterMs: 40 }, scenario, { seed: config.seed, schedules, records: 800, invocations: 10, maxBatch: 400, faults: { zombie: 0.5 }, trace: traceFromEnv() });
    console.log(`${scenario.name}: ${describeStats(report.stats)}`);
    expect(report.failures.length, formatFailures(report)).toBe(0);
    if (!config.replay) expect(report.stats.zombiePairs).toBeGreaterThan(0);
  }, 300_000);

  it('a fault-free batch of the keyed stage costs 4 store calls cold (read, load, prepare, confirm) and 3 warm (readCheckpoint, prepare, confirm); the DynamoDB and Kafka requests behind them', async () => {
    const meter = (): Record<string, number> => ({
      ...Object.fromEntries(Object.entries(dynamoMetrics.requests).map(([op, n]) => [`dynamodb.${op}`, n])),
      'kafka.requests': kafkaCounters.requests,
      'kafka.producersCreated': kafkaCounters.producersCreated,
    });
    const costs = await measureHappyPath(realWorld, runningTotals('keyed', { ...scenarioOptions, users: 3 }), { seed: 3, batches: 3, batchSize: 4, meter });
    costs.forEach((c, i) => console.log(`batch ${i + 1}: ${JSON.stringify(c)}`));
    const storeCalls = (c: Readonly<Record<string, number>>): number => Object.entries(c).filter(([k]) => k.startsWith('store.')).reduce((n, [, v]) => n + v, 0);
    expect(costs.map(storeCalls)).toEqual([4, 3, 3]);
    // Warm: one GetItem (the checkpoint's version), one PutItem (the batch record), one PutItem (the checkpoint).
    expect(costs[2]).toMatchObject({ 'dynamodb.GetItem': 1, 'dynamodb.PutItem': 2 });
    expect(costs[2]!['dynamodb.BatchGetItem'] ?? 0).toBe(0);
    expect(costs[2]).toMatchObject({ 'sink.begin': 1, 'sink.send': 1, 'sink.commit': 1 });
  }, 120_000);
});

describe('an in-doubt batch aborted after a later transaction on its partition', () => {
  /**
   * Batch 1 of task T writes its progress record and its container dies before committing;
   * another task's transaction on the same partition starts later and is aborted first; then a
   * recovery fences T, which makes the broker abort batch 1. The broker now lists the two aborted
   * transactions in abort order, not first-offset order, which is what trips kafkajs 2.2.4.
   */
  async function abortedOutOfOrder(run: (topic: string, resolve: () => Promise<string>) => Promise<void>): Promise<void> {
    const topic = await createTestTopic(kafka, 'sluice-test-eo-progress', 1);
    const [crashed, other, recovering] = [0, 1, 2].map(() => testSink(kafka, { transactionTimeoutMs: 60_000 }));
    try {
      const batch = await crashed!.begin(`${topic}.T`);
      const [progress] = await batch.send([progressRecord(topic, 0, 'T', 1, 10)]);
      const another = await other!.begin(`${topic}.U`);
      await another.send([{ topic, partition: 0, key: null, value: Buffer.from('u'), headers: [] }]);
      await another.abort();
      await run(topic, () => recovering!.resolve(`${topic}.T`, progress!, 'T', 1));
    } finally {
      await Promise.all([crashed, other, recovering].map((s) => s!.close()));
      await deleteTestTopics(kafka, [topic]);
    }
  }

  it("is resolved as 'aborted' (kafkajs's read_committed shows its progress record, so resolve says 'committed' and the batch is lost)", async () => {
    await abortedOutOfOrder(async (_topic, resolve) => {
      expect(await resolve()).toBe('aborted');
    });
  }, 60_000);

  it('is invisible to readToEnd at read_committed, as to the exact reader', async () => {
    await abortedOutOfOrder(async (topic, resolve) => {
      await resolve(); // the fence aborts batch 1
      const kafkajs = (await readToEnd(kafka, topic, { isolation: 'read_committed' })).map((r) => r.offset);
      const exact = (await readCommittedExactly(topic)).map((r) => r.offset);
      expect(kafkajs).toEqual(exact);
    });
  }, 60_000);
});

describe(`changelog protocol: exactly-once under faults, on Kafka (${SINK_CLIENT}) and DynamoDB Local: ${config.schedules} schedule(s) per scenario from seed ${config.seed}`, () => {
  const changelog = { pipeline: { ...scenarioOptions.pipeline, commit: 'changelog' as const } };
  for (const scenario of [runningTotals('keyed', changelog), runningTotals('chain', changelog)]) {
    it(`${scenario.name}: committed output, state and changelog equal the oracle`, async () => {
      const report = await runFaultSchedules(realWorld, scenario, { seed: config.seed, schedules: config.schedules, ...schedule, faults: { crashSteps: CHANGELOG_STEPS }, trace: traceFromEnv() });
      console.log(`${scenario.name} (changelog): ${describeStats(report.stats)}`);
      expect(report.failures.length, formatFailures(report)).toBe(0);
    }, 300_000);
  }

  it('a fault-free batch of the keyed stage reads the snapshot cold and then writes nothing to DynamoDB: one changelog read and one Kafka transaction a batch', async () => {
    const meter = (): Record<string, number> => ({
      ...Object.fromEntries(Object.entries(dynamoMetrics.requests).map(([op, n]) => [`dynamodb.${op}`, n])),
      'kafka.requests': kafkaCounters.requests,
    });
    const costs = await measureHappyPath(realWorld, runningTotals('keyed', { ...changelog, users: 3 }), { seed: 3, batches: 3, batchSize: 4, meter });
    costs.forEach((c, i) => console.log(`batch ${i + 1}: ${JSON.stringify(c)}`));
    const dynamoRequests = (c: Readonly<Record<string, number>>): number => Object.entries(c).filter(([k]) => k.startsWith('dynamodb.')).reduce((n, [, v]) => n + v, 0);
    // Cold: the checkpoint (a task never written also checks for Sluice 0.1's layout: two GetItems;
    // an empty snapshot has no chunks to read). Warm: nothing.
    expect(costs.map(dynamoRequests)).toEqual([2, 0, 0]);
    expect(costs[0]).toMatchObject({ 'dynamodb.GetItem': 2 });
    expect(costs[2]).toMatchObject({ 'sink.readLog': 1, 'sink.begin': 1, 'sink.send': 1, 'sink.commit': 1 });
  }, 120_000);
});
