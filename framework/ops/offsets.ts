/** Topic offsets as the operations tools need them, through a connected kafkajs admin. */
import type { Admin } from 'kafkajs';
import { topicOffsets } from '../kafka/topic-offsets.js';

/** One partition's log: first retained offset and end offset (high watermark; counts transaction markers). */
export interface PartitionLog {
  readonly partition: number;
  readonly low: number;
  readonly high: number;
}

/** The logs of every partition of `topic`, by partition. */
export async function topicLogs(admin: Admin, topic: string): Promise<Map<number, PartitionLog>> {
  const offsets = await topicOffsets(admin, topic);
  return new Map(offsets.map((o) => [o.partition, { partition: o.partition, low: Number(o.low), high: Number(o.high) }]));
}

/** Per partition, the first offset whose record timestamp is ≥ `timestamp` (kafkajs gives the end offset if none). */
export async function offsetsAtTimestamp(admin: Admin, topic: string, timestamp: number): Promise<Map<number, number>> {
  const found = await admin.fetchTopicOffsetsByTimestamp(topic, timestamp);
  return new Map(found.map((o) => [o.partition, Number(o.offset)]));
}
