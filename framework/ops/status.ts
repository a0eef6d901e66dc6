/**
 * `sluice status`: per stage and task, how far the checkpoint is behind its input, whether a
 * batch is stuck in doubt, and how many dead letters the stage wrote. Collecting the facts is
 * I/O (Kafka offsets, DynamoDB checkpoints); judging them is the pure `assessStatus`, so what
 * "needs attention" means is one tested function.
 */
import type { TimeState } from '../time/watermark.js';
import { MIN_WATERMARK } from '../time/control.js';
import type { Stage } from '../topology/topology.js';
import { topicLogs, type PartitionLog } from './offsets.js';
import { readCheckpoints, type StoredCheckpoint, tableOf } from './stage-items.js';
import { requireStage, stageTasks } from './stages.js';
import { checkTable, connectAdmin, type OpsTarget } from './target.js';

/** What status read for one task. */
export interface TaskFacts {
  readonly stored: StoredCheckpoint;
  /** The task's input partition; undefined when the topic does not exist. */
  readonly input: PartitionLog | undefined;
}

/** What status read for one stage. */
export interface StageFacts {
  readonly stage: Stage;
  readonly tasks: readonly TaskFacts[];
  /** The dead-letter topic's partitions; undefined when the topic does not exist. */
  readonly deadLetters: readonly PartitionLog[] | undefined;
}

/** Everything status read, at one moment. */
export interface StatusFacts {
  readonly app: string;
  readonly table: string;
  readonly brokers: readonly string[];
  /** Epoch ms when the facts were read. */
  readonly at: number;
  readonly transactionTimeoutMs: number;
  readonly stages: readonly StageFacts[];
}

/** Thresholds of `assessStatus`. */
export interface StatusOptions {
  /** A task whose lag exceeds this needs attention; undefined = lag is never a problem. */
  readonly maxLag?: number;
  /** A pending batch older than this needs attention; default the pipeline's transaction timeout. */
  readonly pendingTimeoutMs?: number;
}

/** The in-doubt batch of a task. */
export interface PendingStatus {
  readonly seq: number;
  readonly txnId: string;
  /** When it was prepared, epoch ms; null when the checkpoint does not record it. */
  readonly since: number | null;
  readonly ageMs: number | null;
}

/** Event time of a task, from its checkpoint: null before the task knew any event time. */
export interface EventTimeStatus {
  readonly watermark: number | null;
  readonly idle: boolean | null;
}

/** One task's status. */
export interface TaskStatus extends EventTimeStatus {
  readonly task: string;
  readonly topic: string;
  readonly partition: number;
  /** End offset of the input partition (counts transaction markers); null when the topic is missing. */
  readonly endOffset: number | null;
  /** First offset not yet processed; -1 = the task never committed. */
  readonly nextOffset: number;
  /** endOffset − nextOffset (all retained records for a task that never committed); null when unknown. */
  readonly lag: number | null;
  readonly committedSeq: number;
  /** Checkpoint version; 0 = no checkpoint yet. */
  readonly version: number;
  /** Abandoned batch seqs. */
  readonly holes: number;
  readonly pending: PendingStatus | null;
  /** Why this task needs attention; empty when it is fine. */
  readonly attention: readonly string[];
}

/** One stage's status. */
export interface StageStatus {
  readonly stage: string;
  readonly keyed: boolean;
  readonly deadLetterTopic: string;
  /** Sum of the dead-letter topic's end offsets (records and transaction markers); null when the topic is missing. */
  readonly deadLetterOffsets: number | null;
  readonly tasks: readonly TaskStatus[];
  readonly attention: readonly string[];
}

/** The pipeline's status: `attention` lists every reason; empty means healthy. */
export interface PipelineStatus {
  readonly app: string;
  readonly table: string;
  readonly brokers: readonly string[];
  /** ISO time of the reading. */
  readonly at: string;
  readonly stages: readonly StageStatus[];
  readonly attention: readonly string[];
}

/** The watermark and idle flag of a task's event time (null before the task knew any event time). */
export function eventTimeOf(t: TimeState): EventTimeStatus {
  if (t.wm === MIN_WATERMARK && t.now === MIN_WATERMARK) return { watermark: null, idle: null };
  return { watermark: t.wm === MIN_WATERMARK ? null : t.wm, idle: t.idle };
}

