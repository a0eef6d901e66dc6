/**
 * The single-table layout of an app's DynamoDB table, as pure functions: item keys, the
 * attribute encoding of checkpoints and state items, and the committed/staged rule.
 *
 * Invariant kept: a state item's committed value is decided by `resolveCommitted` alone, from the
 * item and its task's checkpoint. A staged value (`sv`/`sx`, tagged `ss`) is committed iff `ss` is
 * a sequence number the checkpoint confirmed (`ss <= committedSeq` and not a hole); otherwise the
 * committed value is `v`. So the checkpoint flip is the only atomic write a batch needs, and the
 * staged value is promoted lazily by the next write of the item (which puts it in `v`).
 *
 * Items (table keys `pk` S hash, `sk` S range; TTL attribute `ttl`, epoch seconds):
 *
 *   checkpoint   pk `ckpt#<app>#<taskId>`                  sk `ckpt`
 *                version N, committedSeq N, holes L<N>, nextOffset N, extra S (JSON),
 *                pending M {seq N, nextOffset N, txnId S, progress M {topic, partition, offset}?, extra S},
 *                w S (token of the last writer, to recognise our own write after a lost response)
 *   state        pk `state#<app>#<stage>#<base64url(key)>`  sk `<stateName>`
 *                p S (owning task id), v B / ve N (committed value, expiry epoch ms),
 *                sv B or sx BOOL / se N (staged value or staged clear, expiry), ss N (batch seq that staged),
 *                ttl N (only when every value in the item expires: the latest expiry, epoch s)
 *   timer        pk `timer#<app>#<taskId>`                  sk `<time, 15 digits zero-padded>#<...>`
 *                (reserved: due timers of a task are one Query `pk = :p AND sk <= :t`)
 *
 * Sequence numbers are never reused: a hole stays a hole, so the batch after an abandoned one
 * takes `max(committedSeq, ...holes) + 1` (see `nextSeq`).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { SluiceError } from '../errors.js';
import { isCommittedSeq } from '../state/staged.js';
import type { Checkpoint, Pending, ProgressPosition, StateValue, StateWrite, TimerEntry, TimerRef } from '../commit/ports.js';

/** Names of the table's key and TTL attributes. */
export const TABLE_ATTRIBUTES = { pk: 'pk', sk: 'sk', ttl: 'ttl' } as const;

/** An item as the low-level DynamoDB API has it. */
export type Item = Record<string, AttributeValue>;

/** The primary key of one item. */
export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

/** DynamoDB's partition-key limit in bytes. */
export const MAX_PARTITION_KEY_BYTES = 2048;
/** DynamoDB's item-size limit in bytes (400 KB). */
export const MAX_ITEM_BYTES = 400 * 1024;
/** Sort key of every checkpoint item. */
export const CHECKPOINT_SORT_KEY = 'ckpt';

/** A state item's layout could not hold what was asked (key too long, item too large). */
export class StateLayoutError extends SluiceError {
  constructor(message: string, stage: string | undefined, hint: string) {
    super('SLUICE_STATE_LAYOUT', message, { stage }, hint);
  }
}

/** Key of a task's checkpoint item. */
export function checkpointKey(app: string, taskId: string): ItemKey {
  return { pk: `ckpt#${app}#${taskId}`, sk: CHECKPOINT_SORT_KEY };
}

/** Key of one state item (a state name of one key in one stage); throws if the key is too long for DynamoDB. */
export function stateItemKey(app: string, stage: string, key: Buffer, name: string): ItemKey {
  const pk = `state#${app}#${stage}#${key.toString('base64url')}`;
  const bytes = Buffer.byteLength(pk, 'utf8');
  if (bytes > MAX_PARTITION_KEY_BYTES) {
    throw new StateLayoutError(
      `state key of ${key.length} bytes makes a partition key of ${bytes} bytes, over DynamoDB's ${MAX_PARTITION_KEY_BYTES}`,
      stage,
      `keep keys of stage "${stage}" under about ${maxKeyBytes(app, stage)} bytes (e.g. key by a hash of the long value)`,
    );
  }
  return { pk, sk: name };
}

/** Partition key of a task's timers: a task's due timers are one Query `sk <= :t` on it. */
export function timerPartitionKey(app: string, taskId: string): string {
  return `timer#${app}#${taskId}`;
}

/** Timer times are shifted by this so every safe integer (also before 1970) sorts as a fixed-width string. */
const TIME_OFFSET = BigInt(Number.MAX_SAFE_INTEGER);
const TIME_DIGITS = 17;

function encodeTime(time: number): string {
  return (BigInt(time) + TIME_OFFSET).toString().padStart(TIME_DIGITS, '0');
}

/** Sort-key prefix of a task's timers of one kind. */
export function timerKindPrefix(kind: TimerRef['kind']): string {
  return `${kind === 'event' ? 'e' : 'p'}#`;
}

