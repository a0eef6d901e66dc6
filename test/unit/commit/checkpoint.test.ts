/**
 * The checkpoint's rules and transitions (framework/commit/checkpoint.ts): which batch comes next,
 * which batches count as committed, where their records live, what confirm, abandon, compaction
 * and a rebase make of a checkpoint, and when a task compacts.
 */
import { describe, expect, it } from 'vitest';
import type { BatchRecord, Checkpoint, SnapshotRef } from '../../../framework/commit/ports.js';
import {
  abandoned,
  committedSeqsAfter,
  compacted,
  confirmed,
  DEFAULT_COMPACTION,
  EMPTY_CHECKPOINT,
  emptySnapshot,
  isCommittedSeq,
  mustCompactFirst,
  nextBank,
  nextSeq,
  rebased,
  rebaseSeq,
  RING_SLOTS,
  shouldCompact,
  slotOf,
  type CompactionPolicy,
} from '../../../framework/commit/checkpoint.js';
import { INITIAL_TIME, type TimeState } from '../../../framework/time/watermark.js';

const T1: TimeState = { ...INITIAL_TIME, wm: 1_000 };
const T2: TimeState = { ...INITIAL_TIME, wm: 2_000 };

function snapshot(seq: number, over: Partial<SnapshotRef> = {}): SnapshotRef {
  return { seq, bank: 0, chunks: 1, id: `snap-${seq}`, bytes: 500, ...over };
}

function ckpt(over: Partial<Checkpoint> = {}): Checkpoint {
  return { version: 7, committedSeq: 10, holes: [], nextOffset: 100, time: T1, snapshot: snapshot(8), deltaBytes: 300, ...over };
}

function record(seq: number, over: Partial<BatchRecord> = {}): BatchRecord {
  return { seq, nextOffset: 150, time: T2, txnId: 'app.count.0', progress: { topic: 'app.progress', partition: 0, offset: 9 }, since: 1, changes: [], changeBytes: 40, snapshot: undefined, ...over };
}

const EVERY_4: CompactionPolicy = { everyBatches: 4, minBytes: 1_000 };

describe('the empty checkpoint', () => {
  it('is version 0, nothing committed, no position, initial time, the empty snapshot at 0', () => {
    expect(EMPTY_CHECKPOINT).toEqual({ version: 0, committedSeq: 0, holes: [], nextOffset: -1, time: INITIAL_TIME, snapshot: { seq: 0, bank: 0, chunks: 0, id: '', bytes: 0 }, deltaBytes: 0 });
    expect(emptySnapshot(5)).toEqual({ seq: 5, bank: 0, chunks: 0, id: '', bytes: 0 });
  });

  it('cannot be changed by accident (frozen)', () => {
    expect(Object.isFrozen(EMPTY_CHECKPOINT)).toBe(true);
  });
});

describe('nextSeq', () => {
  it('is 1 for a task that never committed', () => {
    expect(nextSeq(EMPTY_CHECKPOINT)).toBe(1);
  });

  it('follows the committed seq', () => {
    expect(nextSeq({ committedSeq: 10, holes: [] })).toBe(11);
  });

  it('never reuses a hole below the committed seq', () => {
    expect(nextSeq({ committedSeq: 10, holes: [4, 9] })).toBe(11);
  });

  it('goes past a hole above the committed seq (an abandoned batch after the last commit)', () => {
    expect(nextSeq({ committedSeq: 10, holes: [11] })).toBe(12);
    expect(nextSeq({ committedSeq: 10, holes: [11, 12] })).toBe(13);
  });
});

describe('isCommittedSeq', () => {
  const c = { committedSeq: 10, holes: [4, 11] };

  it('counts every seq up to the committed one', () => {
    expect([1, 3, 5, 10].map((s) => isCommittedSeq(s, c))).toEqual([true, true, true, true]);
  });

  it('does not count a hole', () => {
    expect(isCommittedSeq(4, c)).toBe(false);
  });

  it('does not count a seq above the committed one, hole or not', () => {
    expect([11, 12].map((s) => isCommittedSeq(s, c))).toEqual([false, false]);
  });
});

describe('slotOf', () => {
  it('places batch seq in slot seq mod 64', () => {
    expect(RING_SLOTS).toBe(64);
    expect([0, 1, 63, 64, 65, 127, 128, 1_000].map(slotOf)).toEqual([0, 1, 63, 0, 1, 63, 0, 1_000 % 64]);
  });
});

