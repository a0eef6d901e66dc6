/**
 * One task (stage × input partition) processing one batch. Data flows one way:
 *
 *   take the task (commit/) → state: keep, catch up or load → dedupe → decode → operators →
 *   event time → fire due timers → send outputs → marks for downstream (pure) → commit
 *
 * Two kinds of batch reach a task: data records (from its input topic) and control records (from
 * its control topic: watermark marks from upstream tasks, ticks). Both commit through the same
 * checkpoint; control batches under their own transactional id so the two triggers do not fence
 * each other. A warm container keeps the task's whole state between batches; its next batch
 * reads only the checkpoint (one GetItem) and keeps that state if the version is the one it
 * wrote or read last. If another invocation moved the task on meanwhile, the batch reads the
 * task and catches the state up from the batch records committed since (or loads it whole).
 */
import type { Checkpoint, KafkaTxn, TaskLog, TaskRef, TimerEntry } from '../commit/ports.js';
import { CheckpointConflict, SimulatedCrash } from '../commit/ports.js';
import type { CommitDeps, OpenBatch, Recovery } from '../commit/protocol.js';
import { awaitPosition, commitToLog, compactLog, DEFAULT_LOG_COMPACTION, logCompactionDue, takeFromLog, type LogTask } from '../commit/changelog-protocol.js';
import { commitBatch, compactTask, controlTxnIdOf, freshRecords, openBatch, outgoingRecords, planChanges, takeTask, txnIdOf } from '../commit/protocol.js';
import { DEFAULT_COMPACTION, mustCompactFirst, nextSeq } from '../commit/checkpoint.js';
import type { SourceNode } from '../dsl/plan.js';
import type { KafkaRecord, OutgoingRecord } from '../record/record.js';
import { encodeEntries } from '../state/codec.js';
import { TaskState } from '../state/task-state.js';
import { ConfigError } from '../errors.js';
import { decodeControl, highestFence } from '../time/control.js';
import { marksAfterSend } from '../time/marks.js';
import { TaskTimers, userTimerTimes, type TimerSource } from '../time/task-timers.js';
import type { TimeState } from '../time/watermark.js';
import { applyPosition, combine, observeSourceData, observeSourceTick, quietFor, receiveMark } from '../time/watermark.js';
import type { BacklogProbe } from '../time/backlog.js';
import { markPolicyOf, shouldSendMarks } from '../time/mark-policy.js';
import { timersOf, type KeyWindowsState } from '../time/window-operator.js';
import type { Stage, StageInput, Topology } from '../topology/topology.js';
import { changelogOf, eventTimeDownstream, taskIdOf, windowStateName } from '../topology/names.js';
import type { UserMetricValues } from '../ops/user-metrics.js';
import { readInput } from './input.js';
import { OperatorGraph, processTimerName } from './operators.js';
import { joinTimerSource } from './join-operator.js';

/** The task of `stage` reading `topic`/`partition`. */
export function taskRef(topology: Topology, stage: Stage, topic: string, partition: number): TaskRef {
  return { app: topology.app, stage: stage.name, topic, partition, id: taskIdOf(stage.name, stage.inputs.length, topic, partition) };
}

/** What a task did with one batch, for logs, metrics and tests. */
export interface TaskReport {
  readonly task: string;
  readonly kind: 'data' | 'control';
  readonly received: number;
  /** Records skipped because the checkpoint had already passed them (redelivery). */
  readonly duplicates: number;
  readonly processed: number;
  readonly outputs: number;
  readonly deadLetters: number;
  /** Timers that fired. */
  readonly timersFired: number;
  /** The task's watermark after the batch. */
  readonly watermark: number;
  /** Batch sequence number committed, undefined when nothing needed committing. */
  readonly seq: number | undefined;
  readonly recovery: Recovery | undefined;
  /** How the task's state was had: kept warm, caught up from batch records, or loaded whole (keyed stages). */
  readonly state?: 'warm' | 'caught-up' | 'loaded';
  /** Whether the batch also wrote a snapshot of the task's state. */
  readonly snapshot?: boolean;
  /** Times the batch ran again in this invocation after losing a race for the task (set only when it did). */
  readonly reruns?: number;
  /** Time from opening the batch's transaction to its confirmed checkpoint, ms (set when the batch committed). */
  readonly commitMs?: number;
  /** What user functions recorded through `ctx.metrics` (set when they recorded something). */
  readonly metrics?: UserMetricValues;
}