/** Sort key of one timer: kind, fixed-width time, key, operator name — ordered by time within a kind. */
export function timerSortKey(timer: TimerRef, key: Buffer, name: string): string {
  if (!Number.isSafeInteger(timer.time)) {
    throw new StateLayoutError(`timer time ${timer.time} is not an integer of epoch ms`, undefined, 'timers fire at whole epoch milliseconds');
  }
  return `${timerKindPrefix(timer.kind)}${encodeTime(timer.time)}#${key.toString('base64url')}#${name}`;
}

/** The upper bound of the sort keys of timers due at or before `upTo`. */
export function timerUpperBound(kind: TimerRef['kind'], upTo: number): string {
  const t = Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Math.floor(upTo), Number.MAX_SAFE_INTEGER));
  return `${timerKindPrefix(kind)}${encodeTime(t)}#~`;
}

/** Reads a timer back from its sort key. */
export function parseTimerSortKey(sk: string): TimerEntry {
  const [kind, time, key, ...name] = sk.split('#');
  return { kind: kind === 'e' ? 'event' : 'processing', time: Number(BigInt(time ?? '0') - TIME_OFFSET), key: Buffer.from(key ?? '', 'base64url'), name: name.join('#') };
}

/** The item key a write goes to: the key's state item, or the task's timer index for timers. */
export function writeItemKey(writer: WriterRef, write: StateWrite): ItemKey {
  return write.timer
    ? { pk: timerPartitionKey(writer.app, writer.taskId), sk: timerSortKey(write.timer, write.key, write.name) }
    : stateItemKey(writer.app, writer.stage, write.key, write.name);
}

/** The key of a state value in the map `loadState` returns. */
export function stateMapKey(key: Buffer, name: string): string {
  return `${key.toString('base64')}\u0000${name}`;
}

/** The DynamoDB attribute map of an item key. */
export function keyAttributes(key: ItemKey): Item {
  return { pk: { S: key.pk }, sk: { S: key.sk } };
}

export { nextSeq } from '../state/staged.js';

// ---------------------------------------------------------------------------------------------
// Checkpoints

/** The checkpoint of a task that never wrote one. */
export const EMPTY_CHECKPOINT: Checkpoint = Object.freeze({
  version: 0,
  committedSeq: 0,
  holes: Object.freeze([]) as readonly number[],
  nextOffset: -1,
  pending: undefined,
  extra: Object.freeze({}),
});

/** Decodes a checkpoint item; `undefined` (no item) is the empty checkpoint. */
export function decodeCheckpoint(item: Item | undefined): Checkpoint {
  if (item === undefined) return EMPTY_CHECKPOINT;
  const pending = item['pending']?.M;
  return {
    version: num(item['version']) ?? 0,
    committedSeq: num(item['committedSeq']) ?? 0,
    holes: (item['holes']?.L ?? []).map((h) => num(h) ?? 0),
    nextOffset: num(item['nextOffset']) ?? -1,
    pending: pending === undefined ? undefined : decodePending(pending),
    extra: parseExtra(item['extra']?.S),
  };
}

/** Encodes `pending` as a map attribute. */
export function encodePending(pending: Pending): AttributeValue {
  const m: Item = {
    seq: { N: String(pending.seq) },
    nextOffset: { N: String(pending.nextOffset) },
    txnId: { S: pending.txnId },
    extra: { S: JSON.stringify(pending.extra) },
  };
  if (pending.since !== undefined) m['since'] = { N: String(pending.since) };
  if (pending.progress !== undefined) {
    m['progress'] = {
      M: {
        topic: { S: pending.progress.topic },
        partition: { N: String(pending.progress.partition) },
        offset: { N: String(pending.progress.offset) },
      },
    };
  }
  return { M: m };
}

function decodePending(m: Item): Pending {
  const progress = m['progress']?.M;
  return {
    seq: num(m['seq']) ?? 0,
    nextOffset: num(m['nextOffset']) ?? -1,
    txnId: m['txnId']?.S ?? '',
    progress: progress === undefined ? undefined : decodeProgress(progress),
    extra: parseExtra(m['extra']?.S),
    ...(m['since'] ? { since: num(m['since']) } : {}),
  };
}

function decodeProgress(m: Item): ProgressPosition {
  return { topic: m['topic']?.S ?? '', partition: num(m['partition']) ?? 0, offset: num(m['offset']) ?? 0 };
}

