/**
 * The TxnSink adapter against the real broker: offsets it reports, visibility of committed and
 * aborted transactions, in-doubt resolution (fence → probe → read_committed read), fencing
 * and recovery of cached producers, and kafkajs#1315 (back-to-back transactions).
 *
 * Runs against kafkajs's KafkaTxnSink, or with SLUICE_KAFKA_CLIENT=platformatic (under Node 22)
 * against PlatformaticTxnSink (test/support/sink-client.ts). Readers and other producers stay kafkajs.
 */
import type { Kafka, Producer } from 'kafkajs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { KafkaTxn } from '../../framework/commit/ports.js';
import { partitionForKey } from '../../framework/record/partitioner.js';
import type { KafkaRecord, OutgoingRecord, RecordHeader } from '../../framework/record/record.js';
import { newKafkaSinkCounters, type KafkaSinkCounters } from '../../framework/kafka/sink-counters.js';
import { ProducerFencedError, ResolveError } from '../../framework/kafka/sink-errors.js';
import { progressRecord } from '../../framework/record/progress.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestTopic, deleteTestTopics, readToEnd, testKafka, uniqueName } from '../support/infra.js';
import { endTxnResends, expectFencedCause, SINK_CLIENT, testSink, type TestSink } from '../support/sink-client.js';

const kafka = testKafka('sluice-test-txn-sink');
const topics: string[] = [];
const sinks: TestSink[] = [];
const producers: Producer[] = [];

afterEach(async () => {
  await Promise.all([...sinks.splice(0).map((s) => s.close()), ...producers.splice(0).map((p) => p.disconnect())]);
});
afterAll(() => deleteTestTopics(kafka, topics));

async function newTopic(prefix: string, partitions = 1): Promise<string> {
  const topic = await createTestTopic(kafka, prefix, partitions);
  topics.push(topic);
  return topic;
}

/** One "container": its own sink and producers. */
function newSink(counters: KafkaSinkCounters = newKafkaSinkCounters(), resolveTimeoutMs = 30_000): TestSink {
  const sink = testSink(kafka, { transactionTimeoutMs: 60_000, counters, resolveTimeoutMs });
  sinks.push(sink);
  return sink;
}

/** A plain kafkajs transactional producer, as another task's Lambda would hold. */
async function rawProducer(client: Kafka, transactionalId: string): Promise<Producer> {
  const producer = client.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
  producers.push(producer);
  await producer.connect();
  return producer;
}

/**
 * What read_committed readers see on `topic`, once it stops changing: a commit returns before the
 * coordinator has written its markers, and until then the last stable offset (where readToEnd
 * stops) can be before the records just committed (seen on the platformatic sink, Node 22).
 */
async function committed(topic: string): Promise<KafkaRecord[]> {
  let last = await readToEnd(kafka, topic, { isolation: 'read_committed' });
  for (let i = 0; i < 20; i += 1) {
    await new Promise((r) => setTimeout(r, 150));
    const next = await readToEnd(kafka, topic, { isolation: 'read_committed' });
    if (next.length === last.length) return next;
    last = next;
  }
  return last;
}

function rec(topic: string, value: string, extra: Partial<OutgoingRecord> = {}): OutgoingRecord {
  return { topic, key: null, value: Buffer.from(value), headers: [], ...extra };
}

const text = (h: readonly RecordHeader[]): [string, string][] => h.map((x) => [x.name, x.value.toString()]);

/** Writes `records` plus a progress record of (task, seq) in one transaction; returns where the progress record went. */
async function writeBatch(txn: KafkaTxn, progressTopic: string, task: string, seq: number, records: OutgoingRecord[] = []) {
  const sent = await txn.send([...records, progressRecord(progressTopic, 0, task, seq, seq * 10)]);
  return sent[sent.length - 1]!;
}

