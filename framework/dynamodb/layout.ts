/**
 * The single-table layout of an app's DynamoDB table, as pure functions: item keys and the
 * attribute encoding of checkpoints, batch records and snapshot chunks (docs/state-layout.md).
 * Every item of a task shares one partition key, so a task's data is together and never mixed
 * with another task's. Attribute names are short: DynamoDB bills them as bytes of the item.
 *
 *   checkpoint   pk `task#<app>#<taskId>`  sk `ckpt`
 *                v N (version), c N (committedSeq), h L<N> (holes), o N (nextOffset), t S (time, compact JSON: time/time-codec.ts),
 *                s S (snapshot ref, JSON), d N (bytes of records since the snapshot), lo N (changelog
 *                protocol: changelog offset after the snapshot), st S (stage),
 *                w S (token of the last writer, to recognise our own write after a lost response)
 *   batch record pk `task#<app>#<taskId>`  sk `r#<seq mod 64, 2 digits>`
 *                q N (seq), o N, t S, x S (txnId, absent in at-least-once), g S (progress position, JSON),
 *                a N (prepared at, epoch ms), ch B (changes, state/codec.ts), cb N (their bytes),
 *                s S (snapshot ref written with the batch, JSON), cs BOOL (changes too large: only in that snapshot), w S (token)
 *   snapshot     pk `task#<app>#<taskId>`  sk `s#<bank>#<index, 4 digits>`
 *                id S (snapshot id), q N (its batch seq), bv N (checkpoint version it was written from), i N (index), data B
 *
 * Invariants the writes keep (task-store.ts): a record slot only takes a higher seq than it holds;
 * a snapshot chunk only one written from a later checkpoint version; a checkpoint write only lands
 * on the version it read.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { SluiceError } from '../errors.js';
import type { BatchRecord, Checkpoint, ProgressPosition, SnapshotRef } from '../commit/ports.js';
import { EMPTY_CHECKPOINT, slotOf } from '../commit/checkpoint.js';
import { decodeEntries } from '../state/codec.js';
import type { SnapshotChunk } from '../state/committed.js';
import { INITIAL_TIME, type TimeState } from '../time/watermark.js';
import { decodeTime, encodeTime } from '../time/time-codec.js';

/** Names of the table's key and TTL attributes. */
export const TABLE_ATTRIBUTES = { pk: 'pk', sk: 'sk', ttl: 'ttl' } as const;

/** An item as the low-level DynamoDB API has it. */
export type Item = Record<string, AttributeValue>;

/** The primary key of one item. */
export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

/** DynamoDB's item-size limit in bytes (400 KB). */
export const MAX_ITEM_BYTES = 400 * 1024;
/** Sort key of every checkpoint item. */
export const CHECKPOINT_SORT_KEY = 'ckpt';
/** Sort-key prefix of batch records and of snapshot chunks. */
export const RECORD_PREFIX = 'r#';
export const CHUNK_PREFIX = 's#';

/** A task's items could not hold what was asked (a batch's changes too large for one record). */
export class StateLayoutError extends SluiceError {
  constructor(message: string, stage: string | undefined, hint: string) {
    super('SLUICE_STATE_LAYOUT', message, { stage }, hint);
  }
}

/** Partition key of every item of a task. */
export function taskPartitionKey(app: string, taskId: string): string {
  return `task#${app}#${taskId}`;
}

/** Key of a task's checkpoint item. */
export function checkpointKey(app: string, taskId: string): ItemKey {
  return { pk: taskPartitionKey(app, taskId), sk: CHECKPOINT_SORT_KEY };
}

/** Key of the ring slot holding batch `seq`'s record. */
export function recordKey(app: string, taskId: string, seq: number): ItemKey {
  return { pk: taskPartitionKey(app, taskId), sk: `${RECORD_PREFIX}${String(slotOf(seq)).padStart(2, '0')}` };
}

/** Key of chunk `index` of snapshot bank `bank`. */
export function chunkKey(app: string, taskId: string, bank: 0 | 1, index: number): ItemKey {
  return { pk: taskPartitionKey(app, taskId), sk: `${CHUNK_PREFIX}${bank}#${String(index).padStart(4, '0')}` };
}

/** The DynamoDB attribute map of an item key. */
export function keyAttributes(key: ItemKey): Item {
  return { pk: { S: key.pk }, sk: { S: key.sk } };
}

// --- checkpoint ----------------------------------------------------------------------------------

/** A checkpoint as an item (with its key and the writer's token). */
export function encodeCheckpoint(app: string, taskId: string, stage: string, c: Checkpoint, token: string): Item {
  return {
    ...keyAttributes(checkpointKey(app, taskId)),
    v: { N: String(c.version) },
    c: { N: String(c.committedSeq) },
    h: { L: c.holes.map((n) => ({ N: String(n) })) },
    o: { N: String(c.nextOffset) },
    t: { S: encodeTime(c.time) },
    s: { S: JSON.stringify(c.snapshot) },
    d: { N: String(c.deltaBytes) },
    ...(c.log === undefined ? {} : { lo: { N: String(c.log) } }),
    st: { S: stage },
    w: { S: token },
  };
}

