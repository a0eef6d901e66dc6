/**
 * `sluice reset`: moves a stage's input position (the checkpoints' nextOffset) and optionally
 * clears its state.
 *
 * Rules (docs/operations.md):
 * - Refused while any affected task has a pending batch (its outcome decides the position).
 * - The new position must lie within the partition's retained log [low, end]; `earliest`/`latest`
 *   are low and end; a timestamp is the first offset whose record time is ≥ it (end if none).
 * - Each task is rebased (DynamoTaskStore.rebase): a fresh snapshot of its state — kept, or
 *   empty with `state: 'clear'` — as of a batch number a whole ring above any used, so batch
 *   numbers never go backwards and no batch record written before (a zombie's included) is read
 *   again; the version is bumped, so warm containers reload and batches in flight fail their
 *   commit. The task's event time (watermarks, fences of what it wrote downstream) is kept
 *   either way: see timeAfterReset.
 * - The checkpoint only filters what the trigger delivers: moving forward skips records,
 *   moving back needs the trigger to deliver them again. Pass `consumerGroup` to move the
 *   trigger's consumer-group offsets too (the group must have no active member).
 */
import type { TimeState } from '../time/watermark.js';
import { OpsError } from './errors.js';
import { offsetsAtTimestamp, topicLogs, type PartitionLog } from './offsets.js';
import { assertNoPending, loadTaskState, readCheckpoints, rebaseTasks, type StoredCheckpoint, tableOf } from './stage-items.js';
import { requireStage, stageTasks } from './stages.js';
import { checkTable, connectAdmin, describe, type OpsTarget } from './target.js';

/** Where to move the input position. */
export type ResetTo = { readonly offset: number | 'earliest' | 'latest' } | { readonly timestamp: number };

/** Options of resetStage. */
export interface ResetOptions {
  readonly to: ResetTo;
  readonly state: 'keep' | 'clear';
  /** Only these partitions (default: all). */
  readonly partitions?: readonly number[];
  /** Only this input topic (for stages with several inputs). */
  readonly topic?: string;
  /** Also move this consumer group's committed offsets (the trigger's). */
  readonly consumerGroup?: string;
  /** Plan and check, change nothing. */
  readonly dryRun?: boolean;
}

/** One task's move. */
export interface ResetMove {
  readonly task: string;
  readonly topic: string;
  readonly partition: number;
  readonly from: number;
  readonly to: number;
}

/** What reset did (or would do, with dryRun). */
export interface ResetResult {
  readonly moves: readonly ResetMove[];
  /** State entries dropped (state: 'clear'). */
  readonly deletedItems: number;
  readonly consumerGroup: string | undefined;
  readonly dryRun: boolean;
}

/**
 * The task's event time after a reset (pure). Kept as it is, whatever happens to the state: its
 * watermark must never decrease and its fences say what the task already wrote downstream, so
 * dropping them could let a watermark overtake data. Records read again after a rewind are
 * therefore judged against the kept watermark (late ones go to the late topic). The extension
 * point for event time to decide otherwise.
 */
export function timeAfterReset(time: TimeState, _state: ResetOptions['state']): TimeState {
  return time;
}

/** The new position of each task (pure); throws OpsError for a position outside the retained log. */
export function planReset(stage: string, tasks: ReadonlyArray<{ stored: StoredCheckpoint; log: PartitionLog; atTimestamp?: number }>, to: ResetTo): ResetMove[] {
  return tasks.map(({ stored, log, atTimestamp }) => {
    const t = stored.task;
    let target: number;
    if ('timestamp' in to) {
      if (atTimestamp === undefined) throw new Error(`no offset for the timestamp of ${t.id}`);
      target = atTimestamp;
    } else if (to.offset === 'earliest') target = log.low;
    else if (to.offset === 'latest') target = log.high;
    else target = to.offset;
    if (!Number.isSafeInteger(target) || target < log.low || target > log.high) {
      throw new OpsError(
        'SLUICE_OPS_OFFSET',
        `offset ${target} is outside ${t.topic}/${t.partition}, which holds offsets ${log.low} to ${log.high} (end)`,
        { stage, topic: t.topic, partition: t.partition, offset: target },
        'pick an offset in that range, or earliest / latest / --to-timestamp; nothing was changed',
      );
    }
    return { task: t.id, topic: t.topic, partition: t.partition, from: stored.checkpoint.nextOffset, to: target };
  });
}

