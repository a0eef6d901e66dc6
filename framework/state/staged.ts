/**
 * The staged/committed rule, in one place. A state item holds the committed value `v`
 * its last writer started from, and a staged value tagged with that writer's batch seq.
 * The staged value is the committed one iff its batch committed: seq ≤ committedSeq and
 * seq is not a hole (a prepared batch that never committed). So confirming a batch is a
 * single checkpoint write, however many items the batch changed.
 */
import type { Checkpoint, StateValue } from '../commit/ports.js';

/** The parts of a stored state item the rule needs. */
export interface StagedItem {
  readonly committed: StateValue | undefined;
  /** `clear` = the batch deleted the value. Undefined = nothing staged. */
  readonly staged: StateValue | 'clear' | undefined;
  readonly stagedSeq: number | undefined;
}

/** The sequence number the next batch of a task takes: above every committed, pending and abandoned one (never reused). */
export function nextSeq(ckpt: Pick<Checkpoint, 'committedSeq' | 'holes' | 'pending'>): number {
  return Math.max(ckpt.committedSeq, ckpt.pending?.seq ?? 0, ...ckpt.holes) + 1;
}

/** Whether batch `seq` of the task with checkpoint `ckpt` committed. */
export function isCommittedSeq(seq: number, ckpt: Pick<Checkpoint, 'committedSeq' | 'holes'>): boolean {
  return seq <= ckpt.committedSeq && !ckpt.holes.includes(seq);
}

/** The committed value of an item as of `ckpt`; expired values (expiresAt ≤ now) are absent. */
export function committedValue(item: StagedItem, ckpt: Pick<Checkpoint, 'committedSeq' | 'holes'>, now: number): StateValue | undefined {
  const useStaged = item.staged !== undefined && item.stagedSeq !== undefined && isCommittedSeq(item.stagedSeq, ckpt);
  const value = useStaged ? (item.staged === 'clear' ? undefined : (item.staged as StateValue)) : item.committed;
  if (!value || (value.expiresAt !== undefined && value.expiresAt <= now)) return undefined;
  return value;
}