/** A warm container's memory of a task: the checkpoint it last wrote or read, and the task's state as of it. */
export interface WarmTask {
  readonly checkpoint: Checkpoint;
  readonly state: TaskState | undefined;
  readonly timers: TaskTimers | undefined;
  /** False after a failure: the next batch reads the checkpoint (and catches the state up) first. */
  readonly trusted: boolean;
  /** Changelog protocol: the task as this container knows it (its state is as of `log.view`). */
  readonly log?: LogTask;
}

/** Ports and clocks a task runs with. */
export type TaskDeps = CommitDeps & {
  readonly now: () => number;
  readonly warm: Map<string, WarmTask>;
  /** Asked by a source task before it turns idle (time/backlog.ts); absent: a quiet partition counts as read to its end. */
  readonly backlog?: BacklogProbe | undefined;
  /** The changelog reader (needed when the pipeline commits through a changelog). */
  readonly log?: TaskLog | undefined;
};

/** Runs one batch of data records of one task. */
export function runTask(topology: Topology, stage: Stage, input: StageInput, partition: number, records: readonly KafkaRecord[], deps: TaskDeps): Promise<TaskReport> {
  return runBatch(topology, stage, input, partition, records, deps, 'data');
}

/** Runs one batch of control records (marks, ticks) for the task of `input` at `partition`. */
export function runControl(topology: Topology, stage: Stage, input: StageInput, partition: number, records: readonly KafkaRecord[], deps: TaskDeps): Promise<TaskReport> {
  return runBatch(topology, stage, input, partition, records, deps, 'control');
}

async function runBatch(
  topology: Topology,
  stage: Stage,
  input: StageInput,
  partition: number,
  records: readonly KafkaRecord[],
  deps: TaskDeps,
  kind: 'data' | 'control',
): Promise<TaskReport> {
  if (topology.settings.commit === 'changelog') return runLogBatch(topology, stage, input, partition, records, deps, kind);
  const task = taskRef(topology, stage, input.topic, partition);
  const txnId = kind === 'control' ? controlTxnIdOf(task) : txnIdOf(task);
  const warm = deps.warm.get(task.id);
  // Until the batch is done the task has no trustworthy warm memory: a crash leaves none.
  deps.warm.delete(task.id);
  const taken = await takeTask(deps, task, txnId, warm?.trusted ? warm.checkpoint : undefined);
  let ckpt = taken.checkpoint;
  const { state, timers, how } = await taskState(topology, stage, task, deps, warm, ckpt, taken.read);
  try {
    if (how === 'loaded') await deps.fault?.('after-restore', task, ckpt.committedSeq);
    // A snapshot is due before this batch can be prepared (the ring would overwrite a record still
    // needed); or a cold start just loaded more records than a snapshot is due after: write it now,
    // so the next cold start reads less.
    const policy = deps.compaction ?? DEFAULT_COMPACTION;
    const seq = nextSeq(ckpt);
    if (state && (mustCompactFirst(ckpt, seq, policy) || (how === 'loaded' && seq - 1 - ckpt.snapshot.seq >= policy.everyBatches))) {
      ckpt = await compactTask(deps, task, ckpt, state.entries());
    }
    const report = await processBatch(topology, stage, input, task, records, deps, kind, ckpt, state, timers, checkpointCommitter(deps, task, txnId, ckpt));
    const checkpoint = report.checkpoint ?? ckpt;
    deps.warm.set(task.id, { checkpoint, state, timers, trusted: true });
    return { ...report.report, recovery: taken.recovery, ...(state ? { state: how } : {}) };
  } catch (error) {
    if (!(error instanceof SimulatedCrash)) {
      // The batch's changes are not (known to be) committed: back to the state as of `ckpt`,
      // which the next batch verifies by reading the checkpoint.
      if (state) for (const e of state.rollbackBatch()) timers?.refresh(e.key, e.name);
      deps.warm.set(task.id, { checkpoint: ckpt, state, timers, trusted: false });
    }
    throw error;
  }
}