describe('committedSeqsAfter', () => {
  it('lists the committed seqs after the snapshot, ascending', () => {
    expect(committedSeqsAfter(ckpt({ committedSeq: 12, snapshot: snapshot(8) }))).toEqual([9, 10, 11, 12]);
  });

  it('skips holes', () => {
    expect(committedSeqsAfter(ckpt({ committedSeq: 12, holes: [3, 10, 12], snapshot: snapshot(8) }))).toEqual([9, 11]);
  });

  it('is empty when nothing committed after the snapshot', () => {
    expect(committedSeqsAfter(ckpt({ committedSeq: 8, snapshot: snapshot(8) }))).toEqual([]);
    expect(committedSeqsAfter(EMPTY_CHECKPOINT)).toEqual([]);
  });

  it('starts after `after` when it is past the snapshot', () => {
    expect(committedSeqsAfter(ckpt({ committedSeq: 12, snapshot: snapshot(8) }), 10)).toEqual([11, 12]);
  });

  it('never starts before the snapshot, whatever `after` says', () => {
    expect(committedSeqsAfter(ckpt({ committedSeq: 12, snapshot: snapshot(8) }), 2)).toEqual([9, 10, 11, 12]);
  });

  it('is empty when `after` is the committed seq', () => {
    expect(committedSeqsAfter(ckpt({ committedSeq: 12, snapshot: snapshot(8) }), 12)).toEqual([]);
  });
});

describe('confirmed', () => {
  it('takes the record\'s seq, position and time, adds its bytes to the delta and bumps the version', () => {
    expect(confirmed(ckpt({ holes: [5] }), record(11))).toEqual({ version: 8, committedSeq: 11, holes: [5], nextOffset: 150, time: T2, snapshot: snapshot(8), deltaBytes: 340 });
  });

  it('makes the record\'s snapshot the task\'s, with no delta after it', () => {
    const s = snapshot(11, { bank: 1, chunks: 2, bytes: 900 });
    expect(confirmed(ckpt(), record(11, { snapshot: s }))).toEqual({ version: 8, committedSeq: 11, holes: [], nextOffset: 150, time: T2, snapshot: s, deltaBytes: 0 });
  });

  it('leaves the checkpoint it started from as it was', () => {
    const from = ckpt();
    const copy = structuredClone(from);
    confirmed(from, record(11, { snapshot: snapshot(11, { bank: 1 }) }));
    expect(from).toEqual(copy);
  });
});

describe('abandoned', () => {
  it('adds the record\'s seq to the holes and bumps the version; position, time, snapshot and delta stay', () => {
    expect(abandoned(ckpt({ holes: [5] }), record(11))).toEqual({ version: 8, committedSeq: 10, holes: [5, 11], nextOffset: 100, time: T1, snapshot: snapshot(8), deltaBytes: 300 });
  });

  it('makes the next batch take the seq after the hole', () => {
    expect(nextSeq(abandoned(ckpt(), record(11)))).toBe(12);
  });
});

describe('compacted', () => {
  it('takes the snapshot, resets the delta and bumps the version; committed seq, holes, position and time stay', () => {
    const s = snapshot(10, { bank: 1, bytes: 2_000 });
    expect(compacted(ckpt({ holes: [9] }), s)).toEqual({ version: 8, committedSeq: 10, holes: [9], nextOffset: 100, time: T1, snapshot: s, deltaBytes: 0 });
  });
});

describe('rebase', () => {
  it('puts the task a whole ring above the last seq it used', () => {
    expect(rebaseSeq(ckpt({ committedSeq: 10 }))).toBe(10 + RING_SLOTS);
    expect(rebaseSeq(ckpt({ committedSeq: 10, holes: [11, 12] }))).toBe(12 + RING_SLOTS);
  });

  it('does not jump for a task that never wrote (no record, no zombie), and honours a floor (a savepoint\'s seq)', () => {
    expect(rebaseSeq(EMPTY_CHECKPOINT)).toBe(0);
    expect(rebaseSeq(EMPTY_CHECKPOINT, 17)).toBe(17);
    expect(rebaseSeq(ckpt({ committedSeq: 10 }), 200)).toBe(200);
  });

  it('puts every seq used so far, and the one a stale writer would take next, at or below the new snapshot', () => {
    const from = ckpt({ committedSeq: 10, holes: [11] });
    const at = rebaseSeq(from);
    expect(nextSeq(from)).toBeLessThanOrEqual(at);
    expect(slotOf(at + 1)).toBe(slotOf(nextSeq(from)));
    expect(at + 1).toBeGreaterThan(nextSeq(from));
  });

  it('replaces state, position and time, clears holes and delta, and bumps the version', () => {
    const s = snapshot(74, { bank: 1 });
    expect(rebased(ckpt({ holes: [4] }), s, 500, T2)).toEqual({ version: 8, committedSeq: 74, holes: [], nextOffset: 500, time: T2, snapshot: s, deltaBytes: 0 });
  });

  it('reads no batch record afterwards: nothing is committed after the new snapshot', () => {
    const from = ckpt({ committedSeq: 10 });
    expect(committedSeqsAfter(rebased(from, snapshot(rebaseSeq(from), { bank: 1 }), 500, T2))).toEqual([]);
  });
});

