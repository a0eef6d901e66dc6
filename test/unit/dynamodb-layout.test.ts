import { describe, expect, it } from 'vitest';
import type { Checkpoint, Pending, StateWrite } from '../../framework/commit/ports.js';
import {
  checkpointKey,
  decodeCheckpoint,
  decodeStateItem,
  EMPTY_CHECKPOINT,
  encodePending,
  encodeStateItem,
  itemSize,
  MAX_ITEM_BYTES,
  nextSeq,
  resolveCommitted,
  StateLayoutError,
  stateItemKey,
  stateMapKey,
  timerPartitionKey,
  ttlOf,
  type CommitView,
  type StateItem,
} from '../../framework/dynamodb/layout.js';

const NOW = 1_700_000_000_000;
const OLD = Buffer.from('old');
const NEW = Buffer.from('new');
const writer = { app: 'ysb', stage: 'count', taskId: 'count.3' };

function item(fields: Partial<StateItem>): StateItem {
  return { p: 'count.3', v: undefined, ve: undefined, sv: undefined, sx: false, se: undefined, ss: undefined, ...fields };
}

function view(committedSeq: number, holes: number[] = []): CommitView {
  return { committedSeq, holes };
}

describe('resolveCommitted: the committed/staged rule', () => {
  it('takes v when nothing is staged', () => {
    expect(resolveCommitted(item({ v: OLD }), view(5), NOW)).toEqual({ bytes: OLD, expiresAt: undefined });
  });

  it('is absent when the item holds no value at all', () => {
    expect(resolveCommitted(item({}), view(5), NOW)).toBeUndefined();
  });

  it('takes the staged value when its seq is below committedSeq', () => {
    expect(resolveCommitted(item({ v: OLD, sv: NEW, ss: 4 }), view(5), NOW)?.bytes).toEqual(NEW);
  });

  it('takes the staged value when its seq equals committedSeq', () => {
    expect(resolveCommitted(item({ v: OLD, sv: NEW, ss: 5 }), view(5), NOW)?.bytes).toEqual(NEW);
  });

  it('takes v when the staged seq is the pending one (above committedSeq)', () => {
    expect(resolveCommitted(item({ v: OLD, sv: NEW, ss: 6 }), view(5), NOW)?.bytes).toEqual(OLD);
  });

  it('is absent when the staged seq is pending and nothing was committed before', () => {
    expect(resolveCommitted(item({ sv: NEW, ss: 6 }), view(5), NOW)).toBeUndefined();
  });

  it('takes v when the staged seq is a hole below committedSeq', () => {
    expect(resolveCommitted(item({ v: OLD, sv: NEW, ss: 3 }), view(5, [3]), NOW)?.bytes).toEqual(OLD);
  });

  it('takes the staged value when other seqs are holes but not its own', () => {
    expect(resolveCommitted(item({ v: OLD, sv: NEW, ss: 4 }), view(5, [3]), NOW)?.bytes).toEqual(NEW);
  });

  it('is absent when a committed staged change is a clear', () => {
    expect(resolveCommitted(item({ v: OLD, sx: true, ss: 5 }), view(5), NOW)).toBeUndefined();
  });

  it('takes v when the staged clear is pending', () => {
    expect(resolveCommitted(item({ v: OLD, sx: true, ss: 6 }), view(5), NOW)?.bytes).toEqual(OLD);
  });

  it('takes v when the staged clear is a hole', () => {
    expect(resolveCommitted(item({ v: OLD, sx: true, ss: 2 }), view(5, [2]), NOW)?.bytes).toEqual(OLD);
  });

  it('treats a staged seq as uncommitted for a task that never committed', () => {
    expect(resolveCommitted(item({ v: OLD, sv: NEW, ss: 1 }), EMPTY_CHECKPOINT, NOW)?.bytes).toEqual(OLD);
  });

  it('keeps the expiry of the value it takes', () => {
    expect(resolveCommitted(item({ v: OLD, ve: NOW + 1, sv: NEW, se: NOW + 2, ss: 5 }), view(5), NOW)).toEqual({
      bytes: NEW,
      expiresAt: NOW + 2,
    });
    expect(resolveCommitted(item({ v: OLD, ve: NOW + 1, sv: NEW, se: NOW + 2, ss: 6 }), view(5), NOW)).toEqual({
      bytes: OLD,
      expiresAt: NOW + 1,
    });
  });

  it('is absent when the committed value expires exactly now', () => {
    expect(resolveCommitted(item({ v: OLD, ve: NOW }), view(5), NOW)).toBeUndefined();
  });

  it('is present one millisecond before expiry', () => {
    expect(resolveCommitted(item({ v: OLD, ve: NOW + 1 }), view(5), NOW)?.bytes).toEqual(OLD);
  });

  it('is absent when the committed staged value expired, even if v did not', () => {
    expect(resolveCommitted(item({ v: OLD, sv: NEW, se: NOW - 1, ss: 5 }), view(5), NOW)).toBeUndefined();
  });

  it('ignores the expiry of an uncommitted staged value', () => {
    expect(resolveCommitted(item({ v: OLD, sv: NEW, se: NOW - 1, ss: 6 }), view(5), NOW)?.bytes).toEqual(OLD);
  });

  it('is absent when v expired and the staged value is pending', () => {
    expect(resolveCommitted(item({ v: OLD, ve: NOW - 1, sv: NEW, ss: 6 }), view(5), NOW)).toBeUndefined();
  });
});

