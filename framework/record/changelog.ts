/**
 * Changelog records (commit protocol `changelog`, docs/changelog-protocol.md): what one committed
 * batch of a task writes, inside the batch's Kafka transaction, to the task's changelog partition.
 * It carries what the checkpoint protocol writes to DynamoDB per batch: the batch's number, the
 * input position and event time after it, and the state entries it changed (state/codec.ts bytes).
 * A batch whose changes are larger than one Kafka record holds writes them as consecutive parts,
 * each a record with the whole header; they are one transaction's records, so a reader sees all
 * of them or none.
 *
 * Layout of the value: 4 bytes (big-endian length n of the header), n bytes of JSON header
 * `{task, seq, nextOffset, time, replace?, part?: [index, count]}` (time compact,
 * time/time-codec.ts), then the encoded changes or their part (absent when the batch changed none).
 */
import { decodeTime, encodeTime } from '../time/time-codec.js';
import type { TimeState } from '../time/watermark.js';
import type { OutgoingRecord } from './record.js';

/**
 * The most encoded changes one changelog record carries. A broker takes records of at most about
 * 1 MB by default (`message.max.bytes`, MSK's default too); this leaves room for the header.
 */
export const MAX_CHANGELOG_PART_BYTES = 900 * 1024;

/** What one changelog record says. */
export interface ChangelogEntry {
  readonly task: string;
  readonly seq: number;
  /** Input position after the batch. */
  readonly nextOffset: number;
  /** Event time after the batch. */
  readonly time: TimeState;
  /** The batch's state changes as state/codec.ts encodes them (this part of them, with `part`); undefined when it changed none. */
  readonly changes: Buffer | undefined;
  /** A tool's rebase (reset, savepoint import): `changes` are the task's whole state, replacing what it had. */
  readonly replace?: boolean;
  /** Which part of the batch's changes this record holds, when they did not fit one record. */
  readonly part?: { readonly index: number; readonly count: number };
}

/**
 * The changelog records of a batch, keyed by task id: one record, or — when the changes are longer
 * than `maxPartBytes` — one per part of them, in order.
 */
export function changelogRecords(topic: string, partition: number, entry: Omit<ChangelogEntry, 'part'>, maxPartBytes: number = MAX_CHANGELOG_PART_BYTES): OutgoingRecord[] {
  const changes = entry.changes;
  const count = changes ? Math.max(1, Math.ceil(changes.length / maxPartBytes)) : 1;
  if (count === 1) return [record(topic, partition, entry, undefined)];
  return Array.from({ length: count }, (_, index) => record(topic, partition, { ...entry, changes: changes!.subarray(index * maxPartBytes, (index + 1) * maxPartBytes) }, [index, count]));
}

function record(topic: string, partition: number, entry: Omit<ChangelogEntry, 'part'>, part: [number, number] | undefined): OutgoingRecord {
  const header = Buffer.from(JSON.stringify({ task: entry.task, seq: entry.seq, nextOffset: entry.nextOffset, time: encodeTime(entry.time), ...(entry.replace ? { replace: true } : {}), ...(part ? { part } : {}) }));
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
    const h = JSON.parse(value.subarray(4, 4 + n).toString('utf8')) as { task?: unknown; seq?: unknown; nextOffset?: unknown; time?: unknown; replace?: unknown; part?: unknown };
    if (typeof h.task !== 'string' || !Number.isInteger(h.seq) || !Number.isInteger(h.nextOffset) || typeof h.time !== 'string') return undefined;
    const part = parsePart(h.part);
    if (part === null) return undefined;
    const changes = value.length > 4 + n ? value.subarray(4 + n) : undefined;
    return { task: h.task, seq: h.seq as number, nextOffset: h.nextOffset as number, time: decodeTime(h.time), changes, ...(h.replace === true ? { replace: true } : {}), ...(part ? { part } : {}) };
  } catch {
    return undefined;
  }
}

/** A header's part, undefined when it has none, null when it is not one. */
function parsePart(part: unknown): { index: number; count: number } | undefined | null {
  if (part === undefined) return undefined;
  if (!Array.isArray(part) || part.length !== 2) return null;
  const [index, count] = part as unknown[];
  if (!Number.isInteger(index) || !Number.isInteger(count) || (count as number) < 2 || (index as number) < 0 || (index as number) >= (count as number)) return null;
  return { index: index as number, count: count as number };
}

/** A changelog record as read: its offset and value. */
export interface ChangelogRead {
  readonly offset: number;
  readonly value: Buffer | null;
}

/** One batch as its changelog records tell it: parts joined, `offset` the offset of its last record. */
export interface ChangelogBatch {
  readonly entry: Omit<ChangelogEntry, 'part'>;
  readonly first: number;
  readonly offset: number;
}

/**
 * The batches of a task's changelog records, in order (pure): each batch's parts joined. A read
 * that ends inside a batch's parts leaves it out and says where it starts (`incompleteAt`); a record
 * of another task, or parts out of order, make the records not add up (`corrupt`).
 */
export function changelogBatches(
  task: string,
  records: readonly ChangelogRead[],
): { readonly batches: ChangelogBatch[]; readonly incompleteAt: number | undefined } | { readonly corrupt: { readonly offset: number; readonly reason: string } } {
  const batches: ChangelogBatch[] = [];
  let open: { first: number; entry: ChangelogEntry; parts: Buffer[]; count: number } | undefined;
  for (const r of records) {
    const e = parseChangelog(r.value);
    if (!e || e.task !== task) return { corrupt: { offset: r.offset, reason: `is not one of task ${task}'s changelog records` } };
    const index = e.part?.index ?? 0;
    if (index === 0) {
      if (open) return { corrupt: { offset: r.offset, reason: `starts batch ${e.seq} before the ${open.count} parts of batch ${open.entry.seq} are complete` } };
      open = { first: r.offset, entry: e, parts: [], count: e.part?.count ?? 1 };
    } else if (!open || open.entry.seq !== e.seq || open.count !== e.part!.count || open.parts.length !== index) {
      return { corrupt: { offset: r.offset, reason: `is part ${index + 1} of ${e.part!.count} of batch ${e.seq}, out of order` } };
    }
    if (e.changes) open.parts.push(e.changes);
    else if (open.count > 1) return { corrupt: { offset: r.offset, reason: `is a part of batch ${e.seq} without changes` } };
    if (index + 1 < open.count) continue;
    const { part: _part, ...entry } = open.entry;
    batches.push({ entry: { ...entry, changes: open.parts.length === 0 ? undefined : open.parts.length === 1 ? open.parts[0] : Buffer.concat(open.parts) }, first: open.first, offset: r.offset });
    open = undefined;
  }
  return { batches, incompleteAt: open?.first };
}
