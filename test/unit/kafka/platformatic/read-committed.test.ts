import { describe, expect, it } from 'vitest';
import { committedRecords, type FetchedBatch } from '../../../../framework/kafka/platformatic/read-committed.js';

const TXN = 0x10;
const CONTROL = 0x20;

/** One record batch of producer `pid` at `offset`: data records `values`, or one marker. */
function data(offset: number, pid: number, values: string[], transactional = true): FetchedBatch {
  return {
    firstOffset: BigInt(offset),
    lastOffsetDelta: values.length - 1,
    attributes: transactional ? TXN : 0,
    producerId: BigInt(pid),
    records: values.map((v, i) => ({ offsetDelta: i, key: null, value: Buffer.from(v) })),
  };
}

function marker(offset: number, pid: number, type: 'commit' | 'abort'): FetchedBatch {
  const key = Buffer.alloc(4);
  key.writeInt16BE(type === 'commit' ? 1 : 0, 2);
  return { firstOffset: BigInt(offset), lastOffsetDelta: 0, attributes: TXN | CONTROL, producerId: BigInt(pid), records: [{ offsetDelta: 0, key, value: Buffer.alloc(6) }] };
}

const values = (r: ReturnType<typeof committedRecords>): string[] => r.records.map((x) => `${x.offset}:${x.value?.toString() ?? 'null'}`);

describe('committedRecords (read_committed over a fetch response)', () => {
  it('drops every aborted transaction of a producer that aborted twice around a commit (the library keeps the first)', () => {
    // The log the library misreads: a0 aborted, b0 committed, c0 aborted, d0 committed, one producer.
    const batches = [data(0, 4, ['a0']), marker(1, 4, 'abort'), data(2, 4, ['b0']), marker(3, 4, 'commit'), data(4, 4, ['c0']), marker(5, 4, 'abort'), data(6, 4, ['d0']), marker(7, 4, 'commit')];
    const aborted = [
      { producerId: 4n, firstOffset: 0n },
      { producerId: 4n, firstOffset: 4n },
    ];
    expect(values(committedRecords(batches, aborted, 0))).toEqual(['2:b0', '6:d0']);
  });

  it('drops aborted transactions listed in abort order rather than first-offset order', () => {
    // Producer 1 starts first and aborts last; producer 2 starts later and aborts first.
    const batches = [data(0, 1, ['p1']), data(1, 2, ['p2']), marker(2, 2, 'abort'), data(3, 3, ['plain'], false), marker(4, 1, 'abort')];
    const aborted = [
      { producerId: 2n, firstOffset: 1n },
      { producerId: 1n, firstOffset: 0n },
    ];
    expect(values(committedRecords(batches, aborted, 0))).toEqual(['3:plain']);
  });

  it('keeps committed transactions of other producers interleaved with an aborted one', () => {
    const batches = [data(0, 1, ['x1', 'x2']), data(2, 2, ['y']), marker(3, 2, 'commit'), marker(4, 1, 'abort'), data(5, 1, ['x3']), marker(6, 1, 'commit')];
    expect(values(committedRecords(batches, [{ producerId: 1n, firstOffset: 0n }], 0))).toEqual(['2:y', '5:x3']);
  });

  it('leaves out records before `from` (a fetch returns whole batches) and says where the next fetch starts', () => {
    const read = committedRecords([data(10, 1, ['a', 'b', 'c'], false), marker(13, 5, 'commit')], [], 11);
    expect(values(read)).toEqual(['11:b', '12:c']);
    expect(read.next).toBe(14);
  });

  it('starts the next fetch where it was when the response held no batch', () => {
    expect(committedRecords([], null, 7)).toEqual({ records: [], next: 7 });
  });
});
