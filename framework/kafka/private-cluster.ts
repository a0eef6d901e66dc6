/**
 * A kafkajs Cluster made by the client's private factory (kafkajs 2.2.4 keeps it under a symbol):
 * the same brokers, TLS and SASL settings as the client, for requests kafkajs's public API does
 * not make — a Fetch without a consumer group (changelog-reader.ts), ListOffsets for the high
 * watermark of a read_committed reader's topic (read-to-end.ts).
 */
import type { Kafka } from 'kafkajs';
import type { KafkajsCluster } from 'kafkajs/src/cluster/index.js';

/** Fetch and ListOffsets isolation levels. */
export const READ_UNCOMMITTED = 0;
export const READ_COMMITTED = 1;

/** A new cluster of `kafka`'s settings (connect() it; disconnect() when done). */
export function privateCluster(kafka: Kafka, isolationLevel: number = READ_COMMITTED): KafkajsCluster {
  // Along the prototype chain: a client may be wrapped by Object.create (the benchmark's counting client is).
  let create: unknown;
  for (let o: object | null = kafka; o !== null && create === undefined; o = Object.getPrototypeOf(o) as object | null) {
    const symbol = Object.getOwnPropertySymbols(o).find((s) => s.description === 'private:Kafka:createCluster');
    if (symbol) create = (o as Record<symbol, unknown>)[symbol];
  }
  if (typeof create !== 'function') throw new Error('kafkajs has no private cluster factory (not kafkajs 2.2.x?)');
  return (create as (options: { allowAutoTopicCreation: boolean; isolationLevel: number }) => KafkajsCluster)({ allowAutoTopicCreation: false, isolationLevel });
}

/** Each partition's high watermark (the end of the log, transactions still open included). */
export async function highWatermarks(kafka: Kafka, topic: string): Promise<Map<number, number>> {
  const cluster = privateCluster(kafka, READ_UNCOMMITTED);
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    const partitions = cluster.findTopicPartitionMetadata(topic).map((p) => ({ partition: p.partitionId }));
    const [answer] = await cluster.fetchTopicsOffset([{ topic, fromBeginning: false, partitions }]);
    return new Map((answer?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await cluster.disconnect();
  }
}
