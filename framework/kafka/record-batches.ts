/**
 * How records become produce requests, as pure functions: a partition for each record, requests
 * of bounded size, kafkajs messages and headers, and each record's offset from the acknowledgement.
 */
import type { IHeaders, Message, RecordMetadata } from 'kafkajs';
import type { SentOffsets } from '../commit/ports.js';
import { partitionForKey } from '../record/partitioner.js';
import type { OutgoingRecord, RecordHeader } from '../record/record.js';
import { KafkaSinkError } from './sink-errors.js';

/** A record with the partition it goes to. */
export interface Routed {
  readonly record: OutgoingRecord;
  readonly partition: number;
}

/**
 * The partition a record goes to, explicit so the offsets Kafka reports can be matched to records:
 * the record's own (checked: kafkajs silently leaves out records for a partition it has no leader
 * for), else Kafka's murmur2 partition of its key, else round robin per topic (`turns`).
 */
export function partitionOf(record: OutgoingRecord, count: number, turns: Map<string, number>): number {
  if (record.partition !== undefined) {
    if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= count) {
      throw new KafkaSinkError(
        `partition ${record.partition} does not exist: the topic has ${count}`,
        { topic: record.topic, partition: record.partition },
        'the partition count the pipeline was compiled for differs from the topic; recreate the topic with that count, or rebuild the pipeline for the partition count the topic has',
      );
    }
    return record.partition;
  }
  if (record.key) return partitionForKey(record.key, count);
  const next = turns.get(record.topic) ?? 0;
  turns.set(record.topic, next + 1);
  return next % count;
}

/**
 * Sluice headers as kafkajs headers. kafkajs takes an object: a repeated name becomes an array
 * (kafkajs writes one header per element, in order). Limit: records keep the order of values
 * of one name, but headers are grouped by name (names in first-seen order, except that
 * integer-like names such as "7" come first).
 */
export function toKafkaHeaders(headers: readonly RecordHeader[]): IHeaders {
  const out: Record<string, Buffer | Buffer[]> = Object.create(null) as Record<string, Buffer | Buffer[]>;
  for (const { name, value } of headers) {
    const seen = out[name];
    out[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}

/** The base offset Kafka gave one partition's records of a produce request. */
export interface PartitionBase {
  readonly topic: string;
  readonly partition: number;
  /** As the client reports it (a string, a bigint, or missing). */
  readonly baseOffset: unknown;
}

/**
 * Kafka writes each partition's records of one request as one batch: a record's offset is its
 * partition's base offset plus its position there. Shared by both sinks (`client` names the one
 * that answered, in errors).
 */
export function offsetsFromBases(chunk: readonly Routed[], bases: readonly PartitionBase[], client: string): SentOffsets {
  const base = new Map<string, number>();
  for (const b of bases) {
    const offset = Number(b.baseOffset);
    if (b.baseOffset === undefined || !Number.isSafeInteger(offset) || offset < 0) {
      throw new KafkaSinkError(`Kafka acknowledged a batch without a base offset (${String(b.baseOffset)})`, { topic: b.topic, partition: b.partition }, 'report this: the producer must use acks=-1');
    }
    base.set(`${b.topic}\u0000${b.partition}`, offset);
  }
  const next = new Map<string, number>();
  return chunk.map(({ record, partition }) => {
    const key = `${record.topic}\u0000${partition}`;
    const start = base.get(key);
    if (start === undefined) throw new KafkaSinkError(`${client} acknowledged the send without this partition`, { topic: record.topic, partition }, `${client} leaves out partitions it knows no leader for; check the topic`);
    const i = next.get(key) ?? 0;
    next.set(key, i + 1);
    return { topic: record.topic, partition, offset: start + i };
  });
}

/** The offsets of a kafkajs send's records. */
export function offsetsOf(chunk: readonly Routed[], sent: readonly RecordMetadata[]): SentOffsets {
  return offsetsFromBases(chunk, sent.map((m) => ({ topic: m.topicName, partition: m.partition, baseOffset: m.baseOffset })), 'kafkajs');
}

export function toTopicMessages(chunk: readonly Routed[]): { topic: string; messages: Message[] }[] {
  const byTopic = new Map<string, Message[]>();
  for (const { record, partition } of chunk) {
    let messages = byTopic.get(record.topic);
    if (!messages) byTopic.set(record.topic, (messages = []));
    messages.push({
      key: record.key,
      value: record.value,
      partition,
      headers: toKafkaHeaders(record.headers),
      ...(record.timestamp !== undefined ? { timestamp: String(record.timestamp) } : {}),
    });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** Consecutive runs of records whose estimated encoded size stays within `maxBytes` (a bigger record goes alone). */
export function chunkBySize(routed: readonly Routed[], maxBytes: number): Routed[][] {
  const chunks: Routed[][] = [];
  let current: Routed[] = [];
  let size = 0;
  for (const r of routed) {
    const s = estimatedSize(r.record);
    if (current.length > 0 && size + s > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(r);
    size += s;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Upper estimate of a record's bytes in a record batch (varint lengths, attributes, deltas). */
export function estimatedSize(r: OutgoingRecord): number {
  let size = 32 + (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const h of r.headers) size += 10 + Buffer.byteLength(h.name) + h.value.length;
  return size;
}

