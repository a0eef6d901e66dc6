/**
 * Which state is committed, in one place, for every store: a task's committed state is its
 * snapshot (as of snapshot.seq) with the changes of every committed batch record after it applied
 * in order, up to the checkpoint's committedSeq. Holes and records of other seqs (aborted or
 * zombie attempts, older ring laps) are never read. Pure; the stores only fetch bytes.
 */
import type { BatchRecord, Checkpoint, SnapshotRef, SnapshotWrite, StateLoad } from '../commit/ports.js';
import { committedSeqsAfter, TaskStateCorrupt } from '../commit/checkpoint.js';
import { decodeEntries, encodeEntries, type StateEntry } from './codec.js';
import { isLive, stateMapKey } from './task-state.js';

/** Largest data of one snapshot chunk item (DynamoDB items hold 400 KB; the rest is keys and attributes). */
export const SNAPSHOT_CHUNK_BYTES = 350 * 1024;

/** One stored snapshot chunk: which snapshot (id, seq) it belongs to, the version it was written from, its place, its bytes. */
export interface SnapshotChunk {
  readonly id: string;
  readonly baseVersion: number;
  readonly seq: number;
  readonly index: number;
  readonly data: Buffer;
}

/** The committed state as of `ckpt`, from its snapshot's chunks and the batch records read; with `after`, only the changes after that batch. */
export function committedState(
  taskId: string,
  ckpt: Checkpoint,
  chunks: readonly SnapshotChunk[],
  records: ReadonlyMap<number, BatchRecord>,
  now: number,
  after?: number,
): StateLoad {
  const seqs = committedSeqsAfter(ckpt, after);
  const changes: StateEntry[] = [];
  for (const seq of seqs) {
    const record = records.get(seq);
    if (!record || record.seq !== seq) throw new TaskStateCorrupt(taskId, `the record of committed batch ${seq} is missing (snapshot at ${ckpt.snapshot.seq}, committed ${ckpt.committedSeq})`);
    changes.push(...record.changes);
  }
  if (after !== undefined && after >= ckpt.snapshot.seq) return { entries: changes, records: seqs.length };
  const state = new Map<string, StateEntry>();
  for (const e of snapshotEntries(taskId, ckpt.snapshot, chunks)) state.set(stateMapKey(e.key, e.name), e);
  for (const e of changes) state.set(stateMapKey(e.key, e.name), e);
  return { entries: [...state.values()].filter((e) => isLive(e.value, now)), records: seqs.length };
}

/** The entries of a snapshot from its chunks; checks that every chunk is there and belongs to it. */
export function snapshotEntries(taskId: string, ref: SnapshotRef, chunks: readonly SnapshotChunk[]): StateEntry[] {
  if (ref.chunks === 0) return [];
  const ours = new Map<number, SnapshotChunk>();
  for (const c of chunks) if (c.id === ref.id && c.seq === ref.seq && c.index < ref.chunks) ours.set(c.index, c);
  if (ours.size !== ref.chunks) throw new TaskStateCorrupt(taskId, `the snapshot of batch ${ref.seq} has ${ours.size} of its ${ref.chunks} chunks`);
  return decodeEntries(Buffer.concat([...ours.entries()].sort(([a], [b]) => a - b).map(([, c]) => c.data)));
}

/** A snapshot of `entries` as of batch `seq`, split into chunks, for bank `bank`. */
export function buildSnapshot(entries: Iterable<StateEntry>, seq: number, bank: 0 | 1, id: string, baseVersion: number): SnapshotWrite {
  const data = encodeEntries(entries);
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length; at += SNAPSHOT_CHUNK_BYTES) chunks.push(data.subarray(at, at + SNAPSHOT_CHUNK_BYTES));
  return { ref: { seq, bank, chunks: chunks.length, id, bytes: data.length }, chunks, baseVersion };
}
