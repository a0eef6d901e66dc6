/**
 * Watches a topic the way a downstream reader would and notes when each record became visible
 * to it: a kafkajs consumer (read_committed for outputs, so a record counts only once its
 * transaction committed) in a throwaway group, started at the beginning or at given offsets.
 * Pass a client from Sluice's createKafka: it fixes kafkajs's read_committed filtering.
 */
import { randomBytes } from 'node:crypto';
import type { Consumer, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { PROVENANCE_HEADERS } from '../framework/record/provenance.js';

/** One record as observed. */
export interface Observed {
  readonly partition: number;
  readonly offset: number;
  /** Kafka timestamp of the record (CreateTime: set by its producer). */
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Sluice's provenance headers (`task|seq|idx`), if the record has them: the key readers dedupe by. */
  readonly provenance: string | undefined;
  /** Epoch ms at which the observer received it. */
  readonly visibleAt: number;
}

/** `task|seq|idx` from kafkajs headers, or undefined. */
export function provenanceOf(headers: IHeaders | undefined): string | undefined {
  const one = (name: string): string | undefined => {
    const v = headers?.[name];
    const first = Array.isArray(v) ? v[0] : v;
    return first === undefined ? undefined : first.toString();
  };
  const task = one(PROVENANCE_HEADERS.task);
  return task === undefined ? undefined : `${task}|${one(PROVENANCE_HEADERS.seq)}|${one(PROVENANCE_HEADERS.idx)}`;
}

/** Where to start reading: the beginning, or the given offset per partition. */
export type StartAt = 'earliest' | ReadonlyMap<number, number>;

/** A running observer. */
export interface TopicObserver {
  readonly groupId: string;
  stop(): Promise<void>;
}

/** Starts observing `topic`; `onRecords` gets each fetched batch. */
export async function observeTopic(
  kafka: Kafka,
  topic: string,
  options: { readonly readCommitted: boolean; readonly startAt: StartAt },
  onRecords: (records: readonly Observed[]) => void,
): Promise<TopicObserver> {
  const groupId = `bench-observer-${randomBytes(6).toString('hex')}`;
  if (options.startAt !== 'earliest') {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.setOffsets({ groupId, topic, partitions: [...options.startAt].map(([partition, offset]) => ({ partition, offset: String(offset) })) });
    } finally {
      await admin.disconnect();
    }
  }
  const consumer: Consumer = kafka.consumer({ groupId, readUncommitted: !options.readCommitted, maxWaitTimeInMs: 50, sessionTimeout: 30_000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 8,
    eachBatch: async ({ batch }) => {
      const visibleAt = Date.now();
      onRecords(batch.messages.map((m: KafkaMessage) => ({ partition: batch.partition, offset: Number(m.offset), timestamp: Number(m.timestamp), key: m.key, value: m.value, provenance: provenanceOf(m.headers), visibleAt })));
    },
  });
  return {
    groupId,
    async stop() {
      await consumer.disconnect().catch(() => undefined);
    },
  };
}
