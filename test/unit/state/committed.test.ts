/**
 * Which state is committed (framework/state/committed.ts): a task's snapshot plus the changes of
 * every committed batch record after it, in seq order; nothing else is ever read, and a missing
 * piece is an error naming the task, never a silently smaller state.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { BatchRecord, Checkpoint, SnapshotRef } from '../../../framework/commit/ports.js';
import { EMPTY_CHECKPOINT, TaskStateCorrupt } from '../../../framework/commit/checkpoint.js';
import type { StateEntry } from '../../../framework/state/codec.js';
import { buildSnapshot, committedState, SNAPSHOT_CHUNK_BYTES, snapshotEntries, type SnapshotChunk } from '../../../framework/state/committed.js';
import { INITIAL_TIME } from '../../../framework/time/watermark.js';

const NOW = 1_700_000_000_000;
const TASK = 'count.3';

function entry(key: string, value: string | undefined, name = 'total', expiresAt?: number): StateEntry {
  return { key: Buffer.from(key), name, value: value === undefined ? undefined : { bytes: Buffer.from(value), expiresAt } };
}

function record(seq: number, changes: StateEntry[]): BatchRecord {
  return { seq, nextOffset: seq * 10, time: INITIAL_TIME, txnId: 'app.count.3', progress: undefined, since: 0, changes, changeBytes: 0, snapshot: undefined };
}

function records(...rs: BatchRecord[]): Map<number, BatchRecord> {
  return new Map(rs.map((r) => [r.seq, r]));
}

/** A stored snapshot of `entries` as of `seq`, as chunks a store would hand back. */
function stored(entries: StateEntry[], seq: number, id = `snap-${seq}`, bank: 0 | 1 = 1, baseVersion = 3): { ref: SnapshotRef; chunks: SnapshotChunk[] } {
  const write = buildSnapshot(entries, seq, bank, id, baseVersion);
  return { ref: write.ref, chunks: write.chunks.map((data, index) => ({ id, baseVersion, seq, index, data })) };
}

function ckpt(committedSeq: number, snapshot: SnapshotRef, holes: number[] = []): Checkpoint {
  return { ...EMPTY_CHECKPOINT, version: 9, committedSeq, holes, snapshot };
}

/** The entries of a load as `key/name=value` strings, sorted. */
function text(entries: readonly StateEntry[]): string[] {
  return entries.map((e) => `${e.key.toString()}/${e.name}=${e.value === undefined ? '(deleted)' : e.value.bytes.toString()}`).sort();
}

/** Each entry as `key/name=<sha-256 of the value>`, in order. */
function digests(entries: readonly StateEntry[]): string[] {
  return entries.map((e) => `${e.key.toString()}/${e.name}=${e.value ? createHash('sha256').update(e.value.bytes).digest('hex') : '(deleted)'}`);
}