/**
 * A batch under the changelog protocol (commit/changelog-protocol.ts): one transactional id for
 * both triggers; the task's view and state come from this container's memory caught up from the
 * changelog, or from the snapshot and the changelog after it. A failed batch leaves its memory
 * rolled back to the view before it, which the next batch catches up from the changelog (a batch
 * whose commit's answer was lost finds its own record there).
 */
async function runLogBatch(
  topology: Topology,
  stage: Stage,
  input: StageInput,
  partition: number,
  records: readonly KafkaRecord[],
  deps: TaskDeps,
  kind: 'data' | 'control',
): Promise<TaskReport> {
  const log = deps.log;
  if (!log) {
    throw new ConfigError(
      `pipeline ${topology.app} commits through a changelog, but stage ${stage.name} was given no changelog reader`,
      { stage: stage.name, field: 'log' },
      "pass StagePorts.log (lambdaPorts does: KafkajsChangelogReader), or build the pipeline with commit: 'checkpoint'",
    );
  }
  const task = taskRef(topology, stage, input.topic, partition);
  const txnId = txnIdOf(task);
  const at = changelogOf(topology, task);
  const logDeps = { store: deps.store, log, fault: deps.fault, compaction: deps.compaction, snapshotId: deps.snapshotId };
  const warm = deps.warm.get(task.id);
  deps.warm.delete(task.id);
  const keyed = stage.keyed;
  // A control batch whose marks cover data this container has not seen waits (reads only) for the
  // data batch reading it to commit, instead of fencing it (changelog-protocol.ts awaitPosition).
  if (kind === 'control' && warm?.log && stage.inputs.length === 1 && (deps.pendingGraceMs ?? 0) > 0) {
    const fence = highestFence(records.map((r) => r.value));
    if (fence >= 0) await awaitPosition(log, task, at, warm.log.view, fence, deps.pendingGraceMs ?? 0);
  }
  const taken = await takeFromLog({ ...logDeps, sink: deps.sink }, task, at, txnId, warm?.log, keyed);
  let state: TaskState | undefined;
  let timers: TaskTimers | undefined;
  let how: 'warm' | 'caught-up' | 'loaded';
  if (taken.loaded) {
    state = keyed ? TaskState.fromEntries(stage.name, stage.state, deps.now, taken.loaded) : undefined;
    const sources = state ? timerSourcesOf(topology, stage) : [];
    timers = state && sources.length > 0 ? new TaskTimers(sources, state) : undefined;
    how = 'loaded';
  } else {
    state = warm?.state;
    timers = warm?.timers;
    how = taken.records > 0 ? 'caught-up' : 'warm';
    if (state && taken.changes.length > 0) {
      state.apply(taken.changes);
      timers?.rebuild();
    }
  }
  let current: LogTask = taken.task;
  const remember = (): void => void deps.warm.set(task.id, { checkpoint: current.view, state, timers, trusted: true, log: current });
  try {
    if (how === 'loaded') await deps.fault?.('after-restore', task, current.view.committedSeq);
    const committer: BatchCommitter = {
      open: () => openBatch(deps, task, current.view, txnId, false),
      commit: async (open, o) => {
        const changes = o.state?.changes() ?? [];
        current = await commitToLog(logDeps, task, at, current, open, { tail: o.tail, nextOffset: o.nextOffset, time: o.time, changes: changes.length > 0 ? encodeEntries(changes) : undefined });
        return { checkpoint: current.view, snapshot: false };
      },
    };
    const report = await processBatch(topology, stage, input, task, records, deps, kind, current.view, state, timers, committer);
    let snapshot = false;
    if (report.report.seq !== undefined && logCompactionDue(current.view, deps.compaction ?? DEFAULT_LOG_COMPACTION)) {
      current = await compactLog(logDeps, task, at, current, state?.entries());
      snapshot = current.base?.committedSeq === current.view.committedSeq;
    }
    remember();
    return { ...report.report, ...(snapshot ? { snapshot } : {}), recovery: undefined, ...(state ? { state: how } : {}) };
  } catch (error) {
    if (!(error instanceof SimulatedCrash)) {
      // Back to the view before the batch (or after it, if it committed before the failure): the
      // next batch reads the changelog from there.
      if (state) for (const e of state.rollbackBatch()) timers?.refresh(e.key, e.name);
      remember();
    }
    throw error;
  }
}

