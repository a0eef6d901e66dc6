/**
 * The operations tools' access to a stage's tasks in the app's table (layout in
 * dynamodb/layout.ts), through the same store the runtime uses: checkpoints and pending batches
 * read, committed state loaded, and a task rebased (its state and position replaced, for reset
 * and savepoint import). A rebase is conditional on the checkpoint version read, like the
 * runtime's writes, so a tool never overwrites a batch it did not see.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { BatchRecord, Checkpoint, TaskRef } from '../commit/ports.js';
import { CheckpointConflict } from '../commit/ports.js';
import { DynamoTaskStore } from '../dynamodb/task-store.js';
import type { StateEntry } from '../state/codec.js';
import type { TimeState } from '../time/watermark.js';
import { OpsError } from './errors.js';
import { describe } from './target.js';

/** The table a tool reads and writes. */
export interface TableRef {
  readonly client: DynamoDBClient;
  readonly table: string;
}

/** A task's checkpoint as stored, and the batch prepared after it if undecided. */
export interface StoredCheckpoint {
  readonly task: TaskRef;
  /** false: the task never wrote a checkpoint (version 0). */
  readonly exists: boolean;
  readonly checkpoint: Checkpoint;
  readonly pending: BatchRecord | undefined;
}

const PARALLEL = 8;

/** Reads the checkpoints (and pending batches) of `tasks`, strongly consistent, in the same order. */
export async function readCheckpoints(t: TableRef, tasks: readonly TaskRef[]): Promise<StoredCheckpoint[]> {
  const store = new DynamoTaskStore(t.client, t.table);
  const out: StoredCheckpoint[] = [];
  for (let i = 0; i < tasks.length; i += PARALLEL) {
    const wave = tasks.slice(i, i + PARALLEL);
    out.push(
      ...(await Promise.all(
        wave.map(async (task) => {
          const view = await call('read', () => store.read(task));
          return { task, exists: view.checkpoint.version > 0, checkpoint: view.checkpoint, pending: view.pending };
        }),
      )),
    );
  }
  return out;
}

/** Throws OpsError naming every task with a pending (in-doubt) batch. */
export function assertNoPending(stored: readonly StoredCheckpoint[], stage: string, doing: string): void {
  const pending = stored.filter((s) => s.pending !== undefined);
  if (pending.length === 0) return;
  const first = pending[0]!;
  throw new OpsError(
    'SLUICE_OPS_PENDING',
    `cannot ${doing}: ${pending.map((s) => `task ${s.task.id} has pending batch ${s.pending!.seq}`).join(', ')}`,
    { stage, topic: first.task.topic, partition: first.task.partition },
    'a pending batch is resolved by the next invocation of its task (recovery); let the stage run until `sluice status` shows no pending batch, then retry',
  );
}

/** A task's committed state (its snapshot and committed batch records), as the runtime would load it. */
export async function loadTaskState(t: TableRef, stored: StoredCheckpoint): Promise<readonly StateEntry[]> {
  if (!stored.exists) return [];
  const store = new DynamoTaskStore(t.client, t.table);
  return (await call('load', () => store.load(stored.task, stored.checkpoint))).entries;
}

/** What a rebase sets. */
export interface Rebase {
  readonly stored: StoredCheckpoint;
  readonly entries: Iterable<StateEntry>;
  readonly nextOffset: number;
  readonly time: TimeState;
  /** The batch number to be at, at least (a savepoint's committedSeq). */
  readonly atLeastSeq?: number;
}

/**
 * Replaces tasks' state and position (DynamoTaskStore.rebase), each conditional on the version
 * read; a moved checkpoint is OpsError SLUICE_OPS_CONFLICT naming the task. Returns the new checkpoints.
 */
export async function rebaseTasks(t: TableRef, rebases: readonly Rebase[], stage: string): Promise<Checkpoint[]> {
  const store = new DynamoTaskStore(t.client, t.table);
  const out: Checkpoint[] = [];
  for (const [i, r] of rebases.entries()) {
    try {
      out.push(await store.rebase(r.stored.task, r.stored.checkpoint, r.entries, r.nextOffset, r.time, r.atLeastSeq ?? 0));
    } catch (err) {
      if (err instanceof CheckpointConflict) {
        throw new OpsError(
          'SLUICE_OPS_CONFLICT',
          `the checkpoint of ${r.stored.task.id} changed while the command ran${i > 0 ? ` (the first ${i} tasks were already written)` : ''}`,
          { stage },
          'the stage is running: disable its triggers (event-source mappings) and run the command again',
          { cause: err },
        );
      }
      throw dynamoError('rebase', err);
    }
  }
  return out;
}

async function call<T>(op: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw dynamoError(op, err);
  }
}

function dynamoError(op: string, err: unknown): OpsError {
  if (err instanceof OpsError) return err;
  return new OpsError('SLUICE_OPS_STATE', `DynamoDB ${op} failed: ${describe(err)}`, {}, 'check the table and endpoint (`sluice status` checks both); the command is safe to repeat', { cause: err });
}