/** The error `f` throws (the test fails if it does not throw). */
function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('committedState: a whole load', () => {
  it('is empty for a task that never committed', () => {
    expect(committedState(TASK, EMPTY_CHECKPOINT, [], new Map(), NOW)).toEqual({ entries: [], records: 0 });
  });

  it('is the snapshot when nothing committed after it', () => {
    const s = stored([entry('a', '1'), entry('b', '2')], 5);
    const load = committedState(TASK, ckpt(5, s.ref), s.chunks, new Map(), NOW);
    expect(text(load.entries)).toEqual(['a/total=1', 'b/total=2']);
    expect(load.records).toBe(0);
  });

  it('applies the committed records after the snapshot in seq order: a later record\'s value wins', () => {
    const s = stored([entry('a', 'snap'), entry('b', 'snap')], 5);
    // Handed over out of order on purpose: the seq decides, not the map's order.
    const rs = records(record(8, [entry('a', 'eight')]), record(6, [entry('a', 'six'), entry('c', 'six')]), record(7, [entry('c', 'seven')]));
    const load = committedState(TASK, ckpt(8, s.ref), s.chunks, rs, NOW);
    expect(text(load.entries)).toEqual(['a/total=eight', 'b/total=snap', 'c/total=seven']);
    expect(load.records).toBe(3);
  });

  it('applies a committed deletion: the entry is absent, not listed as deleted', () => {
    const s = stored([entry('a', 'snap'), entry('b', 'snap')], 5);
    const load = committedState(TASK, ckpt(6, s.ref), s.chunks, records(record(6, [entry('a', undefined)])), NOW);
    expect(text(load.entries)).toEqual(['b/total=snap']);
  });

  it('ignores a hole\'s record, even when it is there', () => {
    const s = stored([entry('a', 'snap')], 5);
    const rs = records(record(6, [entry('a', 'aborted')]), record(7, [entry('b', 'seven')]));
    const load = committedState(TASK, ckpt(7, s.ref, [6]), s.chunks, rs, NOW);
    expect(text(load.entries)).toEqual(['a/total=snap', 'b/total=seven']);
    expect(load.records).toBe(1);
  });

  it('ignores records of seqs at or before the snapshot and after the committed seq (older laps, a pending batch)', () => {
    const s = stored([entry('a', 'snap')], 5);
    const rs = records(record(4, [entry('a', 'old')]), record(5, [entry('a', 'five')]), record(6, [entry('b', 'six')]), record(7, [entry('a', 'pending')]));
    const load = committedState(TASK, ckpt(6, s.ref), s.chunks, rs, NOW);
    expect(text(load.entries)).toEqual(['a/total=snap', 'b/total=six']);
  });

  it('refuses a record stored under the wrong seq (a slot holding another lap\'s record)', () => {
    const s = stored([], 5);
    const wrong = new Map([[6, record(70, [entry('a', 'lap 2')])]]);
    const error = thrown(() => committedState(TASK, ckpt(6, s.ref), s.chunks, wrong, NOW));
    expect(error).toBeInstanceOf(TaskStateCorrupt);
    expect((error as Error).message).toContain('the record of committed batch 6 is missing');
  });

  it('throws TaskStateCorrupt naming the task when a committed record is missing', () => {
    const s = stored([entry('a', 'snap')], 5);
    const error = thrown(() => committedState(TASK, ckpt(7, s.ref), s.chunks, records(record(6, [])), NOW));
    expect(error).toBeInstanceOf(TaskStateCorrupt);
    expect(error).toMatchObject({ code: 'SLUICE_STATE_CORRUPT' });
    expect((error as Error).message).toMatch(/^task count\.3: the record of committed batch 7 is missing \(snapshot at 5, committed 7\)/);
  });

  it('throws TaskStateCorrupt naming the task when a snapshot chunk is missing', () => {
    const big = Array.from({ length: 3 }, (_, i) => entry(`k${i}`, randomBytes(SNAPSHOT_CHUNK_BYTES / 2).toString('base64')));
    const s = stored(big, 5);
    expect(s.ref.chunks).toBeGreaterThan(1);
    const error = thrown(() => committedState(TASK, ckpt(5, s.ref), s.chunks.slice(1), new Map(), NOW));
    expect(error).toBeInstanceOf(TaskStateCorrupt);
    expect((error as Error).message).toMatch(new RegExp(`^task count\\.3: the snapshot of batch 5 has ${s.ref.chunks - 1} of its ${s.ref.chunks} chunks`));
  });

  it('does not take another snapshot\'s chunk for its own (other id, or other seq)', () => {
    const s = stored([entry('a', 'ours')], 5, 'ours');
    const other = stored([entry('a', 'theirs')], 5, 'theirs');
    const stale = stored([entry('a', 'stale')], 4, 'ours');
    expect(() => committedState(TASK, ckpt(5, s.ref), other.chunks, new Map(), NOW)).toThrow(TaskStateCorrupt);
    expect(() => committedState(TASK, ckpt(5, s.ref), stale.chunks, new Map(), NOW)).toThrow(TaskStateCorrupt);
    // With its own chunk among foreign ones, it reads its own.
    expect(text(committedState(TASK, ckpt(5, s.ref), [...other.chunks, ...s.chunks, ...stale.chunks], new Map(), NOW).entries)).toEqual(['a/total=ours']);
  });

  it('leaves out values expired at `now`, from the snapshot and from records', () => {
    const s = stored([entry('a', 'gone', 'total', NOW), entry('b', 'kept', 'total', NOW + 1)], 5);
    const rs = records(record(6, [entry('c', 'gone', 'total', NOW - 1), entry('d', 'kept')]));
    expect(text(committedState(TASK, ckpt(6, s.ref), s.chunks, rs, NOW).entries)).toEqual(['b/total=kept', 'd/total=kept']);
  });

  it('treats state names of one key as separate entries', () => {
    const s = stored([entry('a', '1', 'sum'), entry('a', '9', 'max')], 5);
    const load = committedState(TASK, ckpt(6, s.ref), s.chunks, records(record(6, [entry('a', '2', 'sum')])), NOW);
    expect(text(load.entries)).toEqual(['a/max=9', 'a/sum=2']);
  });
});