function parseExtra(json: string | undefined): Readonly<Record<string, unknown>> {
  if (json === undefined || json === '') return {};
  return JSON.parse(json) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// State items

/** A decoded state item: the committed value and the staged one, as stored. */
export interface StateItem {
  /** Owning task id. */
  readonly p: string | undefined;
  readonly v: Buffer | undefined;
  readonly ve: number | undefined;
  readonly sv: Buffer | undefined;
  /** True if the staged change is a clear. */
  readonly sx: boolean;
  readonly se: number | undefined;
  /** Seq of the batch that staged `sv`/`sx`; undefined = nothing staged. */
  readonly ss: number | undefined;
}

/** Decodes a state item's value attributes. */
export function decodeStateItem(item: Item): StateItem {
  return {
    p: item['p']?.S,
    v: bin(item['v']),
    ve: num(item['ve']),
    sv: bin(item['sv']),
    sx: item['sx']?.BOOL === true,
    se: num(item['se']),
    ss: num(item['ss']),
  };
}

/** The part of a checkpoint the committed/staged rule needs. */
export type CommitView = Pick<Checkpoint, 'committedSeq' | 'holes'>;

/**
 * THE committed/staged rule: the staged value is the committed one iff its batch was confirmed
 * (`ss <= committedSeq` and `ss` is not a hole; a pending seq is always above committedSeq);
 * otherwise `v` is. A staged clear is absent; a value with `expiresAt <= now` is absent.
 */
export function resolveCommitted(item: StateItem, checkpoint: CommitView, now: number): StateValue | undefined {
  const stagedCommitted = item.ss !== undefined && isCommittedSeq(item.ss, checkpoint);
  let value: StateValue | undefined;
  if (stagedCommitted) {
    value = item.sx || item.sv === undefined ? undefined : { bytes: item.sv, expiresAt: item.se };
  } else {
    value = item.v === undefined ? undefined : { bytes: item.v, expiresAt: item.ve };
  }
  if (value !== undefined && value.expiresAt !== undefined && value.expiresAt <= now) return undefined;
  return value;
}

/** How a write is stored: staged under a batch seq (exactly-once) or directly as committed (at-least-once). */
export type WriteMode = { readonly staged: number } | 'direct';

/** Who writes: the app, stage and task a state write belongs to. */
export interface WriterRef {
  readonly app: string;
  readonly stage: string;
  readonly taskId: string;
}

/** The whole state item a write puts, or `undefined` when the item holds nothing any more (delete it). */
export function encodeStateItem(writer: WriterRef, write: StateWrite, mode: WriteMode): Item | undefined {
  const key = writeItemKey(writer, write);
  const item: Item = { ...keyAttributes(key), p: { S: writer.taskId } };
  // Expiries of the values the item keeps; `null` = one of them never expires.
  const expiries: Array<number | null> = [];
  const committed = mode === 'direct' ? write.value : write.previous;
  if (committed !== undefined) {
    item['v'] = { B: committed.bytes };
    if (committed.expiresAt !== undefined) item['ve'] = { N: String(committed.expiresAt) };
    expiries.push(committed.expiresAt ?? null);
  }
  if (mode !== 'direct') {
    if (write.value === undefined) {
      // Nothing committed to keep and a clear staged: the item may simply go.
      if (committed === undefined) return undefined;
      item['sx'] = { BOOL: true };
    } else {
      item['sv'] = { B: write.value.bytes };
      if (write.value.expiresAt !== undefined) item['se'] = { N: String(write.value.expiresAt) };
      expiries.push(write.value.expiresAt ?? null);
    }
    item['ss'] = { N: String(mode.staged) };
  } else if (committed === undefined) {
    return undefined;
  }
  const ttl = ttlOf(expiries);
  if (ttl !== undefined) item[TABLE_ATTRIBUTES.ttl] = { N: String(ttl) };
  const size = itemSize(item);
  if (size > MAX_ITEM_BYTES) {
    throw new StateLayoutError(
      `state "${write.name}" of a key is ${size} bytes as a DynamoDB item, over the ${MAX_ITEM_BYTES}-byte limit`,
      writer.stage,
      'a staged item holds the previous and the new value: keep one value under about 190 KB (List/Map state is one item)',
    );
  }
  return item;
}

/** The TTL (epoch seconds) of an item keeping values with these expiries (epoch ms; null = never); undefined = none. */
export function ttlOf(expiries: ReadonlyArray<number | null>): number | undefined {
  if (expiries.length === 0 || expiries.some((e) => e === null)) return undefined;
  // Round up: DynamoDB must never delete an item before its last value expired.
  return Math.ceil(Math.max(...(expiries as number[])) / 1000);
}

/**
 * Size of an item as DynamoDB counts it for limits and capacity (attribute names plus values),
 * rounded up a little for numbers so the estimate never falls short.
 */
export function itemSize(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name, 'utf8') + valueSize(value);
  return size;
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

function maxKeyBytes(app: string, stage: string): number {
  const prefix = Buffer.byteLength(`state#${app}#${stage}#`, 'utf8');
  return Math.floor(((MAX_PARTITION_KEY_BYTES - prefix) * 3) / 4);
}

function num(value: AttributeValue | undefined): number | undefined {
  return value?.N === undefined ? undefined : Number(value.N);
}

function bin(value: AttributeValue | undefined): Buffer | undefined {
  const b = value?.B;
  return b === undefined ? undefined : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
