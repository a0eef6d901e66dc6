/**
 * The single-table layout of task items (framework/dynamodb/layout.ts): item keys, the attribute
 * encoding of checkpoints, batch records and snapshot chunks, and the sizes DynamoDB bills.
 */
import { describe, expect, it } from 'vitest';
import type { BatchRecord, Checkpoint } from '../../../framework/commit/ports.js';
import { EMPTY_CHECKPOINT } from '../../../framework/commit/checkpoint.js';
import {
  checkpointKey,
  chunkKey,
  decodeCheckpoint,
  decodeChunk,
  decodeRecord,
  encodeCheckpoint,
  encodeChunk,
  encodeRecord,
  itemSize,
  keyAttributes,
  MAX_ITEM_BYTES,
  readUnits,
  recordKey,
  StateLayoutError,
  taskPartitionKey,
  writeUnits,
  type Item,
} from '../../../framework/dynamodb/layout.js';
import { encodeEntries, type StateEntry } from '../../../framework/state/codec.js';
import { INITIAL_TIME, type TimeState } from '../../../framework/time/watermark.js';
import { CAMPAIGNS } from '../../../functions/ysb/campaigns.js';

const TOKEN = '00000000-0000-4000-8000-000000000000';
const TIME: TimeState = {
  ...INITIAL_TIME,
  wm: 1_700_000_009_000,
  maxTs: 1_700_000_011_000,
  up: { 'views.0': { wm: 1_700_000_009_000, idle: false, queue: [{ fence: 41, wm: 1_700_000_010_000, idle: false }] } },
  written: { 'ysb.counts': { '0': 17 } },
};
const CHANGES: StateEntry[] = [
  { key: Buffer.from('campaign-1'), name: 'window-3', value: { bytes: Buffer.from('{"windows":[]}'), expiresAt: undefined } },
  { key: Buffer.from('campaign-2'), name: 'window-3', value: undefined },
  { key: Buffer.from([0, 255]), name: 'seen', value: { bytes: Buffer.from('x'), expiresAt: 1_700_000_060_000 } },
];

function record(over: Partial<BatchRecord> = {}): BatchRecord {
  return {
    seq: 70,
    nextOffset: 1_234,
    time: TIME,
    txnId: 'ysb.counts.3',
    progress: { topic: 'ysb.progress', partition: 2, offset: 99 },
    since: 1_700_000_000_500,
    changes: CHANGES,
    changeBytes: encodeEntries(CHANGES).length,
    snapshot: undefined,
    ...over,
  };
}

describe('keys', () => {
  it('puts every item of a task under one partition key naming the app and the task', () => {
    expect(taskPartitionKey('ysb', 'counts.3')).toBe('task#ysb#counts.3');
    expect([checkpointKey('ysb', 'counts.3').pk, recordKey('ysb', 'counts.3', 5).pk, chunkKey('ysb', 'counts.3', 1, 0).pk]).toEqual(['task#ysb#counts.3', 'task#ysb#counts.3', 'task#ysb#counts.3']);
  });

  it('keeps tasks and apps apart', () => {
    expect(new Set([taskPartitionKey('ysb', 'counts.3'), taskPartitionKey('ysb', 'counts.4'), taskPartitionKey('ysb2', 'counts.3')]).size).toBe(3);
  });

  it('names the checkpoint `ckpt`', () => {
    expect(checkpointKey('ysb', 'counts.3')).toEqual({ pk: 'task#ysb#counts.3', sk: 'ckpt' });
  });

  it('names a batch record by its ring slot, two digits: seq and seq + 64 share one', () => {
    expect([0, 5, 63, 64, 69, 127, 1_000].map((seq) => recordKey('ysb', 'counts.3', seq).sk)).toEqual(['r#00', 'r#05', 'r#63', 'r#00', 'r#05', 'r#63', 'r#40']);
  });

  it('names a snapshot chunk by bank and index, four digits', () => {
    expect([chunkKey('ysb', 'counts.3', 0, 0).sk, chunkKey('ysb', 'counts.3', 1, 7).sk, chunkKey('ysb', 'counts.3', 1, 1_234).sk]).toEqual(['s#0#0000', 's#1#0007', 's#1#1234']);
  });

  it('sorts every record before every chunk and the checkpoint after both (one Query range per kind)', () => {
    const sks = [checkpointKey('a', 't').sk, chunkKey('a', 't', 1, 2).sk, recordKey('a', 't', 63).sk, chunkKey('a', 't', 0, 0).sk, recordKey('a', 't', 0).sk];
    expect([...sks].sort()).toEqual(['ckpt', 'r#00', 'r#63', 's#0#0000', 's#1#0002']);
  });

  it('gives the key as DynamoDB attributes', () => {
    expect(keyAttributes({ pk: 'p', sk: 's' })).toEqual({ pk: { S: 'p' }, sk: { S: 's' } });
  });
});