describe('keys', () => {
  it('puts a checkpoint at ckpt#<app>#<task> / ckpt', () => {
    expect(checkpointKey('ysb', 'count.3')).toEqual({ pk: 'ckpt#ysb#count.3', sk: 'ckpt' });
  });

  it('puts state at state#<app>#<stage>#<base64url key> / <state name>', () => {
    const key = Buffer.from([0xfb, 0xff, 0x00, 0x41]);
    expect(stateItemKey('ysb', 'count', key, 'total')).toEqual({ pk: 'state#ysb#count#-_8AQQ', sk: 'total' });
  });

  it('encodes the empty key', () => {
    expect(stateItemKey('ysb', 'count', Buffer.alloc(0), 'total').pk).toBe('state#ysb#count#');
  });

  it('accepts the longest key that fits DynamoDB\'s 2048-byte partition key', () => {
    const prefix = 'state#ysb#count#'.length;
    const longest = Math.floor(((2048 - prefix) * 3) / 4);
    expect(Buffer.byteLength(stateItemKey('ysb', 'count', Buffer.alloc(longest, 1), 'total').pk)).toBeLessThanOrEqual(2048);
  });

  it('rejects a key too long for a partition key, naming the stage', () => {
    const tooLong = Buffer.alloc(1600, 1);
    expect(() => stateItemKey('ysb', 'count', tooLong, 'total')).toThrow(StateLayoutError);
    expect(() => stateItemKey('ysb', 'count', tooLong, 'total')).toThrow(/stage=count/);
  });

  it('reserves timer#<app>#<task> for timers', () => {
    expect(timerPartitionKey('ysb', 'window.0')).toBe('timer#ysb#window.0');
  });

  it('keys loaded state by base64 key and state name', () => {
    expect(stateMapKey(Buffer.from('k'), 'total')).toBe('aw==\u0000total');
    expect(stateMapKey(Buffer.from('k'), 'a')).not.toBe(stateMapKey(Buffer.from('k'), 'b'));
  });
});

describe('checkpoint encoding', () => {
  const pending: Pending = {
    seq: 7,
    nextOffset: 120,
    txnId: 'ysb.count.3',
    progress: { topic: 'ysb.progress', partition: 2, offset: 99 },
    extra: { watermark: 1000 },
  };

  it('decodes a missing item as the empty checkpoint', () => {
    expect(decodeCheckpoint(undefined)).toEqual({ version: 0, committedSeq: 0, holes: [], nextOffset: -1, pending: undefined, extra: {} });
  });

  it('round-trips every field', () => {
    const decoded = decodeCheckpoint({
      version: { N: '4' },
      committedSeq: { N: '6' },
      holes: { L: [{ N: '2' }, { N: '5' }] },
      nextOffset: { N: '100' },
      pending: encodePending(pending),
      extra: { S: '{"watermark":900}' },
    });
    const expected: Checkpoint = { version: 4, committedSeq: 6, holes: [2, 5], nextOffset: 100, pending, extra: { watermark: 900 } };
    expect(decoded).toEqual(expected);
  });

  it('round-trips a pending batch without a progress record', () => {
    const atLeastOnce = { ...pending, progress: undefined };
    expect(decodeCheckpoint({ version: { N: '1' }, pending: encodePending(atLeastOnce) }).pending).toEqual(atLeastOnce);
  });

  it('takes the next seq above committedSeq and every hole', () => {
    expect(nextSeq(EMPTY_CHECKPOINT)).toBe(1);
    expect(nextSeq({ ...EMPTY_CHECKPOINT, committedSeq: 4 })).toBe(5);
    expect(nextSeq({ ...EMPTY_CHECKPOINT, committedSeq: 4, holes: [5] })).toBe(6);
  });
});