/** Applies a reset; see the rules at the top of this file. */
export async function resetStage(target: OpsTarget, stageName: string, options: ResetOptions): Promise<ResetResult> {
  const { topology } = target;
  const stage = requireStage(topology, stageName);
  if (options.topic !== undefined && !stage.inputs.some((i) => i.topic === options.topic)) {
    throw new OpsError('SLUICE_OPS_OFFSET', `stage ${stage.name} does not read topic ${options.topic}`, { stage: stage.name, topic: options.topic }, `inputs: ${stage.inputs.map((i) => i.topic).join(', ')}`);
  }
  const all = stageTasks(topology, stage);
  const tasks = all.filter((t) => (options.topic === undefined || t.topic === options.topic) && (options.partitions === undefined || options.partitions.includes(t.partition)));
  const unknown = (options.partitions ?? []).filter((p) => !all.some((t) => t.partition === p));
  if (unknown.length > 0 || tasks.length === 0) {
    throw new OpsError('SLUICE_OPS_OFFSET', `stage ${stage.name} has no partition ${unknown.join(', ') || '(none selected)'}`, { stage: stage.name, partition: unknown[0] }, `partitions: 0 to ${Math.max(...stage.inputs.map((i) => i.partitions)) - 1}`);
  }
  await checkTable(target);
  const table = tableOf(target);
  const stored = await readCheckpoints(table, tasks);
  assertNoPending(stored, stage.name, 'reset');

  const admin = await connectAdmin(target);
  let moves: ResetMove[];
  try {
    const inputs: Array<{ stored: StoredCheckpoint; log: PartitionLog; atTimestamp?: number }> = [];
    for (const topic of [...new Set(tasks.map((t) => t.topic))]) {
      const logs = await topicLogs(admin, topic).catch((err: unknown) => {
        throw new OpsError('SLUICE_OPS_TOPIC_MISSING', `cannot read the offsets of ${topic}: ${describe(err)}`, { stage: stage.name, topic }, 'does the topic exist on these brokers?', { cause: err });
      });
      const atTs = 'timestamp' in options.to ? await offsetsAtTimestamp(admin, topic, options.to.timestamp) : undefined;
      for (const s of stored.filter((x) => x.task.topic === topic)) {
        const log = logs.get(s.task.partition);
        if (!log) throw new OpsError('SLUICE_OPS_TOPIC_MISSING', `${topic} has no partition ${s.task.partition}`, { stage: stage.name, topic, partition: s.task.partition }, 'the topic has fewer partitions than the pipeline was compiled for');
        const at = atTs?.get(s.task.partition);
        inputs.push({ stored: s, log, ...(at !== undefined ? { atTimestamp: at } : {}) });
      }
    }
    moves = planReset(stage.name, inputs, options.to);
    if (options.dryRun) return { moves, deletedItems: 0, consumerGroup: options.consumerGroup, dryRun: true };

    const byTask = new Map(stored.map((s) => [s.task.id, s]));
    let deletedItems = 0;
    const rebases = [];
    for (const m of moves) {
      const s = byTask.get(m.task)!;
      const kept = await loadTaskState(table, s);
      if (options.state === 'clear') deletedItems += kept.length;
      rebases.push({ stored: s, entries: options.state === 'clear' ? [] : kept, nextOffset: m.to, time: timeAfterReset(s.checkpoint.time, options.state) });
    }
    await rebaseTasks(table, rebases, stage.name);
    if (options.consumerGroup !== undefined) await moveGroup(admin, stage.name, options.consumerGroup, moves);
    return { moves, deletedItems, consumerGroup: options.consumerGroup, dryRun: false };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function moveGroup(admin: Awaited<ReturnType<typeof connectAdmin>>, stage: string, groupId: string, moves: readonly ResetMove[]): Promise<void> {
  for (const topic of [...new Set(moves.map((m) => m.topic))]) {
    try {
      await admin.setOffsets({ groupId, topic, partitions: moves.filter((m) => m.topic === topic).map((m) => ({ partition: m.partition, offset: String(m.to) })) });
    } catch (err) {
      throw new OpsError(
        'SLUICE_OPS_CONFLICT',
        `the checkpoints were reset, but consumer group ${groupId} could not be moved: ${describe(err)}`,
        { stage, topic },
        'a group with active members cannot be moved: disable the trigger (event-source mapping), then run the same reset again',
        { cause: err },
      );
    }
  }
}