describe('checkpoint items', () => {
  const ckpt: Checkpoint = { version: 12, committedSeq: 70, holes: [3, 68], nextOffset: 1_234, time: TIME, snapshot: { seq: 64, bank: 1, chunks: 2, id: 'snap-64', bytes: 400_000 }, deltaBytes: 2_048 };

  it('round-trip', () => {
    expect(decodeCheckpoint(encodeCheckpoint('ysb', 'counts.3', 'counts', ckpt, TOKEN))).toEqual(ckpt);
  });

  it('carry their key, the stage and the writer\'s token', () => {
    const item = encodeCheckpoint('ysb', 'counts.3', 'counts', ckpt, TOKEN);
    expect(item).toMatchObject({ pk: { S: 'task#ysb#counts.3' }, sk: { S: 'ckpt' }, st: { S: 'counts' }, w: { S: TOKEN }, v: { N: '12' }, c: { N: '70' }, h: { L: [{ N: '3' }, { N: '68' }] }, o: { N: '1234' }, d: { N: '2048' } });
  });

  it('decode as the empty checkpoint when there is no item', () => {
    expect(decodeCheckpoint(undefined)).toBe(EMPTY_CHECKPOINT);
  });

  it('round-trip the empty checkpoint, and stay small (DynamoDB bills an update at the whole item)', () => {
    const item = encodeCheckpoint('ysb', 'counts.3', 'counts', EMPTY_CHECKPOINT, TOKEN);
    expect(decodeCheckpoint(item)).toEqual(EMPTY_CHECKPOINT);
    expect(itemSize(item)).toBe(137);
    expect(writeUnits(item)).toBe(1);
  });
});

describe('batch record items', () => {
  it('round-trip with their changes', () => {
    const r = record();
    const item = encodeRecord('ysb', 'counts.3', r, encodeEntries(r.changes), TOKEN);
    expect(decodeRecord(item)).toEqual(r);
  });

  it('live in the ring slot of their seq and carry the seq itself (the slot alone does not say which lap)', () => {
    const item = encodeRecord('ysb', 'counts.3', record({ seq: 70 }), undefined, TOKEN);
    expect(item).toMatchObject({ pk: { S: 'task#ysb#counts.3' }, sk: { S: 'r#06' }, q: { N: '70' }, w: { S: TOKEN } });
  });

  it('round-trip without changes, and then hold no changes attribute', () => {
    const r = record({ changes: [], changeBytes: 0 });
    const item = encodeRecord('ysb', 'counts.3', r, undefined, TOKEN);
    expect(item['ch']).toBeUndefined();
    expect(decodeRecord(item)).toEqual(r);
  });

  it('hold no changes attribute for an empty encoding either', () => {
    expect(encodeRecord('ysb', 'counts.3', record({ changes: [], changeBytes: 0 }), Buffer.alloc(0), TOKEN)['ch']).toBeUndefined();
  });

  it('round-trip an at-least-once record: no transactional id, no progress position', () => {
    const r = record({ txnId: undefined, progress: undefined });
    const item = encodeRecord('ysb', 'counts.3', r, encodeEntries(r.changes), TOKEN);
    expect(item['x']).toBeUndefined();
    expect(item['g']).toBeUndefined();
    expect(decodeRecord(item)).toEqual(r);
    expect(decodeRecord(item).txnId).toBeUndefined();
  });

  it('round-trip the snapshot written with the batch', () => {
    const r = record({ snapshot: { seq: 70, bank: 0, chunks: 3, id: 'snap-70', bytes: 800_000 } });
    const item = encodeRecord('ysb', 'counts.3', r, encodeEntries(r.changes), TOKEN);
    expect(decodeRecord(item).snapshot).toEqual({ seq: 70, bank: 0, chunks: 3, id: 'snap-70', bytes: 800_000 });
    expect(decodeRecord(item)).toEqual(r);
  });

  it('do not keep the writer\'s pre-encoded changes: the item holds them as bytes', () => {
    const encoded = encodeEntries(CHANGES);
    const item = encodeRecord('ysb', 'counts.3', record({ encoded }), encoded, TOKEN);
    expect(item['ch']).toEqual({ B: encoded });
    expect('encoded' in decodeRecord(item)).toBe(false);
  });

  it('take changes up to DynamoDB\'s item limit (400 KB)', () => {
    const bare = itemSize(encodeRecord('ysb', 'counts.3', record(), undefined, TOKEN));
    const fits = Buffer.alloc(MAX_ITEM_BYTES - bare - 'ch'.length);
    const item = encodeRecord('ysb', 'counts.3', record(), fits, TOKEN);
    expect(itemSize(item)).toBe(MAX_ITEM_BYTES);
  });

  it('throw StateLayoutError naming the batch and the task when the changes do not fit one item', () => {
    const bare = itemSize(encodeRecord('ysb', 'counts.3', record(), undefined, TOKEN));
    const tooMany = Buffer.alloc(MAX_ITEM_BYTES - bare - 'ch'.length + 1);
    let error: unknown;
    try {
      encodeRecord('ysb', 'counts.3', record(), tooMany, TOKEN);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StateLayoutError);
    expect(error).toMatchObject({ code: 'SLUICE_STATE_LAYOUT' });
    expect((error as Error).message).toContain(`the state changes of batch 70 of task counts.3 take ${tooMany.length} bytes encoded, more than one DynamoDB item holds (400 KB)`);
    expect((error as Error).message).toContain('lower the stage\'s batch size');
  });
});

