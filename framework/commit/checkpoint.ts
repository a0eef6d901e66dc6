/**
 * The checkpoint's rules and transitions, pure and in one place: which batch comes next, which
 * batches count as committed, where a batch record lives, what confirm, abandon and compaction
 * make of a checkpoint, and when a task compacts. Both stores (DynamoDB and in-memory) and the
 * protocol use these and nothing else, so "which state is committed" has one implementation.
 *
 * Invariants:
 * - Sequence numbers are never reused: a prepared batch that did not commit becomes a hole, and
 *   the next batch takes the number after every committed one and every hole.
 * - A batch record lives in ring slot seq mod RING_SLOTS. A slot only moves to higher seqs, so
 *   the records a cold start needs — every committed seq after the snapshot — must not be more
 *   than RING_SLOTS apart: a task compacts long before (DEFAULT_COMPACTION), and must compact before
 *   preparing a batch that would overwrite a record still needed (mustCompactFirst).
 */
import type { BatchRecord, Checkpoint, SnapshotRef } from './ports.js';
import { INITIAL_TIME } from '../time/watermark.js';
import { SluiceError } from '../errors.js';

/** Batch records a task keeps (ring slots). */
export const RING_SLOTS = 64;

/** When a task compacts its state into a snapshot during a batch. */
export interface CompactionPolicy {
  /** At the latest every this many batches after the last snapshot. */
  readonly everyBatches: number;
  /** Or once the records since the snapshot hold this many encoded bytes and at least as many as the snapshot. */
  readonly minBytes: number;
  /**
   * The largest encoded changes a batch record holds (default MAX_RECORD_CHANGE_BYTES). A batch that
   * changes more writes a snapshot with it instead, and its record carries no changes. Under the
   * changelog protocol: the most changes one changelog record carries (default
   * MAX_CHANGELOG_PART_BYTES); a batch that changes more writes them in consecutive records.
   */
  readonly maxRecordBytes?: number;
  /**
   * Whether batches write snapshots (default true). With false a task snapshots only by compacting
   * before a batch, when `mustCompactFirst` or a cold start's load says so: batches stay small and
   * even, at the price of a separate compaction now and then (the fault schedules use it to crash
   * inside compactions).
   */
  readonly inBatches?: boolean;
}

/** What one batch record can hold of changes: a DynamoDB item is at most 400 KB, and the record has other attributes. */
export const MAX_RECORD_CHANGE_BYTES = 350 * 1024;

/** The default: every 32 batches, or once the records since the snapshot outweigh it (and 64 KB). */
export const DEFAULT_COMPACTION: CompactionPolicy = { everyBatches: RING_SLOTS / 2, minBytes: 64 * 1024 };

/** The empty snapshot (no state) as of batch `seq`. */
export function emptySnapshot(seq: number): SnapshotRef {
  return { seq, bank: 0, chunks: 0, id: '', bytes: 0 };
}

/** The checkpoint of a task that never wrote one. */
export const EMPTY_CHECKPOINT: Checkpoint = Object.freeze({
  version: 0,
  committedSeq: 0,
  holes: [],
  nextOffset: -1,
  time: INITIAL_TIME,
  snapshot: emptySnapshot(0),
  deltaBytes: 0,
});

/** The sequence number the next batch of a task takes: above every committed and abandoned one. */
export function nextSeq(ckpt: Pick<Checkpoint, 'committedSeq' | 'holes'>): number {
  return Math.max(ckpt.committedSeq, ...ckpt.holes) + 1;
}

/** Whether batch `seq` of the task with checkpoint `ckpt` committed. */
export function isCommittedSeq(seq: number, ckpt: Pick<Checkpoint, 'committedSeq' | 'holes'>): boolean {
  return seq <= ckpt.committedSeq && !ckpt.holes.includes(seq);
}

/** The ring slot of batch `seq`'s record. */
export function slotOf(seq: number): number {
  return seq % RING_SLOTS;
}