/**
 * The task's state as of `ckpt`: the warm container's own if it is current, caught up with the
 * batch records committed since, or loaded whole (snapshot + records).
 */
async function taskState(
  topology: Topology,
  stage: Stage,
  task: TaskRef,
  deps: TaskDeps,
  warm: WarmTask | undefined,
  ckpt: Checkpoint,
  read: boolean,
): Promise<{ state: TaskState | undefined; timers: TaskTimers | undefined; how: 'warm' | 'caught-up' | 'loaded' }> {
  if (!stage.keyed) return { state: undefined, timers: undefined, how: 'warm' };
  const from = warm?.checkpoint.committedSeq;
  if (warm?.state && from !== undefined) {
    if (!read || from === ckpt.committedSeq) return { state: warm.state, timers: warm.timers, how: 'warm' };
    if (from < ckpt.committedSeq && from >= ckpt.snapshot.seq) {
      const load = await deps.store.load(task, ckpt, from);
      warm.state.apply(load.entries);
      warm.timers?.rebuild();
      return { state: warm.state, timers: warm.timers, how: 'caught-up' };
    }
  }
  const load = await deps.store.load(task, ckpt);
  const state = TaskState.fromEntries(stage.name, stage.state, deps.now, load.entries);
  const sources = timerSourcesOf(topology, stage);
  return { state, timers: sources.length > 0 ? new TaskTimers(sources, state) : undefined, how: 'loaded' };
}

/** The timers of a stage's operators: window and join timers from their state, user timers from their timer sets. */
export function timerSourcesOf(topology: Topology, stage: Stage): TimerSource[] {
  const out: TimerSource[] = [];
  for (const id of stage.nodes) {
    const node = topology.nodes.get(id)!;
    if (node.kind === 'window') {
      const spec = node.spec;
      out.push({ name: windowStateName(id), kind: 'window', derive: (bytes) => timersOf(spec, JSON.parse(bytes.toString('utf8')) as KeyWindowsState), deriveDecoded: (value) => timersOf(spec, value as KeyWindowsState) });
    } else if (node.kind === 'process' && node.onTimer) {
      out.push({ name: processTimerName(id), kind: 'user', derive: userTimerTimes });
    } else if (node.kind === 'join') {
      const source = joinTimerSource(node);
      if (source) out.push(source);
    }
  }
  return out;
}

