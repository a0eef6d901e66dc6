/**
 * One task (stage × input partition) processing one batch. Data flows one way:
 * checkpoint → (recover) → dedupe → decode → prefetch state → operators → advance event
 * time → fire due timers → marks for downstream → commit.
 *
 * Two kinds of batch reach a task: data records (from its input topic) and control
 * records (from its control topic: watermark marks from upstream tasks, ticks). Both
 * update the same checkpoint, serialised by its version condition; control batches commit
 * under their own transactional id so the two triggers do not fence each other.
 * Warm containers keep a task's state cache while the checkpoint version shows nobody
 * else wrote in between.
 */
import type { Checkpoint, SentOffsets, TaskRef, TimerEntry } from '../commit/ports.js';
import type { CommitDeps, Recovery } from '../commit/protocol.js';
import { commitBatch, controlTxnIdOf, freshRecords, recover, txnIdOf } from '../commit/protocol.js';
import type { SourceNode } from '../dsl/plan.js';
import type { KafkaRecord, OutgoingRecord } from '../kafka/record.js';
import { KeyedStateCache } from '../state/keyed-state.js';
import { TimerBuffer } from '../state/timers.js';
import { controlRecord, decodeControl } from '../time/control.js';
import type { TimeState } from '../time/watermark.js';
import { applyPosition, combine, fenceFor, observeSourceData, observeSourceTick, receiveMark, recordWritten, shouldSend, timeStateOf } from '../time/watermark.js';
import type { Stage, StageInput, Topology } from '../topology/topology.js';
import { needsEventTime, taskIdOf } from '../topology/names.js';
import type { Element } from './element.js';
import { readInput } from './input.js';
import { OperatorGraph } from './operators.js';

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
  /** Times the batch ran again in this invocation after losing a race for the task (set only when it did). */
  readonly reruns?: number;
}

/** A warm container's memory of a task: the checkpoint version it last wrote and the state cache then. */
export interface WarmTask {
  version: number;
  cache: KeyedStateCache | undefined;
}

/** Ports and clocks a task runs with. */
export type TaskDeps = CommitDeps & {
  readonly now: () => number;
  readonly warm: Map<string, WarmTask>;
  /** How long a batch waits for a pending batch of the task's other trigger to finish before recovering it (ms). */
  readonly pendingGraceMs?: number;
};

/**
 * A batch the other trigger of the task (data vs control) prepared moments ago is most likely
 * about to commit: recovering it now would fence a live producer, fail that invocation, and
 * waste its work. Wait a little (polling the checkpoint) for it to be confirmed; recover only
 * if it is still pending after `pendingGraceMs` since its prepare. Waiting never affects what
 * commits, only who does the work.
 */
