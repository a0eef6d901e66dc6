/**
 * When a task sends watermark marks downstream, as pure functions of the compiled topology.
 *
 * A downstream stage acts on its watermark only at points it knows at compile time when every
 * event-time operator of it and of the stages after it is a tumbling, sliding or global window:
 * a window fires when the watermark reaches its maxTimestamp (end − 1) and drops its state (and
 * starts sending records to the late topic) when it reaches the cleanup time (maxTimestamp +
 * allowed lateness). Those points repeat with the window's slide. A mark sent whenever the
 * watermark crosses one of them, with the watermark itself, leaves every downstream decision
 * exactly as a mark after every batch would (for each point g: downstream watermark ≥ g ⟺
 * upstream watermark ≥ g, at the same data position), so results do not change; between points
 * nobody wakes.
 *
 * Joins are classified the same way: a tumbling or sliding window join acts at its windows' points;
 * a session window join and an interval join (a record leaves state at its own time + a bound) at
 * points of the data; a stream-table join never reads the watermark. A stage that only writes a
 * table's changes downstream takes no part in the watermark there (names.ts feedsEventTime).
 *
 * Sessions and process functions act at points that depend on data (a session's end is its last
 * record's time + gap; a process function registers timers and reads the watermark), which an
 * upstream task cannot know: another upstream task's record may have set it. A stage whose
 * downstream has one falls back to interval marks (`watermarkInterval` at sources, every change
 * downstream), as does a pipeline with `marks: 'interval'`. docs/event-time.md explains the choice.
 */
import type { Stage, Topology } from '../topology/topology.js';
import { eventTimeDownstream } from '../topology/names.js';
import { cleanupTime, type WindowPlacement } from './window-operator.js';
import type { TimeState } from './watermark.js';

/** The points offset + k·period (all integers k); 0 ≤ offset < period. */
export interface Progression {
  readonly period: number;
  readonly offset: number;
}

/** How a stage's tasks decide to send marks. */
export type MarkPolicy =
  /** On crossing one of `points` (none: only changes of idleness), and on a change of idleness. */
  | { readonly kind: 'boundaries'; readonly points: readonly Progression[] }
  /** On a change of idleness at once; on a watermark change at most every `intervalMs`. */
  | { readonly kind: 'interval'; readonly intervalMs: number; readonly reason: string };

const cache = new WeakMap<Topology, Map<string, MarkPolicy>>();

/** The mark policy of `stage`'s tasks (computed once per topology). */
export function markPolicyOf(topology: Topology, stage: Stage): MarkPolicy {
  let byStage = cache.get(topology);
  if (!byStage) cache.set(topology, (byStage = new Map()));
  let policy = byStage.get(stage.name);
  if (!policy) byStage.set(stage.name, (policy = computePolicy(topology, stage)));
  return policy;
}

function computePolicy(topology: Topology, stage: Stage): MarkPolicy {
  const source = stage.inputs.some((i) => i.kind === 'source');
  const interval = (reason: string): MarkPolicy => ({ kind: 'interval', intervalMs: source ? topology.settings.watermarkIntervalMs : 0, reason });
  if (topology.settings.marks === 'interval') return interval('the pipeline asks for interval marks');
  const points: Progression[] = [];
  for (const name of downstreamClosure(topology, stage)) {
    const s = topology.stages.find((x) => x.name === name)!;
    for (const id of s.nodes) {
      const node = topology.nodes.get(id)!;
      if (node.kind === 'process') return interval(`stage ${s.name} has a process function (its timers and watermark reads are not known in advance)`);
      let placement: WindowPlacement;
      if (node.kind === 'window') {
        placement = node.spec;
      } else if (node.kind === 'join') {
        const { spec } = node;
        // A stream-table join is in processing order: the watermark changes nothing there.
        if (spec.kind === 'table') continue;
        // Each buffered record leaves at its own time + a bound: a point of the data, as a session's end is.
        if (spec.kind === 'interval') return interval(`stage ${s.name} has an interval join (its records leave state at times that depend on the data)`);
        placement = spec;
      } else {
        continue;
      }
      const { assigner } = placement;
      if (assigner.kind === 'session') return interval(`stage ${s.name} has session windows (their ends depend on the data)`);
      if (assigner.kind === 'global') continue; // never ends: the watermark changes nothing
      const period = assigner.kind === 'tumbling' ? assigner.sizeMs : assigner.slideMs;
      // Windows [k·period + offset, k·period + offset + size): maxTimestamp and cleanup time of the one at k = 0.
      const first = { start: assigner.offsetMs, end: assigner.offsetMs + assigner.sizeMs };
      for (const point of [first.end - 1, cleanupTime(placement, first)]) addPoint(points, { period, offset: mod(point, period) });
    }
  }
  return { kind: 'boundaries', points };
}

/** Stages after `stage` (transitively) that need event time and whose watermark it takes part in. */
function downstreamClosure(topology: Topology, stage: Stage): string[] {
  const seen = new Set<string>();
  const visit = (name: string): void => {
    for (const d of eventTimeDownstream(topology, name)) {
      if (seen.has(d)) continue;
      seen.add(d);
      visit(d);
    }
  };
  visit(stage.name);
  return [...seen];
}

function addPoint(points: Progression[], p: Progression): void {
  if (!points.some((q) => q.period === p.period && q.offset === p.offset)) points.push(p);
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

/** Whether some point of `points` lies in (from, to]. */
export function crossesPoint(points: readonly Progression[], from: number, to: number): boolean {
  if (to <= from) return false;
  return points.some((p) => Math.floor((to - p.offset) / p.period) > Math.floor((from - p.offset) / p.period));
}

/** Whether a task whose event time is `s` sends marks now (processing time `now`). */
export function shouldSendMarks(policy: MarkPolicy, s: TimeState, now: number): boolean {
  if (s.idle !== s.sentIdle) return true;
  if (s.wm === s.sentWm) return false;
  if (policy.kind === 'boundaries') return crossesPoint(policy.points, s.sentWm, s.wm);
  return now - s.sentAt >= policy.intervalMs;
}

/** When a task's throttled mark is due to be flushed by a tick (interval marks only); undefined when none waits. */
export function markFlushDue(policy: MarkPolicy, s: TimeState): number | undefined {
  if (policy.kind !== 'interval' || s.wm === s.sentWm) return undefined;
  return s.sentAt + policy.intervalMs;
}
