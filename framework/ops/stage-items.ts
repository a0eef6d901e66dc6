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
import { readLogTask, rebaseLog } from '../commit/changelog-protocol.js';
import { KafkajsChangelogReader } from '../kafka/changelog-reader.js';
import { KafkaTxnSink } from '../kafka/txn-sink.js';
import { changelogOf } from '../topology/names.js';
import type { Topology } from '../topology/topology.js';
import type { Kafka } from 'kafkajs';
import type { OpsTarget } from './target.js';
import type { TimeState } from '../time/watermark.js';
import { OpsError } from './errors.js';
import { describe } from './target.js';

/** The table a tool reads and writes. */
export interface TableRef {
  readonly client: DynamoDBClient;
  readonly table: string;
  /**
   * Pipelines with commit: 'changelog': where their tasks' changelogs are. A task is then its
   * checkpoint (a snapshot) plus the changelog after it, and a rebase commits a changelog record.
   */
  readonly changelog?: { readonly kafka: Kafka; readonly topology: Topology };
}

/** A tool reads a changelog after the markers of a commit that just returned are written (KafkajsChangelogReader's settleMs). */
const TOOL_READS = { settleMs: 2_000 } as const;

/** The table (and, for a changelog pipeline, the changelogs) of an operations target. */
export function tableOf(target: Pick<OpsTarget, 'dynamo' | 'table' | 'kafka' | 'topology'>): TableRef {
  return { client: target.dynamo, table: target.table, ...(target.topology.settings.commit === 'changelog' ? { changelog: { kafka: target.kafka, topology: target.topology } } : {}) };
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
  if (t.changelog) return readLogTasks(store, t.changelog, tasks);
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

/** Changelog pipelines: each task's view (its snapshot folded with the changelog after it); no batch is ever pending. */
async function readLogTasks(store: DynamoTaskStore, changelog: NonNullable<TableRef['changelog']>, tasks: readonly TaskRef[]): Promise<StoredCheckpoint[]> {
  const log = new KafkajsChangelogReader(changelog.kafka, TOOL_READS);
  try {
    const out: StoredCheckpoint[] = [];
    for (const task of tasks) {
      const { checkpoint } = await call('read', () => readLogTask(store, log, task, changelogOf(changelog.topology, task), Date.now()));
      out.push({ task, exists: checkpoint.version > 0 || checkpoint.committedSeq > 0, checkpoint, pending: undefined });
    }
    return out;
  } finally {
    await log.close();
  }
}

/** A task's committed state (its snapshot and committed batch records, or changelog), as the runtime would load it. */
export async function loadTaskState(t: TableRef, stored: StoredCheckpoint): Promise<readonly StateEntry[]> {
  if (!stored.exists) return [];
  const store = new DynamoTaskStore(t.client, t.table);
  if (t.changelog) {
    const changelog = t.changelog;
    const log = new KafkajsChangelogReader(changelog.kafka, TOOL_READS);
    try {
      return (await call('load', () => readLogTask(store, log, stored.task, changelogOf(changelog.topology, stored.task), Date.now()))).entries;
    } finally {
      await log.close();
    }
  }
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
  const changelog = t.changelog;
  const log = changelog ? new KafkajsChangelogReader(changelog.kafka, TOOL_READS) : undefined;
  const sink = changelog ? new KafkaTxnSink(changelog.kafka, { transactionTimeoutMs: changelog.topology.settings.transactionTimeoutMs }) : undefined;
  const out: Checkpoint[] = [];
  try {
    for (const [i, r] of rebases.entries()) {
      try {
        if (changelog && log && sink) {
          // The task's producers are fenced first; the rebase is one changelog record (in parts when large) replacing its state.
          out.push(await rebaseLog({ store, log, sink }, r.stored.task, changelogOf(changelog.topology, r.stored.task), r.stored.checkpoint, r.entries, r.nextOffset, r.time, Date.now()));
        } else {
          out.push(await store.rebase(r.stored.task, r.stored.checkpoint, r.entries, r.nextOffset, r.time, r.atLeastSeq ?? 0));
        }
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
  } finally {
    await log?.close();
    await sink?.close();
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
