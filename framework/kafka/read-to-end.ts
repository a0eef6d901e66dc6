/**
 * Reads a topic from the beginning up to the high watermark it had when the read started,
 * then stops: the way to check "exactly these records are visible" without sleeping.
 * Used by the demo and the integration tests; not part of a stage's data path.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { SluiceError } from '../errors.js';
import type { KafkaRecord } from '../record/record.js';
import { recordFromKafkajs } from './kafkajs-record.js';
import { topicOffsets } from './topic-offsets.js';
import { highWatermarks } from './private-cluster.js';

/** Options of readToEnd. */
export interface ReadToEndOptions {
  /** read_committed skips records of aborted and open transactions (Kafka's default for EOS readers). */
  readonly isolation: 'read_committed' | 'read_uncommitted';
  /** Default 30 s. */
  readonly timeoutMs?: number;
  /**
   * How far (read_committed): `high-watermark` (default), the end of the log as the read starts —
   * records committed just before the call are read even if their markers are still being
   * written, and a transaction still open makes the read wait (and time out if it stays open);
   * `stable`, the last stable offset: never waits for a transaction (tools listing what is
   * committed now).
   */
  readonly end?: 'high-watermark' | 'stable';
}

/**
 * All records of the topic, in offset order per partition (partitions ascending). A read whose
 * consumer crashed on a retriable error (a group coordinator still loading after a broker
 * restart) is done again with a fresh consumer, a few times: the read has no side effects.
 */
export async function readToEnd(kafka: Kafka, topic: string, options: ReadToEndOptions): Promise<KafkaRecord[]> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await readOnce(kafka, topic, options);
    } catch (error) {
      const retriable = (error as { retriable?: unknown }).retriable === true || (error as { name?: unknown }).name === 'KafkaJSNumberOfRetriesExceeded';
      if (!retriable || attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

async function readOnce(kafka: Kafka, topic: string, options: ReadToEndOptions): Promise<KafkaRecord[]> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `sluice-read-to-end-${randomUUID()}`;
  try {
    // The end to reach per partition: high watermark - 1 (the last offset, maybe a commit marker).
    // kafkajs's admin answers the last stable offset (ListOffsets at READ_COMMITTED), which right
    // after a commit can still be before the records just committed (the coordinator writes the
    // markers after EndTxn returns): the high watermark comes from a READ_UNCOMMITTED ListOffsets,
    // and a read_committed read then waits for the markers (or times out on a transaction left open).
    const highs = options.end === 'stable' ? new Map<number, number>() : await highWatermarks(kafka, topic);
    const remaining = new Map<number, bigint>();
    for (const p of await topicOffsets(admin, topic)) {
      const high = BigInt(highs.get(p.partition) ?? Number(p.high));
      if (high > BigInt(p.low)) remaining.set(p.partition, high - 1n);
    }
    if (remaining.size === 0) return [];
    const target = new Map(remaining);
    const records: KafkaRecord[] = [];
    // No restart of its own after a crash (kafkajs would restart it behind our back): the read fails and is done again.
    const consumer = kafka.consumer({ groupId, readUncommitted: options.isolation === 'read_uncommitted', maxWaitTimeInMs: 100, retry: { restartOnFailure: () => Promise.resolve(false) } });
    let settle: (error?: Error) => void = () => undefined;
    const done = new Promise<void>((resolve, reject) => {
      settle = (error) => (error ? reject(error) : resolve());
    });
    // END_BATCH_PROCESS also fires for batches that held only control records or aborted
    // records (lastOffset then covers them), so the end is reached even when it is a marker.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const end = remaining.get(payload.partition);
      if (payload.topic === topic && end !== undefined && BigInt(payload.lastOffset) >= end) remaining.delete(payload.partition);
      if (remaining.size === 0) settle();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => settle(payload.error));
    // Records before the target may be deleted meanwhile (retention, deleteRecords): the consumer
    // then starts past them and never sees the target. A partition whose log now starts after
    // its target has nothing more to give.
    const deleted = setInterval(() => {
      topicOffsets(admin, topic)
        .then((offsets) => {
          for (const p of offsets) {
            const end = remaining.get(p.partition);
            if (end !== undefined && BigInt(p.low) > end) remaining.delete(p.partition);
          }
          if (remaining.size === 0) settle();
        })
        .catch(() => undefined);
    }, 1_000);
    const timer = setTimeout(() => {
      const where = [...remaining.keys()].map((p) => `partition ${p} up to offset ${String(target.get(p))}`).join(', ');
      settle(new SluiceError('SLUICE_READ_TIMEOUT', `Reading "${topic}" did not reach ${where} within ${timeoutMs} ms`, { topic }, 'with read_committed an open transaction holds readers back; is one still open?'));
    }, timeoutMs);
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          const end = target.get(batch.partition);
          for (const m of batch.messages) if (end !== undefined && BigInt(m.offset) <= end) records.push(recordFromKafkajs(topic, batch.partition, m));
        },
      });
      await done;
    } finally {
      clearTimeout(timer);
      clearInterval(deleted);
      await consumer.disconnect();
    }
    return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}


