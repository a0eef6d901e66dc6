/**
 * kafkajs's consumed messages as Sluice records: the one place that knows kafkajs's message
 * shape (the trigger emulator, readToEnd and the tools read through it).
 */
import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { KafkaRecord, RecordHeader } from '../record/record.js';

/** kafkajs keeps the record batch's fields (timestamp type among them) on each message, untyped. */
type WithBatchContext = KafkaMessage & { readonly batchContext?: { readonly timestampType?: number } };

/**
 * A consumed kafkajs message as a KafkaRecord. The timestamp type is a property of the record
 * batch (attribute bit 3): kafkajs reports it as `batchContext.timestampType` (1 = log append
 * time); the per-record attributes of v2 batches are always 0.
 */
export function recordFromKafkajs(topic: string, partition: number, m: KafkaMessage): KafkaRecord {
  const type = (m as WithBatchContext).batchContext?.timestampType;
  return {
    topic,
    partition,
    offset: Number(m.offset),
    timestamp: Number(m.timestamp),
    timestampType: type === 1 ? 'LOG_APPEND_TIME' : 'CREATE_TIME',
    key: m.key ?? null,
    value: m.value ?? null,
    headers: headersFromKafkajs(m.headers),
  };
}

/** kafkajs headers (an object; a repeated name is an array) as a list, in order. */
export function headersFromKafkajs(headers: IHeaders | undefined): RecordHeader[] {
  const out: RecordHeader[] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined) out.push({ name, value: Buffer.isBuffer(v) ? v : Buffer.from(v) });
    }
  }
  return out;
}