describe('send and commit', () => {
  it('report the offset of every record: read_committed finds each record at its offset with its key, value and headers', async () => {
    const three = await newTopic('sink-offsets-3', 3);
    const one = await newTopic('sink-offsets-1', 1);
    const sink = newSink();
    const records: OutgoingRecord[] = [
      rec(one, 'b0'),
      rec(three, 'explicit-2', { partition: 2, key: Buffer.from('k') }),
      rec(three, 'keyed-a', { key: Buffer.from('a') }),
      rec(one, 'b1', { headers: [{ name: 'h', value: Buffer.from('1') }, { name: 'g', value: Buffer.from('x') }, { name: 'h', value: Buffer.from('2') }] }),
      rec(three, 'keyed-b', { key: Buffer.from('b'), timestamp: 1_700_000_000_123 }),
      rec(three, 'null-key-1'),
      rec(three, 'null-key-2'),
      rec(three, 'keyed-a-again', { key: Buffer.from('a') }),
    ];
    const txn = await sink.begin(uniqueName('sink-offsets'));
    const first = await txn.send(records.slice(0, 5));
    const second = await txn.send(records.slice(5));
    await txn.commit();
    const sent = [...first, ...second];

    // The single-partition topic gets consecutive offsets across records of one request.
    expect(sent.filter((s) => s.topic === one)).toEqual([
      { topic: one, partition: 0, offset: 0 },
      { topic: one, partition: 0, offset: 1 },
    ]);
    expect(sent[1]).toEqual({ topic: three, partition: 2, offset: expect.any(Number) });
    expect(sent[2]!.partition).toBe(partitionForKey(Buffer.from('a'), 3));
    expect(sent[7]!.partition).toBe(partitionForKey(Buffer.from('a'), 3));
    expect(sent[4]!.partition).toBe(partitionForKey(Buffer.from('b'), 3));
    expect(new Set([sent[5]!.partition, sent[6]!.partition]).size).toBe(2); // round robin

    const visible = [...(await committed(three)), ...(await committed(one))];
    const at = new Map(visible.map((r) => [`${r.topic}/${r.partition}/${r.offset}`, r]));
    expect(visible).toHaveLength(records.length);
    records.forEach((r, i) => {
      const s = sent[i]!;
      const got = at.get(`${s.topic}/${s.partition}/${s.offset}`);
      expect(got, `record ${i} at ${s.topic}/${s.partition}/${s.offset}`).toBeDefined();
      expect(got!.value?.toString()).toBe(r.value?.toString());
      expect(got!.key?.toString() ?? null).toBe(r.key?.toString() ?? null);
    });
    // Repeated header names survive, in order per name; names are grouped (a documented kafkajs limit).
    expect(text(at.get(`${one}/0/1`)!.headers)).toEqual([
      ['h', '1'],
      ['h', '2'],
      ['g', 'x'],
    ]);
    expect(at.get(`${three}/${sent[4]!.partition}/${sent[4]!.offset}`)!.timestamp).toBe(1_700_000_000_123);
  });

  it('keeps every record timestamp when the records of one partition lie more than 2^31 ms (24.8 days) apart', async () => {
    // @platformatic/kafka writes a timestamp as a delta from the first record of its batch, and its
    // varint writer loses deltas beyond 32 bits; the platformatic sink starts a new request there.
    const topic = await newTopic('sink-timestamps');
    const day = 86_400_000;
    const stamps = [1_700_000_000_123, 1_700_000_000_123 + 30 * day, 1_700_000_000_123 - 400 * day, 1_700_000_000_124];
    const txn = await newSink().begin(uniqueName('sink-timestamps'));
    const sent = await txn.send([...stamps.map((timestamp, i) => rec(topic, `t${i}`, { timestamp })), rec(topic, 'now')]);
    await txn.commit();
    expect(sent.map((s) => s.offset)).toEqual([0, 1, 2, 3, 4]);
    const got = await committed(topic);
    expect(got.slice(0, 4).map((r) => r.timestamp)).toEqual(stamps);
    expect(Math.abs(got[4]!.timestamp - Date.now())).toBeLessThan(60_000);
  });

  it('splits a send bigger than maxRequestBytes into several requests and still reports consecutive offsets', async () => {
    const topic = await newTopic('sink-split');
    const sink = testSink(kafka, { transactionTimeoutMs: 60_000, maxRequestBytes: 1_000 });
    sinks.push(sink);
    const records = Array.from({ length: 30 }, (_, i) => rec(topic, `${i}`.padStart(200, '.')));
    const txn = await sink.begin(uniqueName('sink-split'));
    const sent = await txn.send(records);
    await txn.commit();
    expect(sent.map((s) => s.offset)).toEqual(records.map((_, i) => i));
    expect((await committed(topic)).map((r) => r.value?.toString())).toEqual(records.map((r) => r.value?.toString()));
  });

  it('abort makes the records invisible to read_committed; the next transaction of the same producer commits', async () => {
    const topic = await newTopic('sink-abort');
    const counters = newKafkaSinkCounters();
    const sink = newSink(counters);
    const id = uniqueName('sink-abort');
    const aborted = await sink.begin(id);
    expect(await aborted.send([rec(topic, 'a0'), rec(topic, 'a1')])).toEqual([
      { topic, partition: 0, offset: 0 },
      { topic, partition: 0, offset: 1 },
    ]);
    await aborted.abort();
    const next = await sink.begin(id);
    expect(await next.send([rec(topic, 'c0')])).toEqual([{ topic, partition: 0, offset: 3 }]); // 2 is the abort marker
    await next.commit();
    expect((await committed(topic)).map((r) => [r.offset, r.value?.toString()])).toEqual([[3, 'c0']]);
    expect(counters).toMatchObject({ transactions: 2, commits: 1, aborts: 1, producersCreated: 1, fenced: 0 });
  });

  it('rejects a record for a partition the topic does not have (kafkajs would silently leave it out)', async () => {
    const topic = await newTopic('sink-bad-partition', 2);
    const txn = await newSink().begin(uniqueName('sink-bad-partition'));
    await expect(txn.send([rec(topic, 'x', { partition: 0 }), rec(topic, 'y', { partition: 2 })])).rejects.toMatchObject({
      code: 'SLUICE_KAFKA_SINK',
      place: { topic, partition: 2 },
    });
    await txn.abort();
    expect(await committed(topic)).toEqual([]);
  });

  it('sendDirect called concurrently by several tasks: every record lands once, at the offset reported to its caller', async () => {
    const topic = await newTopic('sink-direct-concurrent', 2);
    const sink = newSink();
    const sent = await Promise.all(
      Array.from({ length: 20 }, (_, i) => sink.sendDirect([rec(topic, `a${i}`, { partition: i % 2 }), rec(topic, `b${i}`, { partition: (i + 1) % 2 })])),
    );
    const got = await committed(topic);
    expect(got).toHaveLength(40);
    const at = new Map(got.map((r) => [`${r.partition}@${r.offset}`, r.value!.toString()]));
    sent.forEach((offsets, i) => {
      expect(at.get(`${offsets[0]!.partition}@${offsets[0]!.offset}`)).toBe(`a${i}`);
      expect(at.get(`${offsets[1]!.partition}@${offsets[1]!.offset}`)).toBe(`b${i}`);
    });
  });

  it('sendDirect (at-least-once) reports offsets and the records are visible without a transaction', async () => {
    const topic = await newTopic('sink-direct', 2);
    const sink = newSink();
    const sent = await sink.sendDirect([rec(topic, 'd0', { partition: 1 }), rec(topic, 'd1', { partition: 1 }), rec(topic, 'd2', { partition: 0 })]);
    expect(sent).toEqual([
      { topic, partition: 1, offset: 0 },
      { topic, partition: 1, offset: 1 },
      { topic, partition: 0, offset: 0 },
    ]);
    expect((await committed(topic)).map((r) => [r.partition, r.offset, r.value?.toString()])).toEqual([
      [0, 0, 'd2'],
      [1, 0, 'd0'],
      [1, 1, 'd1'],
    ]);
  });
});

