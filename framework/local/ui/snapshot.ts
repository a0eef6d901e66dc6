/**
 * What the live local view (`sluice dev --ui`) shows at one moment: per stage and per task (one
 * input partition) records in and out with their rates, lag, watermark, idle flag and dead
 * letters; per topic the end offsets. `buildSnapshot` is pure: it turns the facts the collector
 * gathered (trigger callbacks, the stage functions' InvocationReports, topic and group offsets,
 * optionally the checkpoints) and the previous snapshot (for rates) into the next snapshot.
 */
import { MIN_WATERMARK } from '../../time/control.js';
import { taskIdOf } from '../../topology/names.js';
import type { Stage, StageInput, Topology, TopicSpec } from '../../topology/topology.js';

/** One task (a stage reading one input partition) in a snapshot. */
export interface PartitionSnapshot {
  /** Task id, e.g. `by-user.2`. */
  readonly task: string;
  readonly topic: string;
  readonly partition: number;
  /** Data records delivered to the task by successful invocations (redeliveries count again). */
  readonly recordsIn: number;
  /** Records the task wrote to sinks and downstream stages (data and control batches). */
  readonly recordsOut: number;
  /** Per second since the previous snapshot. */
  readonly inPerSec: number;
  readonly outPerSec: number;
  /** End offset of the input partition (counts transaction markers); null before it was read. */
  readonly endOffset: number | null;
  /** First input offset not yet delivered; null while unknown. */
  readonly position: number | null;
  /**
   * Offsets of the input partition not yet delivered; null before the end offset was read.
   * Internal topics are written in transactions, whose commit markers take offsets too: up to
   * one marker per upstream task can trail the last record, so that many are not counted (a
   * caught-up task shows 0; a lag smaller than that may show as 0 too).
   */
  readonly lag: number | null;
  /** The task's event time (epoch ms); null before it has one. */
  readonly watermark: number | null;
  /**
   * Whether the task counts as idle: the runtime's flag from the checkpoint when the collector
   * reads checkpoints and the stage keeps event time; otherwise caught up and without data for
   * the pipeline's idle timeout.
   */
  readonly idle: boolean;
  /** Records the task sent to the stage's dead-letter topic. */
  readonly deadLetters: number;
  /** Processing time of the latest data delivery; null = none seen. */
  readonly lastDataAt: number | null;
}

/** One stage in a snapshot: totals over its tasks, and the tasks. */
export interface StageSnapshot {
  readonly name: string;
  readonly keyed: boolean;
  readonly recordsIn: number;
  readonly recordsOut: number;
  readonly inPerSec: number;
  readonly outPerSec: number;
  /** Sum over the tasks whose lag is known; null when none is. */
  readonly lag: number | null;
  /** Event time of the stage: minimum over its active tasks (all idle: the highest); null while an active task has none. */
  readonly watermark: number | null;
  /** Every task is idle. */
  readonly idle: boolean;
  readonly deadLetters: number;
  readonly deadLetterTopic: string;
  readonly invocations: number;
  readonly failures: number;
  /** The latest failure's message while the stage's latest invocation failed; null otherwise. */
  readonly lastError: string | null;
  readonly partitions: readonly PartitionSnapshot[];
}

/** One topic in a snapshot. */
export interface TopicSnapshot {
  readonly name: string;
  readonly role: TopicSpec['role'];
  readonly partitions: number;
  /** End offset per partition (index = partition); null where not read (topic missing, or not yet). */
  readonly endOffsets: ReadonlyArray<number | null>;
  /** Sum of the known end offsets; null when none is known. */
  readonly total: number | null;
}

/** Everything the live view shows at one moment. JSON-safe. */
export interface DevSnapshot {
  readonly app: string;
  /** Epoch ms of the snapshot. */
  readonly at: number;
  /** Ms since the previous snapshot (the rates' interval); 0 for the first. */
  readonly intervalMs: number;
  readonly idleTimeoutMs: number;
  readonly stages: readonly StageSnapshot[];
  readonly topics: readonly TopicSnapshot[];
  /** What could not be read this time (offsets, checkpoints): the figures it feeds are from the last good reading. */
  readonly warnings: readonly string[];
}