/** Judges the facts (pure). */
export function assessStatus(facts: StatusFacts, options: StatusOptions = {}): PipelineStatus {
  const pendingTimeoutMs = options.pendingTimeoutMs ?? facts.transactionTimeoutMs;
  const stages = facts.stages.map((s): StageStatus => {
    const tasks = s.tasks.map((t) => assessTask(t, facts.at, pendingTimeoutMs, options.maxLag));
    const stageAttention: string[] = [];
    const missing = [...new Set(s.tasks.filter((t) => t.input === undefined).map((t) => t.stored.task.topic))];
    for (const topic of missing) stageAttention.push(`stage ${s.stage.name}: input topic ${topic} does not exist`);
    return {
      stage: s.stage.name,
      keyed: s.stage.keyed,
      deadLetterTopic: s.stage.deadLetterTopic,
      deadLetterOffsets: s.deadLetters === undefined ? null : s.deadLetters.reduce((sum, p) => sum + p.high, 0),
      tasks,
      attention: [...stageAttention, ...tasks.flatMap((t) => t.attention)],
    };
  });
  return {
    app: facts.app,
    table: facts.table,
    brokers: facts.brokers,
    at: new Date(facts.at).toISOString(),
    stages,
    attention: stages.flatMap((s) => s.attention),
  };
}

function assessTask(t: TaskFacts, now: number, pendingTimeoutMs: number, maxLag: number | undefined): TaskStatus {
  const { task, checkpoint } = t.stored;
  const attention: string[] = [];
  const input = t.input;
  let lag: number | null = null;
  if (input) {
    lag = checkpoint.nextOffset < 0 ? input.high - input.low : input.high - checkpoint.nextOffset;
    if (checkpoint.nextOffset > input.high) {
      attention.push(`task ${task.id}: checkpoint is at offset ${checkpoint.nextOffset}, past the end of ${task.topic}/${task.partition} (${input.high}); was the topic recreated? \`sluice reset\` moves the checkpoint`);
    } else if (checkpoint.nextOffset >= 0 && checkpoint.nextOffset < input.low) {
      attention.push(`task ${task.id}: offsets ${checkpoint.nextOffset}–${input.low - 1} of ${task.topic}/${task.partition} were deleted by retention before the stage read them`);
    }
    if (maxLag !== undefined && lag > maxLag) attention.push(`task ${task.id}: lag ${lag} is over --max-lag ${maxLag}`);
  }
  let pending: PendingStatus | null = null;
  const record = t.stored.pending;
  if (record) {
    const since = record.since;
    const ageMs = Math.max(0, now - since);
    pending = { seq: record.seq, txnId: record.txnId ?? '(at-least-once)', since, ageMs };
    if (ageMs > pendingTimeoutMs) {
      attention.push(
        `task ${task.id}: batch ${record.seq} has been pending for ${formatDuration(ageMs)}, longer than the transaction timeout (${formatDuration(pendingTimeoutMs)}): its invocation died and nothing retried it; the next invocation of the task resolves it`,
      );
    }
  }
  return {
    task: task.id,
    topic: task.topic,
    partition: task.partition,
    endOffset: input ? input.high : null,
    nextOffset: checkpoint.nextOffset,
    lag,
    committedSeq: checkpoint.committedSeq,
    version: checkpoint.version,
    holes: checkpoint.holes.length,
    pending,
    ...eventTimeOf(checkpoint.time),
    attention,
  };
}

/** Reads the facts for every stage (or just `stageName`): checks the table and brokers first. */
export async function collectStatus(target: OpsTarget, stageName?: string, now: () => number = Date.now): Promise<StatusFacts> {
  const { topology } = target;
  const stages = stageName === undefined ? topology.stages : [requireStage(topology, stageName)];
  await checkTable(target);
  const admin = await connectAdmin(target);
  try {
    const existing = new Set(await admin.listTopics());
    const logsOf = new Map<string, Map<number, PartitionLog> | undefined>();
    const logs = async (topic: string): Promise<Map<number, PartitionLog> | undefined> => {
      if (!logsOf.has(topic)) logsOf.set(topic, existing.has(topic) ? await topicLogs(admin, topic) : undefined);
      return logsOf.get(topic);
    };
    const table = tableOf(target);
    const facts: StageFacts[] = [];
    for (const stage of stages) {
      const stored = await readCheckpoints(table, stageTasks(topology, stage));
      const tasks: TaskFacts[] = [];
      for (const s of stored) tasks.push({ stored: s, input: (await logs(s.task.topic))?.get(s.task.partition) });
      const dlq = await logs(stage.deadLetterTopic);
      facts.push({ stage, tasks, deadLetters: dlq === undefined ? undefined : [...dlq.values()] });
    }
    return {
      app: topology.app,
      table: target.table,
      brokers: target.connection.brokers,
      at: now(),
      transactionTimeoutMs: topology.settings.transactionTimeoutMs,
      stages: facts,
    };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** `1h 4m`, `3m 20s`, `12s`, `450ms` (pure). */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1_000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m}m` : `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
}