describe('resolve', () => {
  it("answers 'committed' for a committed batch, from another container", async () => {
    const [data, progress] = await Promise.all([newTopic('resolve-c-data'), newTopic('resolve-c-progress')]);
    const id = uniqueName('resolve-c');
    const txn = await newSink().begin(id);
    const at = await writeBatch(txn, progress, 'stage.0', 7, [rec(data, 'out')]);
    await txn.commit();
    const counters = newKafkaSinkCounters();
    const started = Date.now();
    expect(await newSink(counters).resolve(id, at, 'stage.0', 7)).toBe('committed');
    console.log(`[txn-sink ${SINK_CLIENT}] resolve: ${Date.now() - started} ms, ${counters.requests} requests ${JSON.stringify(counters.requestsByApi)}`);
    expect(await newSink().resolve(id, at, 'stage.0', 7)).toBe('committed'); // asking again changes nothing
  });

  it("answers 'aborted' when the record at the position belongs to another seq", async () => {
    const progress = await newTopic('resolve-seq-progress');
    const id = uniqueName('resolve-seq');
    const txn = await newSink().begin(id);
    const at = await writeBatch(txn, progress, 'stage.0', 7);
    await txn.commit();
    expect(await newSink().resolve(id, at, 'stage.0', 8)).toBe('aborted');
  });

  it("answers 'aborted' for an aborted batch", async () => {
    const progress = await newTopic('resolve-a-progress');
    const id = uniqueName('resolve-a');
    const txn = await newSink().begin(id);
    const at = await writeBatch(txn, progress, 'stage.0', 3);
    await txn.abort();
    expect(await newSink().resolve(id, at, 'stage.0', 3)).toBe('aborted');
  });

  it("answers 'aborted' for an aborted batch whose producer aborted again later on the same partition", async () => {
    // Two aborted transactions of one producer id in one fetch: @platformatic/kafka's own
    // read_committed filter keeps only the later one out, so the first batch's progress record
    // would read as committed (and the batch be promoted) without the sink's own filter.
    const progress = await newTopic('resolve-aa-progress');
    const id = uniqueName('resolve-aa');
    const sink = newSink();
    const first = await sink.begin(id);
    const at = await writeBatch(first, progress, 'stage.0', 4);
    await first.abort();
    const committedBetween = await sink.begin(id);
    await writeBatch(committedBetween, progress, 'other.0', 1);
    await committedBetween.commit();
    const second = await sink.begin(id);
    await writeBatch(second, progress, 'stage.0', 4);
    await second.abort();
    expect(await newSink().resolve(id, at, 'stage.0', 4)).toBe('aborted');
  });

  it("answers 'aborted' for a batch left open by a crashed producer, whose later commit is fenced; the recovering sink keeps the new producer", async () => {
    const [data, progress] = await Promise.all([newTopic('resolve-open-data'), newTopic('resolve-open-progress')]);
    const id = uniqueName('resolve-open');
    const crashed = await newSink().begin(id); // never committed, never disconnected
    const at = await writeBatch(crashed, progress, 'stage.0', 5, [rec(data, 'zombie')]);

    const counters = newKafkaSinkCounters();
    const recovering = newSink(counters);
    expect(await recovering.resolve(id, at, 'stage.0', 5)).toBe('aborted');
    const fenced: unknown = await crashed.commit().catch((e: unknown) => e);
    expect(fenced).toBeInstanceOf(ProducerFencedError);
    expectFencedCause((fenced as Error).cause); // EndTxn
    await expect(crashed.commit()).rejects.toThrow(/cannot commit/);

    const next = await recovering.begin(id);
    await next.send([rec(data, 'retry')]);
    await next.commit();
    expect(counters.producersCreated).toBe(1);
    expect((await committed(data)).map((r) => r.value?.toString())).toEqual(['retry']);
    expect(await newSink().resolve(id, at, 'stage.0', 5)).toBe('aborted'); // final: asking again changes nothing
  });

  it("answers 'committed' only after another task's transaction, open on the same progress partition, ends", async () => {
    const progress = await newTopic('resolve-wait-progress');
    const other = await rawProducer(kafka, uniqueName('resolve-wait-other'));
    const otherTxn = await other.transaction();
    await otherTxn.send({ topic: progress, messages: [{ key: 'other.0', value: JSON.stringify({ task: 'other.0', seq: 1, nextOffset: 1 }), partition: 0 }] });

    const id = uniqueName('resolve-wait');
    const txn = await newSink().begin(id);
    const at = await writeBatch(txn, progress, 'stage.0', 2);
    await txn.commit();

    const started = Date.now();
    let settled = false;
    const outcome = newSink()
      .resolve(id, at, 'stage.0', 2)
      .finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 2_000));
    expect(settled).toBe(false); // read_committed is held back at the other transaction
    await otherTxn.commit();
    expect(await outcome).toBe('committed');
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
  });

  it('gives up with SLUICE_RESOLVE_TIMEOUT while another transaction stays open past the timeout', async () => {
    const progress = await newTopic('resolve-timeout-progress');
    const other = await rawProducer(kafka, uniqueName('resolve-timeout-other'));
    const otherTxn = await other.transaction();
    await otherTxn.send({ topic: progress, messages: [{ value: 'open', partition: 0 }] });
    const id = uniqueName('resolve-timeout');
    const txn = await newSink().begin(id);
    const at = await writeBatch(txn, progress, 'stage.0', 1);
    await txn.commit();
    await expect(newSink(newKafkaSinkCounters(), 3_000).resolve(id, at, 'stage.0', 1)).rejects.toMatchObject({
      code: 'SLUICE_RESOLVE_TIMEOUT',
    });
    await otherTxn.abort();
  });

  it('fences the progress partition\'s other writers when the read stalls behind a transaction left open, and answers long before the timeout', async () => {
    const progress = await newTopic('resolve-stall-progress');
    const orphanId = uniqueName('resolve-stall-orphan');
    // A crashed invocation's transaction: begun, sent to the progress partition, never ended.
    const orphan = await rawProducer(kafka, orphanId);
    const orphanTxn = await orphan.transaction();
    await orphanTxn.send({ topic: progress, messages: [{ value: JSON.stringify({ task: 'other.0', seq: 7, nextOffset: 70 }), partition: 0 }] });
    const id = uniqueName('resolve-stall');
    const txn = await newSink().begin(id);
    const at = await writeBatch(txn, progress, 'stage.0', 1);
    await txn.commit();

    const counters = newKafkaSinkCounters();
    const sink = testSink(kafka, { transactionTimeoutMs: 60_000, counters, resolveTimeoutMs: 30_000, stallFenceMs: 1_000 });
    sinks.push(sink);
    const started = Date.now();
    expect(await sink.resolve(id, at, 'stage.0', 1, { peers: [id, orphanId, uniqueName('resolve-stall-idle')] })).toBe('committed');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(Date.now() - started).toBeLessThan(15_000);
    // Both other ids were fenced (the one with nothing open too); the resolving id is not a peer of itself.
    expect(counters.peersFenced).toBe(2);
    await expect(orphanTxn.commit()).rejects.toThrow();
    expect((await committed(progress)).map((r) => r.value!.toString())).not.toContain(JSON.stringify({ task: 'other.0', seq: 7, nextOffset: 70 }));
  });

  it('refuses to answer with SLUICE_PROGRESS_LOST when retention removed the progress record', async () => {
    const progress = await newTopic('resolve-lost-progress');
    const id = uniqueName('resolve-lost');
    const txn = await newSink().begin(id);
    const at = await writeBatch(txn, progress, 'stage.0', 1);
    await txn.commit();
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.fetchTopicMetadata({ topics: [progress] }); // kafkajs: deleteTopicRecords needs the metadata loaded
      await admin.deleteTopicRecords({ topic: progress, partitions: [{ partition: 0, offset: String(at.offset + 1) }] });
    } finally {
      await admin.disconnect();
    }
    const error: unknown = await newSink().resolve(id, at, 'stage.0', 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResolveError);
    expect(error).toMatchObject({ code: 'SLUICE_PROGRESS_LOST' });
  });
});

