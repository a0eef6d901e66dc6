/**
 * Changelog records (commit protocol `changelog`, docs/changelog-protocol.md): one per committed
 * batch of a task, written inside the batch's Kafka transaction to the task's changelog partition.
 * It carries what the checkpoint protocol writes to DynamoDB per batch: the batch's number, the
 * input position and event time after it, and the state entries it changed (state/codec.ts bytes).
 *
 * Layout of the value: 4 bytes (big-endian length n of the header), n bytes of JSON header
 * `{task, seq, nextOffset, time, replace?}` (time compact, time/time-codec.ts), then the encoded changes (absent when the batch changed none).
 */
import { decodeTime, encodeTime } from '../time/time-codec.js';
import type { TimeState } from '../time/watermark.js';
import type { OutgoingRecord } from './record.js';

/** What one changelog record says. */
export interface ChangelogEntry {
  readonly task: string;
  readonly seq: number;
  /** Input position after the batch. */
  readonly nextOffset: number;
  /** Event time after the batch. */
  readonly time: TimeState;
  /** The batch's state changes as state/codec.ts encodes them; undefined when it changed none. */
  readonly changes: Buffer | undefined;
  /** A tool's rebase (reset, savepoint import): `changes` are the task's whole state, replacing what it had. */
  readonly replace?: boolean;
}

/** The changelog record of a batch, keyed by task id. */
export function changelogRecord(topic: string, partition: number, entry: ChangelogEntry): OutgoingRecord {
  const header = Buffer.from(JSON.stringify({ task: entry.task, seq: entry.seq, nextOffset: entry.nextOffset, time: encodeTime(entry.time), ...(entry.replace ? { replace: true } : {}) }));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  const value = entry.changes ? Buffer.concat([length, header, entry.changes]) : Buffer.concat([length, header]);
  return { topic, partition, key: Buffer.from(entry.task), value, headers: [] };
}

/** Reads a changelog record's value; undefined if it is not one. */
export function parseChangelog(value: Buffer | null): ChangelogEntry | undefined {
  if (!value || value.length < 4) return undefined;
  const n = value.readUInt32BE(0);
  if (4 + n > value.length) return undefined;
  try {
    const h = JSON.parse(value.subarray(4, 4 + n).toString('utf8')) as { task?: unknown; seq?: unknown; nextOffset?: unknown; time?: unknown; replace?: unknown };
    if (typeof h.task !== 'string' || !Number.isInteger(h.seq) || !Number.isInteger(h.nextOffset) || typeof h.time !== 'string') return undefined;
    const changes = value.length > 4 + n ? value.subarray(4 + n) : undefined;
    return { task: h.task, seq: h.seq as number, nextOffset: h.nextOffset as number, time: decodeTime(h.time), changes, ...(h.replace === true ? { replace: true } : {}) };
  } catch {
    return undefined;
  }
}
