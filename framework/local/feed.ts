/**
 * What `sluice dev --feed/--expect` adds to a local run: sample records written to the source
 * topics (serialised with each source's serde), and a read_committed reader of the sink topics
 * that prints every committed output as it appears. Used by a new project's `npm start`.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { ConfigError } from '../errors.js';
import type { Topology } from '../topology/topology.js';

/** One record to write to a source topic. */
export interface FeedRecord {
  /** Default: the pipeline's only source topic. */
  readonly topic?: string;
  /** Written as UTF-8 (a string) or as is (bytes). */
  readonly key?: string | Buffer | null;
  /** Serialised with the source's serde. */
  readonly value: unknown;
  /** Epoch ms; default the broker's time. */
  readonly timestamp?: number;
  /** Default: the key decides (Kafka's partitioner), else round robin. */
  readonly partition?: number;
}

/** A feed export: records, or a (possibly async) function that returns them. */
export type Feed = readonly FeedRecord[] | (() => readonly FeedRecord[] | Promise<readonly FeedRecord[]>);

/** Takes the records out of a feed module's export; ConfigError when it is not a feed. */
export async function feedRecords(value: unknown, where: string): Promise<readonly FeedRecord[]> {
  const records: unknown = typeof value === 'function' ? await (value as () => unknown)() : value;
  if (!Array.isArray(records) || records.some((r) => typeof r !== 'object' || r === null || !('value' in r))) {
    throw new ConfigError(`${where} is not a feed`, { field: 'feed' }, 'export an array of { value, key?, topic?, timestamp?, partition? } (or a function returning one)');
  }
  return records as readonly FeedRecord[];
}

/** Writes the records to their source topics; returns how many were written. */
export async function writeFeed(kafka: Kafka, topology: Topology, records: readonly FeedRecord[]): Promise<number> {
  const sources = new Map(topology.stages.flatMap((s) => s.inputs.filter((i) => i.kind === 'source').map((i) => [i.topic, i] as const)));
  const only = sources.size === 1 ? [...sources.keys()][0] : undefined;
  const messages = records.map((r, i) => {
    const topic = r.topic ?? only;
    const input = topic === undefined ? undefined : sources.get(topic);
    if (!input) {
      throw new ConfigError(`feed record ${i}: ${r.topic === undefined ? 'no topic, and the pipeline has several sources' : `"${r.topic}" is not a source topic`}`, { field: 'feed', topic: r.topic }, `source topics: ${[...sources.keys()].join(', ')}`);
    }
    const key = r.key === undefined || r.key === null ? null : typeof r.key === 'string' ? Buffer.from(r.key) : r.key;
    return { topic: input.topic, message: { key, value: input.serde.serialize(r.value), ...(r.timestamp !== undefined ? { timestamp: String(r.timestamp) } : {}), ...(r.partition !== undefined ? { partition: r.partition } : {}) } };
  });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const byTopic = new Map<string, (typeof messages)[number]['message'][]>();
    for (const m of messages) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), m.message]);
    await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })) });
  } finally {
    await producer.disconnect();
  }
  return messages.length;
}

/** A committed output record as the sink reader shows it. */
export interface SinkOutput {
  readonly topic: string;
  readonly partition: number;
  readonly key: string | null;
  readonly value: string | null;
}

/** A running reader of the sink topics; `stop` disconnects it. */
export interface SinkReader {
  stop(): Promise<void>;
}

/** Reads the pipeline's sink topics from the beginning at read_committed and calls `onOutput` per record. */
export async function readSinks(kafka: Kafka, topology: Topology, onOutput: (output: SinkOutput) => void): Promise<SinkReader> {
  const topics = topology.topics.filter((t) => t.role === 'sink').map((t) => t.name);
  const consumer = kafka.consumer({ groupId: `sluice-dev-outputs-${randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      onOutput({ topic, partition, key: message.key?.toString('utf8') ?? null, value: message.value?.toString('utf8') ?? null });
    },
  });
  return { stop: async () => consumer.disconnect() };
}