describe('fencing and back-to-back transactions', () => {
  it('runs 50 back-to-back transactions on one producer (kafkajs#1315)', async () => {
    const topic = await newTopic('sink-b2b');
    const counters = newKafkaSinkCounters();
    const sink = newSink(counters);
    const id = uniqueName('sink-b2b');
    const started = Date.now();
    for (let i = 0; i < 50; i++) {
      const txn = await sink.begin(id);
      expect(await txn.send([rec(topic, `v${i}`)])).toEqual([{ topic, partition: 0, offset: 2 * i }]);
      await txn.commit();
    }
    const elapsed = Date.now() - started;
    expect((await committed(topic)).map((r) => r.value?.toString())).toEqual(Array.from({ length: 50 }, (_, i) => `v${i}`));
    expect(counters).toMatchObject({ transactions: 50, commits: 50, producersCreated: 1, recordsSent: 50 });
    const retried = (counters.requestsByApi.AddPartitionsToTxn ?? 0) - 50; // CONCURRENT_TRANSACTIONS, retried after PRODUCER_RETRY's 20 ms
    console.log(`[txn-sink ${SINK_CLIENT}] 50 back-to-back transactions: ${elapsed} ms, ${retried} AddPartitionsToTxn retries (kafkajs#1315), requests ${JSON.stringify(counters.requestsByApi)}`);
    expect(elapsed).toBeLessThan(50 * 100 + retried * 200);
  });

  it('surfaces ProducerFencedError when another container fenced the cached producer, and recovers at the next begin()', async () => {
    const topic = await newTopic('sink-fenced');
    const id = uniqueName('sink-fenced');
    const counters = newKafkaSinkCounters();
    const a = newSink(counters);
    const b = newSink();

    const a1 = await a.begin(id);
    await a1.send([rec(topic, 'a1')]);
    await a1.commit();

    const b1 = await b.begin(id); // InitProducerId: a's cached producer is now fenced
    await b1.send([rec(topic, 'b1')]);
    await b1.commit();

    const a2 = await a.begin(id);
    const fenced: unknown = await a2.send([rec(topic, 'a2')]).catch((e: unknown) => e);
    expect(fenced).toMatchObject({ name: 'ProducerFencedError', code: 'SLUICE_FENCED' });
    expectFencedCause((fenced as Error).cause); // AddPartitionsToTxn
    await a2.abort(); // a no-op: the transaction can never commit
    expect(counters.fenced).toBe(1);

    const a3 = await a.begin(id); // a fresh producer, which fences b in turn
    await a3.send([rec(topic, 'a3')]);
    await a3.commit();
    expect(counters.producersCreated).toBe(2);
    expect((await committed(topic)).map((r) => r.value?.toString())).toEqual(['a1', 'b1', 'a3']);
  });

  it('begin() replaces a producer whose earlier transaction was left open in this container', async () => {
    const topic = await newTopic('sink-left-open');
    const id = uniqueName('sink-left-open');
    const sink = newSink();
    const left = await sink.begin(id);
    await left.send([rec(topic, 'left-open')]);
    const next = await sink.begin(id);
    await next.send([rec(topic, 'next')]);
    await next.commit();
    await expect(left.commit()).rejects.toBeInstanceOf(ProducerFencedError);
    expect((await committed(topic)).map((r) => r.value?.toString())).toEqual(['next']);
  });
});

