/**
 * The backlog probe (kafka/backlog-probe.ts) against the real broker: what a source task about to
 * turn idle is told about the records of its partition at or after its next offset. Plain records
 * and committed transactions count; transaction markers, aborted records, a transaction still open
 * and an empty tail do not.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import type { TaskRef } from '../../framework/commit/ports.js';
import type { SourcePosition } from '../../framework/deploy/trigger-settings.js';
import { KafkaBacklogProbe } from '../../framework/kafka/backlog-probe.js';
import { createTestTopic, deleteTestTopics, testKafka, uniqueName } from '../support/infra.js';

const kafka = testKafka('sluice-test-backlog');
const probe = new KafkaBacklogProbe(kafka, { readTimeoutMs: 2_000 });
const topics: string[] = [];
const producers: Producer[] = [];
afterAll(async () => {
  await Promise.all(producers.map((p) => p.disconnect().catch(() => undefined)));
  await probe.close();
  await deleteTestTopics(kafka, topics);
});

const taskOf = (topic: string, partition = 0): TaskRef => ({ app: 'probe', stage: 'events', topic, partition, id: `events.${partition}` });
const value = (i: number) => ({ value: `r${i}`, partition: 0 });

/**
 * `unread`, asked until it says true (up to 3 s): a transaction's records become visible to
 * read_committed readers when the coordinator has written its markers, a moment after the
 * producer's commit returned.
 */
async function eventuallyUnread(task: TaskRef, from: number): Promise<boolean> {
  for (let i = 0; i < 30; i += 1) {
    if (await probe.unread(task, from)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function transactional(): Promise<Producer> {
  const producer = kafka.producer({ transactionalId: uniqueName('probe-txn'), idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  producers.push(producer);
  return producer;
}

describe('KafkaBacklogProbe', () => {
  it('plain records: unread from any offset up to the last, nothing past the end (and an empty partition has nothing)', async () => {
    const topic = await createTestTopic(kafka, 'probe-plain', 2);
    topics.push(topic);
    const task = taskOf(topic);
    expect(await probe.unread(task, 0)).toBe(false);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [value(0), value(1), value(2)] });
    await producer.disconnect();
    expect(await probe.unread(task, 0)).toBe(true);
    expect(await probe.unread(task, 2)).toBe(true);
    expect(await probe.unread(task, 3)).toBe(false);
    expect(await probe.unread(taskOf(topic, 1), 0)).toBe(false);
  });

  it('a transactional topic: the commit marker after the last record, aborted records and their marker are not unread; a later commit is', async () => {
    const topic = await createTestTopic(kafka, 'probe-txn', 1);
    topics.push(topic);
    const task = taskOf(topic);
    const producer = await transactional();
    const committed = await producer.transaction();
    await committed.send({ topic, messages: [value(0), value(1)] }); // offsets 0, 1; marker at 2
    await committed.commit();
    expect(await eventuallyUnread(task, 1)).toBe(true);
    expect(await probe.unread(task, 2)).toBe(false); // a task that read both: one short of the end, nothing unread

    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [value(3), value(4)] }); // offsets 3, 4; marker at 5
    await aborted.abort();
    expect(await probe.unread(task, 2)).toBe(false);

    const open = await producer.transaction();
    await open.send({ topic, messages: [value(6)] }); // offset 6, not decided yet
    // Not committed (and it may never be): not unread, as for a read_committed reader, which cannot
    // get past it. Like Flink's Kafka source, the partition can turn idle; its records, if they
    // commit, make it active again.
    expect(await probe.unread(task, 2)).toBe(false);
    await open.commit();
    expect(await eventuallyUnread(task, 2)).toBe(true);
    expect(await probe.unread(task, 7)).toBe(false);
  });

  it('a task that has read nothing yet (from -1): its trigger’s starting position decides what is coming to it', async () => {
    const topic = await createTestTopic(kafka, 'probe-start', 1);
    topics.push(topic);
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'early', partition: 0, timestamp: String(t0) }, { value: 'late', partition: 0, timestamp: String(t0 + 10_000) }] });
    await producer.disconnect();
    const task = taskOf(topic);
    const probeWith = (start: SourcePosition | undefined) => new KafkaBacklogProbe(kafka, { starts: start ? { [topic]: start } : {} });
    const ask = async (start: SourcePosition | undefined) => {
      const p = probeWith(start);
      try {
        return await p.unread(task, -1);
      } finally {
        await p.close();
      }
    };
    expect(await ask({ startingPosition: 'TRIM_HORIZON' })).toBe(true);
    expect(await ask({ startingPosition: 'AT_TIMESTAMP', startingPositionTimestamp: (t0 + 5_000) / 1000 })).toBe(true);
    expect(await ask({ startingPosition: 'AT_TIMESTAMP', startingPositionTimestamp: (t0 + 20_000) / 1000 })).toBe(false);
    // LATEST never delivers what was there before it started; an unknown topic cannot be told.
    expect(await ask({ startingPosition: 'LATEST' })).toBe(false);
    expect(await ask(undefined)).toBe(false);
  });
});