describe('state item encoding', () => {
  const key = Buffer.from('campaign-1');
  const write = (w: Partial<StateWrite>): StateWrite => ({ key, name: 'total', value: undefined, previous: undefined, ...w });

  it('stages the new value beside the previous one, tagged with the seq', () => {
    const encoded = encodeStateItem(writer, write({ value: { bytes: NEW, expiresAt: undefined }, previous: { bytes: OLD, expiresAt: undefined } }), { staged: 7 });
    expect(encoded).toEqual({
      pk: { S: 'state#ysb#count#Y2FtcGFpZ24tMQ' },
      sk: { S: 'total' },
      p: { S: 'count.3' },
      v: { B: OLD },
      sv: { B: NEW },
      ss: { N: '7' },
    });
  });

  it('stages a clear as sx with the previous value kept', () => {
    const encoded = encodeStateItem(writer, write({ previous: { bytes: OLD, expiresAt: undefined } }), { staged: 7 });
    expect(encoded?.['sx']).toEqual({ BOOL: true });
    expect(encoded?.['v']).toEqual({ B: OLD });
    expect(encoded?.['sv']).toBeUndefined();
  });

  it('deletes the item when a clear leaves nothing to keep', () => {
    expect(encodeStateItem(writer, write({}), { staged: 7 })).toBeUndefined();
    expect(encodeStateItem(writer, write({ previous: { bytes: OLD, expiresAt: undefined } }), 'direct')).toBeUndefined();
  });

  it('writes a direct value straight into v', () => {
    const encoded = encodeStateItem(writer, write({ value: { bytes: NEW, expiresAt: NOW }, previous: { bytes: OLD, expiresAt: undefined } }), 'direct');
    expect(encoded).toEqual({
      pk: { S: 'state#ysb#count#Y2FtcGFpZ24tMQ' },
      sk: { S: 'total' },
      p: { S: 'count.3' },
      v: { B: NEW },
      ve: { N: String(NOW) },
      ttl: { N: String(NOW / 1000) },
    });
  });

  it('sets ttl to the latest expiry when both values expire', () => {
    const encoded = encodeStateItem(
      writer,
      write({ value: { bytes: NEW, expiresAt: NOW + 1500 }, previous: { bytes: OLD, expiresAt: NOW + 500 } }),
      { staged: 7 },
    );
    expect(encoded?.['ttl']).toEqual({ N: String(NOW / 1000 + 2) });
    expect(encoded?.['ve']).toEqual({ N: String(NOW + 500) });
    expect(encoded?.['se']).toEqual({ N: String(NOW + 1500) });
  });

  it('sets no ttl when one kept value never expires', () => {
    const encoded = encodeStateItem(writer, write({ value: { bytes: NEW, expiresAt: undefined }, previous: { bytes: OLD, expiresAt: NOW } }), { staged: 7 });
    expect(encoded?.['ttl']).toBeUndefined();
  });

  it('lets a staged clear not hold the ttl back', () => {
    const encoded = encodeStateItem(writer, write({ previous: { bytes: OLD, expiresAt: NOW } }), { staged: 7 });
    expect(encoded?.['ttl']).toEqual({ N: String(NOW / 1000) });
  });

  it('rounds the ttl up to whole seconds', () => {
    expect(ttlOf([NOW + 1])).toBe(NOW / 1000 + 1);
    expect(ttlOf([])).toBeUndefined();
    expect(ttlOf([NOW, null])).toBeUndefined();
  });

  it('decodes what it encodes', () => {
    const encoded = encodeStateItem(writer, write({ value: { bytes: NEW, expiresAt: NOW + 9 }, previous: { bytes: OLD, expiresAt: NOW + 8 } }), { staged: 3 });
    expect(decodeStateItem(encoded ?? {})).toEqual({ p: 'count.3', v: OLD, ve: NOW + 8, sv: NEW, sx: false, se: NOW + 9, ss: 3 });
  });

  it('rejects an item over 400 KB, naming the stage', () => {
    const big = { bytes: Buffer.alloc(210 * 1024), expiresAt: undefined };
    expect(() => encodeStateItem(writer, write({ value: big, previous: big }), { staged: 1 })).toThrow(/409600-byte limit.*stage=count/);
    expect(() => encodeStateItem(writer, write({ value: big, previous: big }), { staged: 1 })).toThrow(StateLayoutError);
  });

  it('counts attribute names and values in the item size', () => {
    expect(itemSize({ pk: { S: 'abc' }, v: { B: Buffer.alloc(10) } })).toBe(2 + 3 + 1 + 10);
    expect(MAX_ITEM_BYTES).toBe(409_600);
  });
});