/** The committed batches whose records bring the snapshot (or a state as of `after`) to the checkpoint, ascending. */
export function committedSeqsAfter(ckpt: Checkpoint, after: number = ckpt.snapshot.seq): number[] {
  const out: number[] = [];
  for (let seq = Math.max(after, ckpt.snapshot.seq) + 1; seq <= ckpt.committedSeq; seq += 1) if (!ckpt.holes.includes(seq)) out.push(seq);
  return out;
}

/** The checkpoint after confirming (or promoting) `record`. */
export function confirmed(ckpt: Checkpoint, record: BatchRecord): Checkpoint {
  return {
    ...ckpt,
    version: ckpt.version + 1,
    committedSeq: record.seq,
    nextOffset: record.nextOffset,
    time: record.time,
    snapshot: record.snapshot ?? ckpt.snapshot,
    deltaBytes: record.snapshot ? 0 : ckpt.deltaBytes + record.changeBytes,
  };
}

/** The checkpoint after abandoning `record`: its seq is a hole. */
export function abandoned(ckpt: Checkpoint, record: Pick<BatchRecord, 'seq'>): Checkpoint {
  return { ...ckpt, version: ckpt.version + 1, holes: [...ckpt.holes, record.seq] };
}

/** The checkpoint after a compaction outside a batch made `snapshot` the task's. */
export function compacted(ckpt: Checkpoint, snapshot: SnapshotRef): Checkpoint {
  return { ...ckpt, version: ckpt.version + 1, snapshot, deltaBytes: 0 };
}

/**
 * The checkpoint after a tool (reset, savepoint import) replaced the task's state by `snapshot`
 * and its position: the snapshot is as of a batch number a whole ring above any used so far, so
 * every batch record already written — a zombie's too, should one still land — lies at or below
 * it and is never read.
 */
export function rebased(ckpt: Checkpoint, snapshot: SnapshotRef, nextOffset: number, time: Checkpoint['time']): Checkpoint {
  return { version: ckpt.version + 1, committedSeq: snapshot.seq, holes: [], nextOffset, time, snapshot, deltaBytes: 0 };
}

/**
 * The batch number a rebase puts the task at (see rebased), at least `atLeast` (a savepoint's).
 * A task that never wrote (version 0) has no records and no zombie: no jump is needed.
 */
export function rebaseSeq(ckpt: Checkpoint, atLeast = 0): number {
  return Math.max(atLeast, ckpt.version === 0 ? 0 : nextSeq(ckpt) - 1 + RING_SLOTS);
}

/** Whether batch `seq`, whose changes encode to `changeBytes`, should carry a snapshot of the state after it. */
export function shouldCompact(ckpt: Checkpoint, seq: number, changeBytes: number, policy: CompactionPolicy = DEFAULT_COMPACTION): boolean {
  if (policy.inBatches === false) return false;
  if (seq - ckpt.snapshot.seq >= Math.min(policy.everyBatches, RING_SLOTS - 1)) return true;
  const delta = ckpt.deltaBytes + changeBytes;
  return delta >= policy.minBytes && delta >= ckpt.snapshot.bytes;
}

/**
 * Whether the task must compact before preparing batch `seq`: the batch after `seq` would overwrite
 * a record still needed (RING_SLOTS or more after the snapshot; the compaction itself takes `seq`,
 * whose slot holds the snapshot's own batch at worst), or the batches that should have snapshotted
 * failed twice over (twice the policy's interval).
 */
export function mustCompactFirst(ckpt: Checkpoint, seq: number, policy: CompactionPolicy = DEFAULT_COMPACTION): boolean {
  return seq - ckpt.snapshot.seq >= Math.min(RING_SLOTS, 2 * policy.everyBatches);
}

/** The bank a new snapshot goes to: the one not in use. */
export function nextBank(ckpt: Checkpoint): 0 | 1 {
  return ckpt.snapshot.chunks === 0 ? 0 : ckpt.snapshot.bank === 0 ? 1 : 0;
}

/** A task's stored state does not add up (a record or a snapshot chunk the checkpoint needs is missing or foreign). */
export class TaskStateCorrupt extends SluiceError {
  constructor(task: string, message: string) {
    super('SLUICE_STATE_CORRUPT', `task ${task}: ${message}`, {}, 'the stored state of this task was changed by something other than Sluice or lost; restore a savepoint, or reset the stage');
  }
}
