/**
 * The Lambda handler of one stage. Lambda's Kafka trigger calls it with one or more
 * partitions' records; each partition is its own task, run concurrently. If any task
 * fails the invocation fails, so Lambda retries the whole batch — tasks that had already
 * committed skip their records by the checkpoint's nextOffset, so nothing doubles.
 */
import type { FaultHook, TaskLog, TaskStore, TxnSink } from '../commit/ports.js';
import type { CompactionPolicy } from '../commit/checkpoint.js';
import type { Pipeline } from '../dsl/pipeline.js';
import { ConfigError, SluiceError } from '../errors.js';
import { decodeEvent } from '../lambda/decode.js';
import { prefetchSchemas } from '../serde/prefetch.js';
import type { Stage, Topology } from '../topology/topology.js';
import type { BacklogProbe } from '../time/backlog.js';
import { compile } from '../topology/compile.js';
import type { TaskReport, WarmTask } from './task.js';
import { lostRace, runControl, runTask, taskRef } from './task.js';
import { controlTxnIdOf, txnIdOf } from '../commit/protocol.js';
import { partitionForKey } from '../record/partitioner.js';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { MetricsSink } from '../ops/metrics.js';
import { defaultMetricsSink, recordInvocation, recordInvocationFailure } from '../ops/metrics.js';
import { invocationMeasures } from '../ops/invocation-measures.js';
import { defaultStageLogger, logInvocation, logInvocationFailure } from '../ops/logger.js';

/** The adapters a stage runs with; the Lambda default builds Kafka and DynamoDB ones from the environment. */
export interface StagePorts {
  readonly store: TaskStore;
  readonly sink: TxnSink;
  /** Asked by a source task before it turns idle (time/backlog.ts); absent: a quiet partition counts as read to its end. */
  readonly backlog?: BacklogProbe;
  /** Reads task changelogs (pipelines with `commit: 'changelog'`). */
  readonly log?: TaskLog;
}

/** Options of `stageHandler`. */
export interface StageHandlerOptions {
  /** Adapters to use; built on first invocation by `connect` when omitted. */
  readonly ports?: StagePorts;
  /** Builds adapters from the first event's bootstrap servers (used when `ports` is omitted). */
  readonly connect?: (bootstrapServers: readonly string[]) => StagePorts | Promise<StagePorts>;
  /** Failure injection for tests. */
  readonly fault?: FaultHook;
  /** Clock (epoch ms). */
  readonly now?: () => number;
  /** Where invocation metrics go (default: CloudWatch EMF on stdout inside Lambda, nothing elsewhere). */
  readonly metrics?: MetricsSink;
  /** Structured logger (default: Powertools JSON logs inside Lambda, silent elsewhere). */
  readonly logger?: Logger;
  /**
   * How often a task that lost a race — its checkpoint changed under it (CheckpointConflict) or
   * its producer was fenced — runs its batch again within the invocation before the invocation
   * fails (default 3). A rerun is what Lambda's retry would do, minus the trigger's backoff: the
   * batch starts over from the checkpoint as it now is.
   */
  readonly raceRetries?: number;
  /**
   * How long a batch waits for a batch of the task's other trigger (data vs control), prepared
   * less than this long ago, to commit, before recovering it (default 1000 ms; 0: recover at once).
   * Changelog protocol: how long a control batch whose marks cover data the task has not read waits
   * (reading, not claiming) for the data batch that reads it to commit.
   */
  readonly pendingGraceMs?: number;
  /** When a batch also writes a snapshot of the task's state (default: every 32 batches, or once the records since the last outweigh it). */
  readonly compaction?: CompactionPolicy;
}

/** What one invocation did. */
export interface InvocationReport {
  readonly stage: string;
  readonly tasks: readonly TaskReport[];
}

/** One or more tasks of an invocation failed; the invocation fails so Lambda retries it. */
export class InvocationFailedError extends SluiceError {
  constructor(stage: string, readonly failures: ReadonlyArray<{ task: string; error: unknown }>) {
    super(
      'SLUICE_INVOCATION_FAILED',
      `${failures.length} task(s) failed: ${failures.map((f) => `${f.task}: ${f.error instanceof Error ? f.error.message : String(f.error)}`).join('; ')}`,
      { stage },
      'Lambda retries the batch; committed tasks skip what they already processed',
      { cause: failures[0]?.error },
    );
  }
}

/** A Lambda handler for Lambda's Kafka trigger. */
export type KafkaHandler = (event: unknown) => Promise<InvocationReport>;

