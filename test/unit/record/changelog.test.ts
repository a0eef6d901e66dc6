// Changelog records: a batch's changes split into parts when larger than a record holds, joined
// back in order by changelogBatches; parts out of order, another task's record, or a read that ends
// inside a batch are told apart.
import { describe, expect, it } from 'vitest';
import { changelogBatches, changelogRecords, parseChangelog, type ChangelogRead } from '../../../framework/record/changelog.js';
import { INITIAL_TIME } from '../../../framework/time/watermark.js';

const time = INITIAL_TIME;
const entry = (seq: number, changes: Buffer | undefined, replace = false) => ({ task: 't.0', seq, nextOffset: seq * 10, time, changes, ...(replace ? { replace } : {}) });
const asRead = (values: readonly (Buffer | null)[], from = 0): ChangelogRead[] => values.map((value, i) => ({ offset: from + i, value }));

describe('changelog records', () => {
  it('one record when the changes fit, one per part otherwise, every part with the whole header', () => {
    expect(changelogRecords('log', 0, entry(1, Buffer.alloc(10)), 10)).toHaveLength(1);
    expect(changelogRecords('log', 0, entry(1, undefined), 10)).toHaveLength(1);
    const parts = changelogRecords('log', 3, entry(2, Buffer.from('abcdefghijklmnopqrstu')), 10);
    expect(parts).toHaveLength(3);
    expect(parts.map((r) => r.partition)).toEqual([3, 3, 3]);
    expect(parts.map((r) => parseChangelog(r.value)).map((e) => [e?.seq, e?.part?.index, e?.part?.count, e?.changes?.toString()])).toEqual([
      [2, 0, 3, 'abcdefghij'],
      [2, 1, 3, 'klmnopqrst'],
      [2, 2, 3, 'u'],
    ]);
  });

  it('joins the parts of each batch, in order, keeping the replace flag', () => {
    const values = [...changelogRecords('log', 0, entry(1, Buffer.from('hello world'), true), 4), ...changelogRecords('log', 0, entry(2, Buffer.from('x')), 4)].map((r) => r.value);
    const read = changelogBatches('t.0', asRead(values, 100));
    if ('corrupt' in read) throw new Error(read.corrupt.reason);
    expect(read.incompleteAt).toBeUndefined();
    expect(read.batches.map((b) => [b.entry.seq, b.first, b.offset, b.entry.changes?.toString(), b.entry.replace ?? false])).toEqual([
      [1, 100, 102, 'hello world', true],
      [2, 103, 103, 'x', false],
    ]);
  });

  it('a read that ends inside a batch leaves it out and says where it starts', () => {
    const values = [...changelogRecords('log', 0, entry(1, Buffer.from('ab')), 4), ...changelogRecords('log', 0, entry(2, Buffer.from('abcdefghij')), 4)].map((r) => r.value);
    const read = changelogBatches('t.0', asRead(values.slice(0, 3), 7));
    if ('corrupt' in read) throw new Error(read.corrupt.reason);
    expect(read.batches.map((b) => b.entry.seq)).toEqual([1]);
    expect(read.incompleteAt).toBe(8);
  });

  it('parts out of order, a new batch before the parts are complete, and another task\'s record do not add up', () => {
    const parts = changelogRecords('log', 0, entry(1, Buffer.from('abcdefghij')), 4).map((r) => r.value);
    expect(changelogBatches('t.0', asRead([parts[0]!, parts[2]!]))).toEqual({ corrupt: { offset: 1, reason: 'is part 3 of 3 of batch 1, out of order' } });
    expect(changelogBatches('t.0', asRead([parts[1]!]))).toMatchObject({ corrupt: { offset: 0 } });
    const next = changelogRecords('log', 0, entry(2, Buffer.from('z')), 4)[0]!.value;
    expect(changelogBatches('t.0', asRead([parts[0]!, next]))).toMatchObject({ corrupt: { offset: 1, reason: expect.stringContaining('before the 3 parts of batch 1') } });
    const other = changelogRecords('log', 0, { ...entry(1, undefined), task: 't.1' }, 4)[0]!.value;
    expect(changelogBatches('t.0', asRead([other]))).toMatchObject({ corrupt: { offset: 0, reason: "is not one of task t.0's changelog records" } });
  });

  it('refuses a header whose part is not one', () => {
    const value = changelogRecords('log', 0, entry(1, Buffer.from('abcdefgh')), 4)[0]!.value!;
    const n = value.readUInt32BE(0);
    const header = JSON.parse(value.subarray(4, 4 + n).toString()) as Record<string, unknown>;
    for (const part of [[2, 2], [0, 1], [-1, 3], 'x']) {
      const h = Buffer.from(JSON.stringify({ ...header, part }));
      const len = Buffer.alloc(4);
      len.writeUInt32BE(h.length);
      expect(parseChangelog(Buffer.concat([len, h, value.subarray(4 + n)]))).toBeUndefined();
    }
  });
});