/** What the collector knows about one task, cumulative since it started. */
export interface TaskFacts {
  /** Data records delivered by successful invocations. */
  readonly recordsIn: number;
  /** Records written, summed from the InvocationReports. */
  readonly recordsOut: number;
  /** Dead letters, summed from the InvocationReports. */
  readonly deadLetters: number;
  /** Next offset the trigger delivered up to (last delivered + 1, or the group's committed offset). */
  readonly position?: number;
  /** Highest watermark reported (MIN_WATERMARK = none). */
  readonly watermark?: number;
  /** Processing time of the latest data delivery. */
  readonly lastDataAt?: number;
  /** From the task's checkpoint, when the collector reads them. */
  readonly checkpoint?: CheckpointFacts;
}

/** The part of a checkpoint the view uses. */
export interface CheckpointFacts {
  /** First input offset not yet processed; -1 = never committed. */
  readonly nextOffset: number;
  /** null: the task keeps no event time (yet). */
  readonly watermark: number | null;
  readonly idle: boolean | null;
}

/** Invocation counts of one stage. */
export interface StageFacts {
  readonly invocations: number;
  readonly failures: number;
  readonly lastError?: string;
}

/** One partition's log as fetched: first retained offset and end offset. */
export interface PartitionEnd {
  readonly low: number;
  readonly high: number;
}

/** The facts a snapshot is built from. */
export interface SnapshotFacts {
  /** Epoch ms of the reading. */
  readonly at: number;
  /** When collecting started: a task that never had data is quiet since then. */
  readonly since: number;
  /** By task id. */
  readonly tasks: ReadonlyMap<string, TaskFacts>;
  /** By stage name. */
  readonly stages: ReadonlyMap<string, StageFacts>;
  /** By topic: per partition (index = partition) its log; a topic not read is absent. */
  readonly ends: ReadonlyMap<string, ReadonlyArray<PartitionEnd | undefined>>;
  readonly warnings?: readonly string[];
}

/** One task of the topology: its stage, input and partition. */
export interface TaskSlot {
  readonly id: string;
  readonly stage: Stage;
  readonly input: StageInput;
  readonly partition: number;
}

/** Every task of the topology, stage by stage, input by input, partition by partition. */
export function taskSlots(topology: Topology): TaskSlot[] {
  return topology.stages.flatMap((stage) =>
    stage.inputs.flatMap((input) => Array.from({ length: input.partitions }, (_, partition) => ({ id: taskIdOf(stage.name, stage.inputs.length, input.topic, partition), stage, input, partition }))),
  );
}

/** Facts with nothing known yet, at `at`. */
export function emptyFacts(at: number): SnapshotFacts {
  return { at, since: at, tasks: new Map(), stages: new Map(), ends: new Map() };
}