/** A checkpoint from its item; the empty checkpoint when there is none. */
export function decodeCheckpoint(item: Item | undefined): Checkpoint {
  if (!item) return EMPTY_CHECKPOINT;
  return {
    version: num(item['v']) ?? 0,
    committedSeq: num(item['c']) ?? 0,
    holes: (item['h']?.L ?? []).map((v) => Number(v.N)),
    nextOffset: num(item['o']) ?? -1,
    time: timeOf(item['t']),
    snapshot: json<SnapshotRef>(item['s']) ?? EMPTY_CHECKPOINT.snapshot,
    deltaBytes: num(item['d']) ?? 0,
    ...(item['lo'] ? { log: num(item['lo']) ?? 0 } : {}),
  };
}

// --- batch records -------------------------------------------------------------------------------

/** A batch record as an item; `changes` are the record's encoded changes (or none). */
export function encodeRecord(app: string, taskId: string, r: BatchRecord, changes: Buffer | undefined, token: string): Item {
  const item: Item = {
    ...keyAttributes(recordKey(app, taskId, r.seq)),
    q: { N: String(r.seq) },
    o: { N: String(r.nextOffset) },
    t: { S: encodeTime(r.time) },
    a: { N: String(r.since) },
    cb: { N: String(r.changeBytes) },
    w: { S: token },
  };
  if (r.txnId !== undefined) item['x'] = { S: r.txnId };
  if (r.progress) item['g'] = { S: JSON.stringify(r.progress) };
  if (changes && changes.length > 0) item['ch'] = { B: changes };
  if (r.snapshot) item['s'] = { S: JSON.stringify(r.snapshot) };
  if (r.changesInSnapshot) item['cs'] = { BOOL: true };
  if (itemSize(item) > MAX_ITEM_BYTES) {
    throw new StateLayoutError(
      `the state changes of batch ${r.seq} of task ${taskId} take ${changes?.length ?? 0} bytes encoded, more than one DynamoDB item holds (400 KB)`,
      undefined,
      'lower the stage\'s batch size, or keep less state per key (the changes of one batch are one item)',
    );
  }
  return item;
}

/** A batch record from its item. */
export function decodeRecord(item: Item): BatchRecord {
  const ch = bin(item['ch']);
  return {
    seq: num(item['q']) ?? 0,
    nextOffset: num(item['o']) ?? -1,
    time: timeOf(item['t']),
    txnId: item['x']?.S,
    progress: json<ProgressPosition>(item['g']),
    since: num(item['a']) ?? 0,
    changes: ch ? decodeEntries(ch) : [],
    changeBytes: num(item['cb']) ?? 0,
    snapshot: json<SnapshotRef>(item['s']),
    ...(item['cs']?.BOOL ? { changesInSnapshot: true } : {}),
  };
}

// --- snapshot chunks -----------------------------------------------------------------------------

/** A snapshot chunk as an item. */
export function encodeChunk(app: string, taskId: string, ref: SnapshotRef, baseVersion: number, index: number, data: Buffer): Item {
  return { ...keyAttributes(chunkKey(app, taskId, ref.bank, index)), id: { S: ref.id }, q: { N: String(ref.seq) }, bv: { N: String(baseVersion) }, i: { N: String(index) }, data: { B: data } };
}

/** A snapshot chunk from its item. */
export function decodeChunk(item: Item): SnapshotChunk {
  return { id: item['id']?.S ?? '', baseVersion: num(item['bv']) ?? -1, seq: num(item['q']) ?? -1, index: num(item['i']) ?? -1, data: bin(item['data']) ?? Buffer.alloc(0) };
}

// --- sizes ---------------------------------------------------------------------------------------

/**
 * Size of an item as DynamoDB counts it for limits and capacity (attribute names plus values),
 * rounded up a little for numbers so the estimate never falls short.
 */
export function itemSize(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name, 'utf8') + valueSize(value);
  return size;
}

/** Write units of putting an item: 1 per started KB (DynamoDB bills the larger of the old and new item; ours are alike in size). */
export function writeUnits(item: Item): number {
  return Math.max(1, Math.ceil(itemSize(item) / 1024));
}

/** Read units of a strongly consistent read of an item: 1 per started 4 KB (1 for a missing item). */
export function readUnits(item: Item | undefined): number {
  return item === undefined ? 1 : Math.max(1, Math.ceil(itemSize(item) / 4096));
}

function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S, 'utf8');
  if (value.N !== undefined) return Math.ceil(value.N.length / 2) + 1;
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.L !== undefined) return 3 + value.L.reduce((s, v) => s + 1 + valueSize(v), 0);
  if (value.M !== undefined) return 3 + Object.entries(value.M).reduce((s, [k, v]) => s + 1 + Buffer.byteLength(k, 'utf8') + valueSize(v), 0);
  if (value.SS !== undefined) return value.SS.reduce((s, v) => s + Buffer.byteLength(v, 'utf8'), 0);
  if (value.NS !== undefined) return value.NS.reduce((s, v) => s + Math.ceil(v.length / 2) + 1, 0);
  if (value.BS !== undefined) return value.BS.reduce((s, v) => s + v.byteLength, 0);
  return 0;
}

function timeOf(value: AttributeValue | undefined): TimeState {
  return value?.S === undefined ? INITIAL_TIME : decodeTime(value.S);
}

function json<T>(value: AttributeValue | undefined): T | undefined {
  return value?.S === undefined ? undefined : (JSON.parse(value.S) as T);
}

function num(value: AttributeValue | undefined): number | undefined {
  return value?.N === undefined ? undefined : Number(value.N);
}

function bin(value: AttributeValue | undefined): Buffer | undefined {
  const b = value?.B;
  return b === undefined ? undefined : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