/** Steps from dedupe to commit, on a task whose checkpoint and state are current. */
async function processBatch(
  topology: Topology,
  stage: Stage,
  input: StageInput,
  task: TaskRef,
  records: readonly KafkaRecord[],
  deps: TaskDeps,
  kind: 'data' | 'control',
  ckpt: Checkpoint,
  state: TaskState | undefined,
  timers: TaskTimers | undefined,
  committer: BatchCommitter,
): Promise<{ report: Omit<TaskReport, 'recovery'>; checkpoint: Checkpoint | undefined }> {
  const fresh = kind === 'data' ? freshRecords(ckpt, records) : [...records];
  const time0 = ckpt.time;
  const base = { task: task.id, kind, received: records.length, duplicates: records.length - fresh.length };
  if (fresh.length === 0) return { report: { ...base, processed: 0, outputs: 0, deadLetters: 0, timersFired: 0, watermark: time0.wm, seq: undefined }, checkpoint: undefined };

  const now = Math.max(deps.now(), time0.now);
  const source = input.kind === 'source' ? (topology.nodes.get(input.entry) as SourceNode) : undefined;
  timers?.startBatch();
  const opTime = { watermark: time0.wm, processingTime: now };
  const byOffset = new Map(fresh.map((r) => [r.offset, r]));
  const graph = new OperatorGraph(topology, stage, (o) => (o.topic === input.topic ? byOffset.get(o.offset) : undefined), state, timers, opTime);

  // Records, and what they do to event time.
  let time: TimeState = time0;
  let nextOffset = ckpt.nextOffset;
  let ignoredControl = 0;
  if (kind === 'data') {
    const decoded = readInput(topology, stage.name, input, fresh);
    for (const d of decoded.deadLetters) graph.deadLetters.push(d);
    for (const { entry, elements } of decoded.runs) await graph.run(entry, elements);
    nextOffset = fresh[fresh.length - 1]!.offset + 1;
    if (source) {
      const eventTimes = decoded.runs.flatMap((run) => run.elements.map((e) => e.timestamp));
      time = observeSourceData(time, eventTimes, now, source.maxOutOfOrdernessMs);
      if (source.watermark && eventTimes.length > 0) time = { ...time, wm: Math.max(time0.wm, source.watermark(time.maxTs)) };
    } else {
      time = applyPosition({ ...time, now }, nextOffset);
    }
  } else {
    const sourceTick = sourceTicker(deps, task, ckpt.nextOffset, topology.settings.idleTimeoutMs);
    for (const r of fresh) {
      const c = decodeControl(r.value);
      if (!c) ignoredControl += 1;
      else if (c.kind === 'tick') time = source ? await sourceTick(time, Math.max(c.tick, now)) : { ...time, now: Math.max(time.now, c.tick, now) };
      else time = receiveMark(time, c, ckpt.nextOffset);
    }
    if (source && time === time0) time = await sourceTick(time, now);
  }
  if (!source) time = combine(time, stage.upstreamTasks);

  // Event time advanced (or processing time moved): fire the timers that came due, in order.
  let timersFired = 0;
  if (timers) {
    opTime.watermark = time.wm;
    opTime.processingTime = Math.max(now, time.now);
    const keyOf = (t: TimerEntry): unknown => (input.keySerde ? input.keySerde.deserialize(t.key, { topic: input.topic, partition: task.partition }) : undefined);
    for (const [timerKind, upTo] of [
      ['event', time.wm],
      ['processing', opTime.processingTime],
    ] as const) {
      for (let due = timers.due(timerKind, upTo); due.length > 0; due = timers.due(timerKind, upTo)) {
        for (const t of due) {
          await graph.fireTimer(t, keyOf(t));
          timersFired += 1;
        }
      }
    }
  }

  // What the ticker reads to know when this task next needs waking (time/due.ts).
  const procDue = timers?.earliest('processing') ?? null;
  if (procDue !== time.procDue) time = { ...time, procDue };

  const downstreamNeedsTime = eventTimeDownstream(topology, stage.name).length > 0;
  const metrics = graph.metrics.snapshot();
  const report = { ...base, processed: fresh.length - ignoredControl, outputs: graph.outputs.length, deadLetters: graph.deadLetters.length, timersFired, watermark: time.wm, ...(metrics ? { metrics } : {}) };
  const nothingToCommit =
    kind === 'control' &&
    graph.outputs.length === 0 &&
    graph.deadLetters.length === 0 &&
    !state?.changed &&
    sameTime(time, time0) &&
    !(downstreamNeedsTime && shouldSendMarks(markPolicyOf(topology, stage), time, time.now));
  // Ticks and repeated marks that change nothing cost no write.
  if (nothingToCommit) return { report: { ...report, seq: undefined }, checkpoint: undefined };

  const commitStarted = deps.now();
  const open = await committer.open();
  const emitted = outgoingRecords({ outputs: graph.outputs, deadLetters: graph.deadLetters, deadLetterTopic: stage.deadLetterTopic, stage: stage.name });
  // Marks are fenced by the offsets of the outputs, so those go first; without marks, one send.
  let tail = emitted;
  let timeAfter = time;
  if (downstreamNeedsTime) {
    const sent = emitted.length > 0 ? await open.send(emitted) : [];
    ({ marks: tail, time: timeAfter } = marksAfterSend(topology, stage, task.id, time, sent));
  }
  const committed = await committer.commit(open, { tail, nextOffset, time: timeAfter, state });
  state?.markCommitted();
  return { report: { ...report, seq: open.seq, commitMs: deps.now() - commitStarted, ...(state ? { snapshot: committed.snapshot } : {}) }, checkpoint: committed.checkpoint };
}