describe('a commit racing a fence of the same transactional id', () => {
  /**
   * A zombie's EndTxn and a new producer's InitProducerId (claim, or recovery's fence) meet at the
   * coordinator. kafkajs sent EndTxn once, so the zombie could see CONCURRENT_TRANSACTIONS (4.x
   * with transaction.version=2: the fence bumps the epoch only when its abort is appended) or
   * UNKNOWN_SERVER_ERROR (an IllegalStateException of the broker, 3.9 and 4.x) instead of an
   * answer. With EndTxn re-sent as the Java client does (kafka/txn-retries.ts), every commit
   * either succeeds or is fenced, and the answer is what read_committed shows.
   */
  it('ends every time in a definite answer that matches what read_committed sees (60 rounds)', async () => {
    const topic = await newTopic('sink-race');
    const outcomes = { committed: 0, fenced: 0 };
    const unexpected: string[] = [];
    const expected: string[] = [];
    const retriedBefore = await endTxnResends();
    const zombieCounters = newKafkaSinkCounters();
    for (let round = 0; round < 60; round++) {
      const id = uniqueName('sink-race');
      const zombie = newSink(zombieCounters);
      const txn = await zombie.begin(id);
      await txn.send([rec(topic, `r${round}`)]);
      // The fencer is connected beforehand, so its transaction() is just FindCoordinator +
      // InitProducerId; the two requests are started 0–3 ms apart, each way round.
      const fencer = await rawProducer(kafka, id);
      const lead = (round % 8) - 4; // < 0: the fence starts first
      const fence = async (): Promise<void> => {
        await sleep(Math.max(0, lead));
        await (await fencer.transaction()).abort();
      };
      const commit = async (): Promise<void> => {
        await sleep(Math.max(0, -lead));
        await txn.commit();
      };
      const [committedOrNot] = await Promise.allSettled([commit(), fence()]);
      if (committedOrNot.status === 'fulfilled') {
        outcomes.committed++;
        expected.push(`r${round}`);
      } else if (committedOrNot.reason instanceof ProducerFencedError) outcomes.fenced++;
      else unexpected.push(String(committedOrNot.reason));
      await zombie.close();
    }
    console.log(`[txn-sink ${SINK_CLIENT}] commit vs fence: ${JSON.stringify(outcomes)}, EndTxn re-sent ${(await endTxnResends()) - retriedBefore} times after an undecided answer; ${zombieCounters.requestsByApi.EndTxn ?? 0} EndTxn requests for 60 commits`);
    expect(unexpected).toEqual([]);
    expect((await committed(topic)).map((r) => r.value?.toString())).toEqual(expected);
  }, 180_000);
});