describe('committedState: catching up after a batch', () => {
  const s = stored([entry('a', 'snap')], 5);
  const rs = records(record(6, [entry('a', 'six')]), record(7, [entry('b', 'seven')]), record(8, [entry('a', undefined), entry('c', 'eight')]));

  it('returns only the changes after that batch, in seq order, deletions included', () => {
    const load = committedState(TASK, ckpt(8, s.ref), s.chunks, rs, NOW, 6);
    expect(load).toEqual({ entries: [entry('b', 'seven'), entry('a', undefined), entry('c', 'eight')], records: 2 });
  });

  it('needs no snapshot chunk', () => {
    expect(committedState(TASK, ckpt(8, s.ref), [], rs, NOW, 7)).toEqual({ entries: [entry('a', undefined), entry('c', 'eight')], records: 1 });
  });

  it('returns nothing when the state is current', () => {
    expect(committedState(TASK, ckpt(8, s.ref), [], rs, NOW, 8)).toEqual({ entries: [], records: 0 });
  });

  it('is a whole load when `after` is before the snapshot (the records it would need are gone)', () => {
    const load = committedState(TASK, ckpt(8, s.ref), s.chunks, rs, NOW, 3);
    expect(text(load.entries)).toEqual(['b/total=seven', 'c/total=eight']);
    expect(load.records).toBe(3);
  });

  it('throws TaskStateCorrupt when a record it needs is missing', () => {
    expect(() => committedState(TASK, ckpt(8, s.ref), [], records(record(8, [])), NOW, 6)).toThrow(/^task count\.3: the record of committed batch 7 is missing/);
  });
});

describe('buildSnapshot and snapshotEntries', () => {
  it('describes the snapshot: seq, bank, id, chunk count and encoded bytes, with the version it was written from', () => {
    const write = buildSnapshot([entry('a', '1')], 12, 1, 'id-1', 4);
    expect(write.ref).toEqual({ seq: 12, bank: 1, chunks: 1, id: 'id-1', bytes: write.chunks[0]!.length });
    expect(write.baseVersion).toBe(4);
  });

  it('writes an empty state as one chunk that reads back empty', () => {
    const s = stored([], 12);
    expect(s.ref.chunks).toBe(1);
    expect(snapshotEntries(TASK, s.ref, s.chunks)).toEqual([]);
  });

  it('reads the empty snapshot (no chunks) as no state without any chunk', () => {
    expect(snapshotEntries(TASK, EMPTY_CHECKPOINT.snapshot, [])).toEqual([]);
  });

  it('splits a large state into chunks of at most SNAPSHOT_CHUNK_BYTES', () => {
    // Random values do not deflate: 1.2 MB of them make 4 chunks.
    const entries = Array.from({ length: 12 }, (_, i) => entry(`k${i}`, randomBytes(100 * 1024).toString('latin1')));
    const write = buildSnapshot(entries, 12, 0, 'big', 4);
    expect(write.ref.chunks).toBe(Math.ceil(write.ref.bytes / SNAPSHOT_CHUNK_BYTES));
    expect(write.ref.chunks).toBeGreaterThanOrEqual(4);
    expect(write.chunks.slice(0, -1).every((c) => c.length === SNAPSHOT_CHUNK_BYTES)).toBe(true);
    expect(write.chunks.at(-1)!.length).toBeLessThanOrEqual(SNAPSHOT_CHUNK_BYTES);
    expect(write.chunks.reduce((n, c) => n + c.length, 0)).toBe(write.ref.bytes);
  });

  it('reassembles the chunks in index order, however they arrive', () => {
    const entries = Array.from({ length: 12 }, (_, i) => entry(`k${i}`, randomBytes(100 * 1024).toString('latin1')));
    const s = stored(entries, 12);
    expect(s.ref.chunks).toBeGreaterThanOrEqual(4);
    // Compared by digest: a deep comparison of 1.2 MB of buffers byte by byte is slow.
    expect(digests(snapshotEntries(TASK, s.ref, [...s.chunks].reverse()))).toEqual(digests(entries));
  });

  it('ignores chunks at places beyond the snapshot\'s count (left over from a larger snapshot in the bank)', () => {
    const s = stored([entry('a', '1')], 12, 'small');
    const leftover: SnapshotChunk = { id: 'small', baseVersion: 3, seq: 12, index: 1, data: Buffer.from('junk') };
    expect(snapshotEntries(TASK, s.ref, [...s.chunks, leftover])).toEqual([entry('a', '1')]);
  });
});