/** How processBatch commits: through DynamoDB checkpoints (commit/protocol.ts) or a changelog (commit/changelog-protocol.ts). */
interface BatchCommitter {
  open(): Promise<OpenBatch & { readonly txn: KafkaTxn | undefined }>;
  commit(open: OpenBatch & { readonly txn: KafkaTxn | undefined }, outcome: { tail: readonly OutgoingRecord[]; nextOffset: number; time: TimeState; state: TaskState | undefined }): Promise<{ checkpoint: Checkpoint; snapshot: boolean }>;
}

/** The checkpoint protocol's commit: batch record (and snapshot when due), Kafka commit, confirm. */
function checkpointCommitter(deps: TaskDeps, task: TaskRef, txnId: string, ckpt: Checkpoint): BatchCommitter {
  return {
    open: () => openBatch(deps, task, ckpt, txnId),
    commit: async (open, o) => {
      const changes = planChanges(deps, ckpt, open.seq, o.state?.changes() ?? [], o.state !== undefined);
      const checkpoint = await commitBatch(deps, task, ckpt, open, { tail: o.tail, nextOffset: o.nextOffset, time: o.time, changes, snapshot: changes.snapshot && o.state ? o.state.entries() : undefined });
      return { checkpoint, snapshot: changes.snapshot };
    },
  };
}

/**
 * A source task's ticks: idleness by processing time, except that a task about to turn idle first
 * asks the backlog probe (once a batch) whether its partition still holds records it has not read
 * — then it is behind, not idle. A task that never read anything asks with `nextOffset` -1: the
 * probe knows where the trigger starts (TRIM_HORIZON: everything in the partition is coming).
 */
function sourceTicker(deps: TaskDeps, task: TaskRef, nextOffset: number, idleTimeoutMs: number): (time: TimeState, at: number) => Promise<TimeState> {
  let unread: Promise<boolean> | undefined;
  return async (time, at) => {
    const ask = deps.backlog !== undefined && !time.idle && quietFor(time, at, idleTimeoutMs);
    if (ask) unread ??= deps.backlog!.unread(task, nextOffset);
    return observeSourceTick(time, at, idleTimeoutMs, ask ? await unread! : false);
  };
}

/** Whether two time states differ only in processing time (not worth a checkpoint write). */
function sameTime(a: TimeState, b: TimeState): boolean {
  return JSON.stringify({ ...a, now: 0 }) === JSON.stringify({ ...b, now: 0 });
}

/** Whether an error means the task lost a race to another invocation (rerun the batch). */
export function lostRace(error: unknown): boolean {
  return error instanceof CheckpointConflict || (error as { code?: unknown } | undefined)?.code === 'SLUICE_FENCED';
}