async function awaitOtherTrigger(deps: TaskDeps, task: TaskRef, ckpt: Checkpoint, txnId: string): Promise<Checkpoint> {
  const pending = ckpt.pending;
  const grace = deps.pendingGraceMs ?? 0;
  if (!pending || pending.txnId === txnId || grace <= 0) return ckpt;
  const deadline = (pending.since ?? 0) + grace;
  let latest = ckpt;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    latest = await deps.store.read(task);
    if (latest.pending?.seq !== pending.seq) return latest;
  }
  return latest;
}

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
  const task = taskRef(topology, stage, input.topic, partition);
  const txnId = kind === 'control' ? controlTxnIdOf(task) : txnIdOf(task);
  // First take over our transactional id (a no-op in a warm container): a crashed attempt's
  // open transaction would otherwise hold back read_committed readers of its partitions until
  // the broker's transaction timeout — among them our own recovery of a batch the other
  // trigger left pending, whose progress partition it may share (a deadlock until the timeout).
  // A retry that finds nothing left to commit would never fence it either.
  if (deps.mode === 'exactly-once') await deps.sink.claim(txnId);
  let ckpt: Checkpoint = await awaitOtherTrigger(deps, task, await deps.store.read(task), txnId);
  const recovery = await recover(deps, task, ckpt);
  if (recovery) ckpt = await deps.store.read(task);

  const fresh = kind === 'data' ? freshRecords(ckpt, records) : [...records];
  const time0 = timeStateOf(ckpt.extra);
  const base = { task: task.id, kind, received: records.length, duplicates: records.length - fresh.length, recovery };
  if (fresh.length === 0) return { ...base, processed: 0, outputs: 0, deadLetters: 0, timersFired: 0, watermark: time0.wm, seq: undefined };

  const warm = deps.warm.get(task.id);
  const cache = stage.keyed ? (warm && warm.version === ckpt.version && warm.cache ? warm.cache : new KeyedStateCache(stage.name, stage.state, deps.now)) : undefined;
  deps.warm.delete(task.id);

  const now = Math.max(deps.now(), time0.now);
  const source = input.kind === 'source' ? (topology.nodes.get(input.entry) as SourceNode) : undefined;
  const timers = new TimerBuffer();
  const opTime = { watermark: time0.wm, processingTime: now };
  const byOffset = new Map(fresh.map((r) => [r.offset, r]));
  const graph = new OperatorGraph(topology, stage, (o) => (o.topic === input.topic ? byOffset.get(o.offset) : undefined), cache, timers, opTime);
  const loadKeys = async (keys: Iterable<Buffer>): Promise<void> => {
    if (!cache) return;
    const missing = cache.missing(keys);
    if (missing.length > 0) cache.load(missing, await deps.store.loadState(task, missing, ckpt));
  };

  let time: TimeState = time0;
  let nextOffset = ckpt.nextOffset;
  let ignoredControl = 0;
  if (kind === 'data') {
    const decoded = readInput(topology, stage.name, input, fresh);
    for (const d of decoded.deadLetters) graph.deadLetters.push(d);
    const keys = new Map<string, Buffer>();
    for (const els of decoded.byEntry.values()) for (const el of els) if (el.keyBytes) keys.set(el.keyBytes.toString('base64'), el.keyBytes);
    await loadKeys(keys.values());
    for (const [entry, elements] of decoded.byEntry) await graph.run(entry, elements);
    nextOffset = fresh[fresh.length - 1]!.offset + 1;
    if (source) {
      const eventTimes = [...decoded.byEntry.values()].flatMap((els: Element[]) => els.map((e) => e.timestamp));
      time = observeSourceData(time, eventTimes, now, source.maxOutOfOrdernessMs);
      if (source.watermark && eventTimes.length > 0) time = { ...time, wm: Math.max(time0.wm, source.watermark(time.maxTs)) };
    } else {
      time = applyPosition({ ...time, now }, nextOffset);
    }
  } else {
    for (const r of fresh) {
      const c = decodeControl(r.value);
      if (!c) ignoredControl += 1;
      else if (c.kind === 'tick') time = source ? observeSourceTick(time, Math.max(c.tick, now), topology.settings.idleTimeoutMs) : { ...time, now: Math.max(time.now, c.tick, now) };
      else time = receiveMark(time, c, ckpt.nextOffset);
    }
    if (source && time === time0) time = observeSourceTick(time, now, topology.settings.idleTimeoutMs);
  }
  if (!source) time = combine(time, stage.upstreamTasks);

  // Event time advanced (or processing time moved): fire the timers that came due.
  let timersFired = 0;
  if (stage.eventTime && cache) {
    opTime.watermark = time.wm;
    opTime.processingTime = Math.max(now, time.now);
    const keyOf = (t: TimerEntry): unknown => (input.keySerde ? input.keySerde.deserialize(t.key, { topic: input.topic, partition }) : undefined);
    for (const [timerKind, upTo, before] of [
      ['event', time.wm, time0.wm],
      ['processing', opTime.processingTime, time0.now],
    ] as const) {
      let due = upTo > before ? (await deps.store.dueTimers(task, timerKind, upTo, ckpt)).filter((t) => !timers.isDeleted(t)) : [];
      for (;;) {
        const all = dedupeTimers([...due, ...timers.dueInBatch(timerKind, upTo)]).filter((t) => !timers.isDeleted(t));
        if (all.length === 0) break;
        await loadKeys(all.map((t) => t.key));
        for (const t of all) {
          await graph.fireTimer(t, keyOf(t));
          timersFired += 1;
        }
        due = [];
      }
    }
  }

  const downstreamNeedsTime = stage.downstream.some((d) => needsEventTime(topology, d));
  const downstreamTopics = new Set(stage.outputs.filter((o) => o.kind === 'repartition').map((o) => o.topic));
  const interval = source ? topology.settings.watermarkIntervalMs : 0;
  const finish = (sent: SentOffsets): { records: OutgoingRecord[]; extra: Record<string, unknown> } => {
    let t = recordWritten(time, sent.filter((o) => downstreamTopics.has(o.topic)));
    const marks: OutgoingRecord[] = [];
    if (shouldSend(t, t.now, interval)) {
      for (const out of stage.outputs) {
        if (out.kind !== 'repartition') continue;
        const target = topology.stages.find((s) => s.name === out.toStage)!;
        const partitions = topology.topics.find((x) => x.name === target.controlTopic)!.partitions;
        for (let p = 0; p < partitions; p += 1) {
          marks.push(controlRecord(target.controlTopic, p, { kind: 'watermark', from: task.id, watermark: t.wm, fence: fenceFor(t, out.topic, p), idle: t.idle }));
        }
      }
      t = { ...t, sentWm: t.wm, sentIdle: t.idle, sentAt: t.now };
    }
    return { records: marks, extra: { ...ckpt.extra, time: t } };
  };

  const stateWrites = [...(cache ? cache.changes() : []), ...timers.writes()];
  const report = { ...base, processed: fresh.length - ignoredControl, outputs: graph.outputs.length, deadLetters: graph.deadLetters.length, timersFired, watermark: time.wm };
  const nothingToCommit =
    kind === 'control' &&
    graph.outputs.length === 0 &&
    graph.deadLetters.length === 0 &&
    stateWrites.length === 0 &&
    sameTime(time, time0) &&
    !(downstreamNeedsTime && shouldSend(time, time.now, interval));
  if (nothingToCommit) {
    // Ticks and repeated marks that change nothing cost one checkpoint read and no write.
    if (cache) deps.warm.set(task.id, { version: ckpt.version, cache });
    return { ...report, seq: undefined };
  }

  const committed = await commitBatch(deps, task, ckpt, {
    outputs: graph.outputs,
    deadLetters: graph.deadLetters,
    deadLetterTopic: stage.deadLetterTopic,
    stage: stage.name,
    nextOffset,
    state: stateWrites,
    extra: { ...ckpt.extra, time },
    // Marks need this batch's output offsets (a second send); stages whose downstream has no event time skip it.
    ...(downstreamNeedsTime ? { finish } : {}),
    txnId,
  });
  if (cache) cache.markCommitted();
  deps.warm.set(task.id, { version: committed.version, cache });
  return { ...report, seq: committed.seq };
}

/** Whether two time states differ only in processing time (not worth a checkpoint write). */
function sameTime(a: TimeState, b: TimeState): boolean {
  return JSON.stringify({ ...a, now: 0 }) === JSON.stringify({ ...b, now: 0 });
}

function dedupeTimers(timers: readonly TimerEntry[]): TimerEntry[] {
  const seen = new Map<string, TimerEntry>();
  for (const t of timers) seen.set(`${t.kind}\u0000${t.time}\u0000${t.key.toString('base64')}\u0000${t.name}`, t);
  return [...seen.values()].sort((a, b) => a.time - b.time);
}