/** Builds the Lambda handler of `stageName`. */
export function stageHandler(source: Pipeline | Topology, stageName: string, options: StageHandlerOptions = {}): KafkaHandler {
  const topology = 'stages' in source ? source : compile(source.plan());
  const found = topology.stages.find((s) => s.name === stageName);
  if (!found) {
    throw new ConfigError(`pipeline "${topology.app}" has no stage "${stageName}"`, { stage: stageName }, `stages: ${topology.stages.map((s) => s.name).join(', ')}`);
  }
  const stage: Stage = found;
  const progressPartitions = topology.topics.find((t) => t.name === topology.progressTopic)!.partitions;
  const now = options.now ?? Date.now;
  const metrics = options.metrics ?? defaultMetricsSink();
  const logger = options.logger ?? defaultStageLogger(topology.app, stage.name);
  // Module-scope state of a warm container: adapters and per-task caches.
  const warm = new Map<string, WarmTask>();
  const raceRetries = options.raceRetries ?? DEFAULT_RACE_RETRIES;
  let peers: Map<number, string[]> | undefined;
  const progressPeers = (partition: number): readonly string[] => (peers ??= progressWriters(topology, progressPartitions)).get(partition) ?? [];
  let ports: Promise<StagePorts> | undefined = options.ports ? Promise.resolve(options.ports) : undefined;

  return async (event: unknown): Promise<InvocationReport> => {
    const started = now();
    try {
      const report = await invoke(event);
      const at = now();
      const durationMs = at - started;
      recordInvocation(report, { app: topology.app, durationMs, at, ...invocationMeasures(report, at) }, metrics);
      logInvocation(logger, report, durationMs);
      return report;
    } catch (error) {
      const durationMs = now() - started;
      recordInvocationFailure(stage.name, error, { app: topology.app, durationMs, at: now() }, metrics);
      logInvocationFailure(logger, error, durationMs);
      throw error;
    }
  };

  async function invoke(event: unknown): Promise<InvocationReport> {
    const decoded = decodeEvent(event);
    if (!ports) {
      if (!options.connect) throw new ConfigError('stageHandler needs `ports` or `connect`', { stage: stageName });
      const connect = options.connect;
      ports = Promise.resolve().then(() => connect(decoded.bootstrapServers));
      ports.catch(() => (ports = undefined));
    }
    const { store, sink, backlog, log } = await ports;
    await prefetchSchemas(topology, stage, decoded.batches); // registry look-ups before any task runs (a registry outage fails the invocation)
    const deps = {
      store,
      sink,
      mode: topology.settings.mode,
      progressTopic: topology.progressTopic,
      progressPartitions,
      fault: options.fault,
      progressPeers,
      now,
      warm,
      pendingGraceMs: options.pendingGraceMs ?? DEFAULT_PENDING_GRACE_MS,
      compaction: options.compaction,
      backlog,
      log,
    };
    // Check every batch before starting any task, so a misrouted event writes nothing
    // (and no task is left running after the invocation has failed).
    // Data batches go to their task; a control batch of partition q goes to every input's task q.
    const work: Array<{ label: string; run: () => Promise<TaskReport> }> = [];
    for (const batch of decoded.batches) {
      if (batch.topic === stage.controlTopic) {
        for (const input of stage.inputs) {
          if (batch.partition < input.partitions) {
            work.push({ label: `${batch.topic}-${batch.partition}`, run: () => rerunRaces(() => runControl(topology, stage, input, batch.partition, batch.records, deps), raceRetries) });
          }
        }
        continue;
      }
      const input = stage.inputs.find((i) => i.topic === batch.topic);
      if (!input) {
        throw new ConfigError(
          `stage "${stage.name}" got records of topic "${batch.topic}", which it does not read`,
          { stage: stage.name, topic: batch.topic, partition: batch.partition },
          `this function reads ${[...stage.inputs.map((i) => i.topic), stage.controlTopic].join(', ')}: check its event-source mappings`,
        );
      }
      work.push({ label: `${batch.topic}-${batch.partition}`, run: () => rerunRaces(() => runTask(topology, stage, input, batch.partition, batch.records, deps), raceRetries) });
    }
    const results = await Promise.allSettled(work.map((w) => w.run()));
    const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [{ task: work[i]!.label, error: r.reason as unknown }] : []));
    if (failures.length > 0) throw new InvocationFailedError(stage.name, failures);
    return { stage: stage.name, tasks: results.map((r) => (r as PromiseFulfilledResult<TaskReport>).value) };
  }
}

/** Per progress partition, the transactional ids (data and control of every task of every stage) that write it. */
function progressWriters(topology: Topology, partitions: number): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const stage of topology.stages) {
    for (const input of stage.inputs) {
      for (let p = 0; p < input.partitions; p += 1) {
        const task = taskRef(topology, stage, input.topic, p);
        const at = partitionForKey(Buffer.from(task.id), partitions);
        out.set(at, [...(out.get(at) ?? []), txnIdOf(task), controlTxnIdOf(task)]);
      }
    }
  }
  return out;
}

const DEFAULT_RACE_RETRIES = 3;
const DEFAULT_PENDING_GRACE_MS = 1_000;

/**
 * Runs a task's batch, again (after a short random pause) when it lost a race to another
 * invocation of the task: the data and control triggers of a task, or a zombie. Safe for the
 * same reason Lambda's retries are: every attempt starts from the checkpoint, skips what is
 * committed, and recovers what is pending. A simulated crash is never rerun: that container is dead.
 */
async function rerunRaces(run: () => Promise<TaskReport>, retries: number): Promise<TaskReport> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const report = await run();
      return attempt === 0 ? report : { ...report, reruns: attempt };
    } catch (error) {
      if (!lostRace(error) || attempt >= retries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (attempt + 1)));
    }
  }
}
