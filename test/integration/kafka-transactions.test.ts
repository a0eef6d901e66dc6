/**
 * What Sluice's exactly-once protocol assumes of Kafka transactions, checked against the
 * real broker with the client Sluice uses (kafkajs 2.2.4, Kafka 3.9).
 */
import type { Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTopic, deleteTestTopics, readToEnd, testKafka, uniqueName } from '../support/infra.js';

const kafka = testKafka('sluice-test-transactions');
const topics: string[] = [];
afterAll(() => deleteTestTopics(kafka, topics));

async function newTopic(prefix: string): Promise<string> {
  const topic = await createTestTopic(kafka, prefix);
  topics.push(topic);
  return topic;
}

function transactionalProducer(client: Kafka, transactionalId: string): Producer {
  return client.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
}

async function writeInTransaction(producer: Producer, topic: string, values: string[], end: 'commit' | 'abort'): Promise<void> {
  const txn = await producer.transaction();
  await txn.send({ topic, messages: values.map((value) => ({ value })) });
  await (end === 'commit' ? txn.commit() : txn.abort());
}

const view = (records: { offset: number; value: Buffer | null }[]): [number, string][] =>
  records.map((r) => [r.offset, r.value?.toString() ?? '<null>']);

const FENCED = { name: 'KafkaJSProtocolError', type: 'INVALID_PRODUCER_EPOCH', code: 47 };

describe('a topic written by committed, aborted and committed transactions', () => {
  let topic: string;

  beforeAll(async () => {
    topic = await newTopic('txn-visibility');
    const producer = transactionalProducer(kafka, uniqueName('txn-visibility'));
    await producer.connect();
    try {
      await writeInTransaction(producer, topic, ['c0', 'c1', 'c2'], 'commit'); // offsets 0-2, marker 3
      await writeInTransaction(producer, topic, ['a0', 'a1'], 'abort'); // offsets 4-5, marker 6
      await writeInTransaction(producer, topic, ['c3'], 'commit'); // offset 7, marker 8
    } finally {
      await producer.disconnect();
    }
  });

  it('ends at high watermark 9: six records and three transaction markers', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(await admin.fetchTopicOffsets(topic)).toMatchObject([{ partition: 0, low: '0', high: '9' }]);
    } finally {
      await admin.disconnect();
    }
  });

  it('shows a read_committed consumer exactly the committed records, in order', async () => {
    const records = await readToEnd(kafka, topic, { isolation: 'read_committed' });
    expect(view(records)).toEqual([
      [0, 'c0'],
      [1, 'c1'],
      [2, 'c2'],
      [7, 'c3'],
    ]);
  });

  it('shows a read_uncommitted consumer the aborted records too (but never the markers)', async () => {
    const records = await readToEnd(kafka, topic, { isolation: 'read_uncommitted' });
    expect(view(records)).toEqual([
      [0, 'c0'],
      [1, 'c1'],
      [2, 'c2'],
      [4, 'a0'],
      [5, 'a1'],
      [7, 'c3'],
    ]);
  });
});

describe('two producers with the same transactionalId', () => {
  it('do not fence each other on connect(): kafkajs initialises the transactional id at the first transaction()', async () => {
    const topic = await newTopic('txn-connect');
    const id = uniqueName('txn-connect');
    const older = transactionalProducer(kafka, id);
    const newer = transactionalProducer(kafka, id);
    await older.connect();
    try {
      const txn = await older.transaction();
      await txn.send({ topic, messages: [{ value: 'older' }] });
      await newer.connect();
      await txn.commit();
      expect(view(await readToEnd(kafka, topic, { isolation: 'read_committed' }))).toEqual([[0, 'older']]);
    } finally {
      await Promise.all([older.disconnect(), newer.disconnect()]);
    }
  });

  it("fence the older one at the newer one's first transaction(): the older one's send fails with INVALID_PRODUCER_EPOCH", async () => {
    const topic = await newTopic('txn-fence-send');
    const id = uniqueName('txn-fence-send');
    const older = transactionalProducer(kafka, id);
    const newer = transactionalProducer(kafka, id);
    await Promise.all([older.connect(), newer.connect()]);
    try {
      const olderTxn = await older.transaction();
      await olderTxn.send({ topic, messages: [{ value: 'older-1' }] });
      const newerTxn = await newer.transaction();
      await expect(olderTxn.send({ topic, messages: [{ value: 'older-2' }] })).rejects.toMatchObject(FENCED);
      await newerTxn.abort();
    } finally {
      await Promise.all([older.disconnect(), newer.disconnect()]);
    }
  });

  it("fence the older one: its commit fails with INVALID_PRODUCER_EPOCH and its open transaction is aborted; only the newer one's records become visible", async () => {
    const topic = await newTopic('txn-fence-commit');
    const id = uniqueName('txn-fence-commit');
    const older = transactionalProducer(kafka, id);
    const newer = transactionalProducer(kafka, id);
    await Promise.all([older.connect(), newer.connect()]);
    try {
      const olderTxn = await older.transaction();
      await olderTxn.send({ topic, messages: [{ value: 'older' }] });
      const newerTxn = await newer.transaction();
      await newerTxn.send({ topic, messages: [{ value: 'newer' }] });
      await expect(olderTxn.commit()).rejects.toMatchObject(FENCED);
      await newerTxn.commit();
      const committed = await readToEnd(kafka, topic, { isolation: 'read_committed' });
      expect(committed.map((r) => r.value?.toString())).toEqual(['newer']);
    } finally {
      await Promise.all([older.disconnect(), newer.disconnect()]);
    }
  });
});