describe('shouldCompact', () => {
  const at = (snapshotSeq: number, deltaBytes = 0, snapshotBytes = 10_000): Checkpoint => ckpt({ snapshot: snapshot(snapshotSeq, { bytes: snapshotBytes }), deltaBytes });

  it('compacts every N batches after the snapshot, not before', () => {
    expect(shouldCompact(at(8), 11, 10, EVERY_4)).toBe(false);
    expect(shouldCompact(at(8), 12, 10, EVERY_4)).toBe(true);
    expect(shouldCompact(at(8), 13, 10, EVERY_4)).toBe(true);
  });

  it('compacts by default every 32 batches', () => {
    expect(DEFAULT_COMPACTION).toEqual({ everyBatches: 32, minBytes: 64 * 1024 });
    expect(shouldCompact(at(0), 31, 0)).toBe(false);
    expect(shouldCompact(at(0), 32, 0)).toBe(true);
  });

  it('compacts at the latest after 63 batches, however large N is (the ring holds 64 records)', () => {
    const lax: CompactionPolicy = { everyBatches: 1_000, minBytes: Number.MAX_SAFE_INTEGER };
    expect(shouldCompact(at(0), 62, 0, lax)).toBe(false);
    expect(shouldCompact(at(0), 63, 0, lax)).toBe(true);
  });

  it('compacts when the delta with this batch reaches the bytes threshold and the snapshot\'s size', () => {
    expect(shouldCompact(at(8, 600, 900), 9, 399, EVERY_4)).toBe(false);
    expect(shouldCompact(at(8, 600, 900), 9, 400, EVERY_4)).toBe(true);
  });

  it('does not compact on bytes while the delta is below the snapshot\'s size', () => {
    expect(shouldCompact(at(8, 600, 5_000), 9, 4_399, EVERY_4)).toBe(false);
    expect(shouldCompact(at(8, 600, 5_000), 9, 4_400, EVERY_4)).toBe(true);
  });

  it('does not compact on bytes below the threshold, even with an empty snapshot', () => {
    expect(shouldCompact(at(8, 0, 0), 9, 999, EVERY_4)).toBe(false);
    expect(shouldCompact(at(8, 0, 0), 9, 1_000, EVERY_4)).toBe(true);
  });
});

describe('mustCompactFirst', () => {
  it('lets a batch prepare while the next batch\'s record would only overwrite the snapshot\'s own or an older one', () => {
    const lax: CompactionPolicy = { everyBatches: 1_000, minBytes: 0 };
    // After a snapshot at 0, batch 63 goes to slot 63; batch 64 would leave batch 65 nowhere but slot 1.
    expect(mustCompactFirst(ckpt({ snapshot: snapshot(0) }), 63, lax)).toBe(false);
  });

  it('requires a compaction a ring after the snapshot: the compaction takes that seq (its slot holds the snapshot\'s own batch), the batch the next', () => {
    const lax: CompactionPolicy = { everyBatches: 1_000, minBytes: 0 };
    expect(mustCompactFirst(ckpt({ snapshot: snapshot(0) }), 64, lax)).toBe(true);
  });

  it('requires a compaction once twice the policy\'s interval passed without a snapshot', () => {
    expect(mustCompactFirst(ckpt({ snapshot: snapshot(8) }), 15, EVERY_4)).toBe(false);
    expect(mustCompactFirst(ckpt({ snapshot: snapshot(8) }), 16, EVERY_4)).toBe(true);
  });

  it('by default, 64 batches after the snapshot', () => {
    expect(mustCompactFirst(ckpt({ snapshot: snapshot(100) }), 163)).toBe(false);
    expect(mustCompactFirst(ckpt({ snapshot: snapshot(100) }), 164)).toBe(true);
  });
});

describe('nextBank', () => {
  it('alternates between the two banks', () => {
    expect(nextBank(ckpt({ snapshot: snapshot(8, { bank: 0 }) }))).toBe(1);
    expect(nextBank(ckpt({ snapshot: snapshot(8, { bank: 1 }) }))).toBe(0);
  });

  it('takes bank 0 while the task has the empty snapshot (nothing in use)', () => {
    expect(nextBank(EMPTY_CHECKPOINT)).toBe(0);
    expect(nextBank(ckpt({ snapshot: { ...emptySnapshot(8), bank: 1 } }))).toBe(0);
  });
});