/** Builds the snapshot at `facts.at`; rates are per second since `previous` (pure). */
export function buildSnapshot(topology: Topology, facts: SnapshotFacts, previous?: DevSnapshot): DevSnapshot {
  const intervalMs = previous ? Math.max(0, facts.at - previous.at) : 0;
  const before = new Map<string, PartitionSnapshot>();
  for (const s of previous?.stages ?? []) for (const p of s.partitions) before.set(p.task, p);
  const rate = (now: number, then: number | undefined): number => (intervalMs > 0 && then !== undefined ? (Math.max(0, now - then) * 1000) / intervalMs : 0);
  const idleTimeoutMs = topology.settings.idleTimeoutMs;
  const markers = trailingMarkers(topology);

  const stages = topology.stages.map((stage): StageSnapshot => {
    const partitions = taskSlots(topology)
      .filter((slot) => slot.stage === stage)
      .map((slot): PartitionSnapshot => {
        const t = facts.tasks.get(slot.id);
        const prev = before.get(slot.id);
        const end = facts.ends.get(slot.input.topic)?.[slot.partition];
        const known = [t?.position, t?.checkpoint && t.checkpoint.nextOffset >= 0 ? t.checkpoint.nextOffset : undefined].filter((x): x is number => x !== undefined);
        const position = known.length > 0 ? Math.max(...known) : null;
        const lag = end === undefined ? null : lagOf(end, position, markers.get(slot.input.topic) ?? 0);
        const recordsIn = t?.recordsIn ?? 0;
        const recordsOut = t?.recordsOut ?? 0;
        const lastDataAt = t?.lastDataAt ?? null;
        const quietFor = facts.at - (lastDataAt ?? facts.since);
        const idle = t?.checkpoint?.idle ?? ((lag ?? 0) === 0 && quietFor >= idleTimeoutMs);
        return {
          task: slot.id,
          topic: slot.input.topic,
          partition: slot.partition,
          recordsIn,
          recordsOut,
          inPerSec: rate(recordsIn, prev?.recordsIn),
          outPerSec: rate(recordsOut, prev?.recordsOut),
          endOffset: end?.high ?? null,
          position,
          lag,
          watermark: watermarkOf(t),
          idle,
          deadLetters: t?.deadLetters ?? 0,
          lastDataAt,
        };
      });
    const counts = facts.stages.get(stage.name);
    const lags = partitions.map((p) => p.lag).filter((l): l is number => l !== null);
    return {
      name: stage.name,
      keyed: stage.keyed,
      recordsIn: sum(partitions.map((p) => p.recordsIn)),
      recordsOut: sum(partitions.map((p) => p.recordsOut)),
      inPerSec: sum(partitions.map((p) => p.inPerSec)),
      outPerSec: sum(partitions.map((p) => p.outPerSec)),
      lag: lags.length > 0 ? sum(lags) : null,
      watermark: stageWatermark(partitions),
      idle: partitions.length > 0 && partitions.every((p) => p.idle),
      deadLetters: sum(partitions.map((p) => p.deadLetters)),
      deadLetterTopic: stage.deadLetterTopic,
      invocations: counts?.invocations ?? 0,
      failures: counts?.failures ?? 0,
      lastError: counts?.lastError ?? null,
      partitions,
    };
  });

  const topics = topology.topics.map((topic): TopicSnapshot => {
    const ends = facts.ends.get(topic.name);
    const endOffsets = Array.from({ length: topic.partitions }, (_, p) => ends?.[p]?.high ?? null);
    const known = endOffsets.filter((e): e is number => e !== null);
    return { name: topic.name, role: topic.role, partitions: topic.partitions, endOffsets, total: known.length > 0 ? sum(known) : null };
  });

  return { app: topology.app, at: facts.at, intervalMs, idleTimeoutMs, stages, topics, warnings: [...(facts.warnings ?? [])] };
}

/** Offsets not yet delivered, less the commit markers that may follow the last record. */
function lagOf(end: PartitionEnd, position: number | null, markers: number): number {
  const from = Math.max(position ?? end.low, end.low);
  return Math.max(0, end.high - from - markers);
}

/**
 * Per internal topic, how many commit markers can follow its last record: one per task of the
 * stages writing it (each has at most one transaction open); none in at-least-once mode.
 */
export function trailingMarkers(topology: Topology): Map<string, number> {
  const out = new Map<string, number>();
  if (topology.settings.mode === 'at-least-once') return out;
  for (const stage of topology.stages) {
    for (const input of stage.inputs) {
      if (input.kind !== 'internal') continue;
      const writers = topology.stages.filter((w) => w.nodes.some((n) => input.writers.includes(n)));
      const tasks = writers.reduce((a, w) => a + w.inputs.reduce((b, i) => b + i.partitions, 0), 0);
      out.set(input.topic, Math.max(1, tasks));
    }
  }
  return out;
}

/** The higher of the reported and the checkpointed watermark; null when neither is known. */
function watermarkOf(t: TaskFacts | undefined): number | null {
  const candidates = [t?.watermark, t?.checkpoint?.watermark ?? undefined].filter((w): w is number => w !== undefined && w > MIN_WATERMARK);
  return candidates.length > 0 ? Math.max(...candidates) : null;
}

/** The runtime's rule: the minimum over active tasks; when every task is idle, the highest. */
function stageWatermark(partitions: readonly PartitionSnapshot[]): number | null {
  if (partitions.length === 0) return null;
  const active = partitions.filter((p) => !p.idle);
  if (active.length === 0) {
    const wms = partitions.map((p) => p.watermark).filter((w): w is number => w !== null);
    return wms.length > 0 ? Math.max(...wms) : null;
  }
  if (active.some((p) => p.watermark === null)) return null;
  return Math.min(...active.map((p) => p.watermark!));
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