describe('snapshot chunk items', () => {
  const ref = { seq: 64, bank: 1 as const, chunks: 3, id: 'snap-64', bytes: 800_000 };

  it('round-trip: snapshot id, seq, the version it was written from, index and data', () => {
    const data = Buffer.from([1, 2, 3, 0, 255]);
    expect(decodeChunk(encodeChunk('ysb', 'counts.3', ref, 11, 2, data))).toEqual({ id: 'snap-64', baseVersion: 11, seq: 64, index: 2, data });
  });

  it('live in the bank of their snapshot at their index', () => {
    expect(encodeChunk('ysb', 'counts.3', ref, 11, 2, Buffer.alloc(1))).toMatchObject({ pk: { S: 'task#ysb#counts.3' }, sk: { S: 's#1#0002' }, bv: { N: '11' } });
  });
});

describe('item sizes and capacity units', () => {
  it('count attribute names and values as DynamoDB does (strings in UTF-8, numbers by digits, binary by bytes, lists and maps with overhead)', () => {
    const item: Item = {
      pk: { S: 'abc' }, // 2 + 3
      n: { N: '12345' }, // 1 + ceil(5 / 2) + 1
      b: { B: Buffer.alloc(10) }, // 1 + 10
      l: { L: [{ N: '1' }, { S: 'xy' }] }, // 1 + 3 + (1 + 2) + (1 + 2)
      m: { M: { k: { S: 'v' } } }, // 1 + 3 + 1 + 1 + 1
      bo: { BOOL: true }, // 2 + 1
      ü: { S: 'é' }, // 2 + 2
    };
    expect(itemSize(item)).toBe(5 + 5 + 11 + 10 + 7 + 3 + 4);
  });

  it('bill a write at one unit per started KB, at least one', () => {
    expect(writeUnits({})).toBe(1);
    expect(writeUnits({ pk: { S: 'x'.repeat(1_022) } })).toBe(1);
    expect(writeUnits({ pk: { S: 'x'.repeat(1_023) } })).toBe(2);
    expect(writeUnits({ data: { B: Buffer.alloc(10 * 1024) } })).toBe(11);
  });

  it('bill a consistent read at one unit per started 4 KB, one for a missing item', () => {
    expect(readUnits(undefined)).toBe(1);
    expect(readUnits({ pk: { S: 'x'.repeat(4_094) } })).toBe(1);
    expect(readUnits({ pk: { S: 'x'.repeat(4_095) } })).toBe(2);
    expect(readUnits({ data: { B: Buffer.alloc(350 * 1024) } })).toBe(88);
  });

  it('bill a batch record of a YSB counts task (25 campaign windows, two upstream tasks) at two write units', () => {
    const start = 1_700_000_000_000;
    const changes: StateEntry[] = CAMPAIGNS.slice(0, 25).map((c, i) => ({
      key: Buffer.from(c.campaign_id),
      name: 'window-3',
      value: { bytes: Buffer.from(JSON.stringify({ windows: [{ start, end: start + 10_000, acc: 40 + i, count: 40 + i, sinceFiring: 40 + i, fired: false, earlyTimer: null }] })), expiresAt: undefined },
    }));
    const time: TimeState = { ...INITIAL_TIME, wm: start + 9_000, now: start + 9_500, since: start, up: { 'views.0': { wm: start + 9_000, idle: false, queue: [] }, 'views.1': { wm: start + 9_100, idle: false, queue: [] } } };
    const encoded = encodeEntries(changes);
    const item = encodeRecord('ysb', 'counts.3', record({ changes, changeBytes: encoded.length, time, nextOffset: 123_456 }), encoded, TOKEN);
    // Measured: 880 bytes of changes + 117 bytes of time state (compact JSON, was 333) + keys and attributes.
    expect(Buffer.byteLength(item['t']!.S!)).toBe(117);
    expect(itemSize(item)).toBe(1_148);
    expect(writeUnits(item)).toBe(2);
  });
});
