/**
 * The ticker: wakes the tasks that have something due in processing time, and no others. A pass
 * reads the checkpoints of the tasks that may need a tick (due.ts: sources for idleness and
 * throttled marks, stages with processing-time timers), and writes one tick to each control
 * partition that has a task due. A pass with nothing due writes nothing to Kafka (it does not even
 * connect). A run is one pass by default (EventBridge schedules it once a minute); with an
 * interval below its duration it passes every interval until the duration is up, which is how a
 * deployment gets finer idleness and processing-time timers, at the price of the run's duration.
 */
import type { TaskRef } from '../commit/ports.js';
import type { OutgoingRecord } from '../record/record.js';
import type { Topology } from '../topology/topology.js';
import { controlRecord } from './control.js';
import { dueTargets, tickTargets } from './due.js';
import type { TimeState } from './watermark.js';

/** Reads the event time tasks committed last (tasks that never committed are left out). */
export interface TaskTimesReader {
  readTimes(tasks: readonly TaskRef[]): Promise<ReadonlyMap<string, TimeState>>;
}

/** Writes tick records. */
export interface TickWriter {
  write(records: readonly OutgoingRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** Options of a ticker run. */
export interface TickerOptions {
  /** Time between passes; a run of `durationMs` or less makes one pass. */
  readonly intervalMs?: number;
  /** How long to keep passing (default 0: one pass). */
  readonly durationMs?: number;
  readonly now?: () => number;
  /** Stops early when it returns true (e.g. the local emulator shutting down). */
  readonly stopped?: () => boolean;
  /** Given, a failed pass is reported here and the run goes on (the local emulator); absent, the run fails (Lambda retries next schedule). */
  readonly onPassError?: (error: unknown) => void;
  /** Told after every pass (the local emulator counts them). */
  readonly onPass?: (pass: { readonly tasksRead: number; readonly ticks: number }) => void;
}

/** What a run did. */
export interface TickerReport {
  readonly passes: number;
  /** Tasks whose checkpoints were read, over all passes. */
  readonly tasksRead: number;
  /** Tick records written, over all passes. */
  readonly ticks: number;
}

/** The tick records for the targets due at `now` (pure). */
export function dueTicks(topology: Topology, times: ReadonlyMap<string, TimeState>, now: number): OutgoingRecord[] {
  return dueTargets(topology, tickTargets(topology), times, now).map((t) => controlRecord(t.stage.controlTopic, t.partition, { kind: 'tick', tick: now }));
}

/** Runs the ticker: passes every `intervalMs` for `durationMs` (default one pass). */
export async function runTicker(reader: TaskTimesReader, writer: TickWriter, topology: Topology, options: TickerOptions = {}): Promise<TickerReport> {
  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? 0;
  const until = now() + (options.durationMs ?? 0);
  const tasks = tickTargets(topology).flatMap((t) => t.tasks);
  let passes = 0;
  let ticks = 0;
  try {
    for (;;) {
      try {
        const at = now();
        const records = tasks.length === 0 ? [] : dueTicks(topology, await reader.readTimes(tasks), at);
        if (records.length > 0) await writer.write(records);
        passes += 1;
        ticks += records.length;
        options.onPass?.({ tasksRead: tasks.length, ticks: records.length });
      } catch (error) {
        if (!options.onPassError) throw error;
        options.onPassError(error);
      }
      if (interval <= 0 || now() + interval > until || options.stopped?.()) break;
      await new Promise((r) => setTimeout(r, interval));
      if (options.stopped?.()) break;
    }
  } finally {
    await writer.close();
  }
  return { passes, tasksRead: passes * tasks.length, ticks };
}
