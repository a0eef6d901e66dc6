/**
 * Progress records: one per committed batch, written inside the batch's Kafka
 * transaction to the app's progress topic. Recovery reads one back to learn whether an
 * in-doubt transaction committed, so writer and reader share this one format.
 */
import type { OutgoingRecord } from './record.js';

/** The content of a progress record. */
export interface Progress {
  readonly task: string;
  readonly seq: number;
  readonly nextOffset: number;
}

/** The progress record of `task`'s batch `seq`, keyed by task id. */
export function progressRecord(topic: string, partition: number, task: string, seq: number, nextOffset: number): OutgoingRecord {
  const value: Progress = { task, seq, nextOffset };
  return { topic, partition, key: Buffer.from(task), value: Buffer.from(JSON.stringify(value)), headers: [] };
}

/** Reads a progress record's value; undefined if it is not one (e.g. a recovery probe). */
export function parseProgress(value: Buffer | null): Progress | undefined {
  if (!value) return undefined;
  try {
    const v = JSON.parse(value.toString('utf8')) as Partial<Progress>;
    return typeof v.task === 'string' && Number.isInteger(v.seq) && Number.isInteger(v.nextOffset) ? (v as Progress) : undefined;
  } catch {
    return undefined;
  }
}
