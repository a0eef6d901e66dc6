/**
 * When a task needs a processing-time tick, as pure functions of its last committed event time.
 * A tick changes something for a task only when
 *  - a source task that is not idle reaches its idle deadline (last data, or its first run when it
 *    never had data, + idleTimeout), or a source task never ran (its idle clock starts then);
 *  - its earliest processing-time timer is due (`procDue`, kept in the checkpoint after each batch);
 *  - under interval marks, a throttled mark waits for its interval to pass.
 * Anything else a tick would do is nothing, and costs an invocation: the ticker (ticker.ts) reads
 * the checkpoints of the tasks listed here and ticks only the control partitions that are due.
 */
import type { TaskRef } from '../commit/ports.js';
import type { Stage, Topology } from '../topology/topology.js';
import { eventTimeDownstream, taskIdOf } from '../topology/names.js';
import { markFlushDue, markPolicyOf } from './mark-policy.js';
import { MIN_WATERMARK } from './control.js';
import type { TimeState } from './watermark.js';

/** A control partition the ticker may tick, and the tasks it wakes (a control partition q wakes every input's task q). */
export interface TickTarget {
  readonly stage: Stage;
  readonly partition: number;
  readonly tasks: readonly TaskRef[];
}

/** Whether a stage reads a source topic. */
export function isSourceStage(stage: Stage): boolean {
  return stage.inputs.some((i) => i.kind === 'source');
}

/** Whether a stage's operators can register processing-time timers (early firings every D, process functions with onTimer; never joins). */
export function hasProcessingTimers(topology: Topology, stage: Stage): boolean {
  return stage.nodes.some((id) => {
    const node = topology.nodes.get(id)!;
    if (node.kind === 'process') return node.onTimer !== undefined;
    // Interval and window joins act on event time only; stream-table joins on no time at all.
    if (node.kind === 'join') return false;
    if (node.kind !== 'window') return false;
    const a = node.spec.assigner;
    if (a.kind === 'global') return a.trigger.kind === 'event-time' && a.trigger.earlyEveryMs !== undefined;
    return node.spec.trigger?.early?.everyMs !== undefined;
  });
}

/** Whether a source stage's idleness and marks matter: some stage after it needs event time. */
function marksMatter(topology: Topology, stage: Stage): boolean {
  return eventTimeDownstream(topology, stage.name).length > 0;
}

/** Stages the ticker may have to wake: sources whose marks matter (idleness, throttled marks) and stages with processing-time timers. */
export function tickedStages(topology: Topology): Stage[] {
  return topology.stages.filter((s) => (isSourceStage(s) && marksMatter(topology, s)) || hasProcessingTimers(topology, s));
}

/** Every control partition of the ticked stages, with its tasks. */
export function tickTargets(topology: Topology): TickTarget[] {
  const out: TickTarget[] = [];
  for (const stage of tickedStages(topology)) {
    const partitions = topology.topics.find((t) => t.name === stage.controlTopic)!.partitions;
    for (let p = 0; p < partitions; p += 1) {
      const tasks = stage.inputs
        .filter((i) => p < i.partitions)
        .map((i) => ({ app: topology.app, stage: stage.name, topic: i.topic, partition: p, id: taskIdOf(stage.name, stage.inputs.length, i.topic, p) }));
      if (tasks.length > 0) out.push({ stage, partition: p, tasks });
    }
  }
  return out;
}

/**
 * The processing time from which a tick changes something for a task of `stage` whose last
 * committed event time is `time` (undefined: the task never ran); undefined when no tick would.
 */
export function dueAt(topology: Topology, stage: Stage, time: TimeState | undefined): number | undefined {
  const marks = marksMatter(topology, stage);
  const source = isSourceStage(stage) && marks;
  if (!time) return source ? MIN_WATERMARK : undefined;
  const due: number[] = [];
  if (time.procDue !== null) due.push(time.procDue);
  if (source && !time.idle) due.push((time.lastDataAt === MIN_WATERMARK ? time.since : time.lastDataAt) + topology.settings.idleTimeoutMs);
  if (marks) {
    const flush = markFlushDue(markPolicyOf(topology, stage), time);
    if (flush !== undefined) due.push(flush);
  }
  return due.length === 0 ? undefined : Math.min(...due);
}

/** The targets to tick at `now`, given the tasks' last committed event times (absent: never ran). */
export function dueTargets(topology: Topology, targets: readonly TickTarget[], times: ReadonlyMap<string, TimeState>, now: number): TickTarget[] {
  return targets.filter((t) =>
    t.tasks.some((task) => {
      const at = dueAt(topology, t.stage, times.get(task.id));
      return at !== undefined && at <= now;
    }),
  );
}
