/**
 * A local metrics sink: sums the figures of every invocation per stage in memory, so the
 * emulator's status line (and later `sluice dev --ui`) shows the same numbers CloudWatch would.
 */
import type { EmfDocument, InvocationFigures, MetricsSink } from './metrics.js';

/** Running totals of one stage. */
export interface StageTotals {
  readonly app: string;
  readonly stage: string;
  invocations: number;
  failures: number;
  recordsIn: number;
  controlRecordsIn: number;
  recordsProcessed: number;
  recordsOut: number;
  deadLettered: number;
  duplicatesSkipped: number;
  timersFired: number;
  recoveries: number;
  batchesCommitted: number;
  /** Sum of invocation durations, ms (mean = totalDurationMs / invocations). */
  totalDurationMs: number;
  maxDurationMs: number;
  /** Latest watermark lag reported, ms (reserved for event time). */
  watermarkLagMs: number | undefined;
  /** Epoch ms of the latest invocation. */
  lastAt: number;
}

/** Sums invocation figures per stage; a MetricsSink. */
export class MetricsAggregator implements MetricsSink {
  private readonly stages = new Map<string, StageTotals>();

  /** Adds one invocation's figures. */
  record(f: InvocationFigures, _emf?: EmfDocument): void {
    const id = `${f.app}\u0000${f.stage}`;
    let t = this.stages.get(id);
    if (!t) {
      t = {
        app: f.app,
        stage: f.stage,
        invocations: 0,
        failures: 0,
        recordsIn: 0,
        controlRecordsIn: 0,
        recordsProcessed: 0,
        recordsOut: 0,
        deadLettered: 0,
        duplicatesSkipped: 0,
        timersFired: 0,
        recoveries: 0,
        batchesCommitted: 0,
        totalDurationMs: 0,
        maxDurationMs: 0,
        watermarkLagMs: undefined,
        lastAt: 0,
      };
      this.stages.set(id, t);
    }
    t.invocations += 1;
    if (!f.ok) t.failures += 1;
    t.recordsIn += f.recordsIn;
    t.controlRecordsIn += f.controlRecordsIn;
    t.recordsProcessed += f.recordsProcessed;
    t.recordsOut += f.recordsOut;
    t.deadLettered += f.deadLettered;
    t.duplicatesSkipped += f.duplicatesSkipped;
    t.timersFired += f.timersFired;
    t.recoveries += f.recoveries;
    t.batchesCommitted += f.batchesCommitted;
    t.totalDurationMs += f.durationMs;
    t.maxDurationMs = Math.max(t.maxDurationMs, f.durationMs);
    if (f.watermarkLagMs !== undefined) t.watermarkLagMs = f.watermarkLagMs;
    t.lastAt = Math.max(t.lastAt, f.at);
  }

  /** Copies of the totals, one per stage, in the order stages were first seen. */
  snapshot(): StageTotals[] {
    return [...this.stages.values()].map((t) => ({ ...t }));
  }

  /** One compact line for a terminal status bar, e.g. `enrich 120→98 dlq 2 dup 0 fail 0 12ms | sessions …`. */
  statusLine(): string {
    return this.snapshot().map(formatTotals).join(' | ');
  }

  /** Forgets everything. */
  reset(): void {
    this.stages.clear();
  }
}

/** One stage's totals as a short status fragment. */
export function formatTotals(t: StageTotals): string {
  const mean = t.invocations === 0 ? 0 : Math.round(t.totalDurationMs / t.invocations);
  const parts = [`${t.stage} ${t.recordsIn}→${t.recordsOut}`, `dlq ${t.deadLettered}`, `dup ${t.duplicatesSkipped}`, `fail ${t.failures}`, `${mean}ms`];
  if (t.timersFired > 0) parts.push(`timers ${t.timersFired}`);
  if (t.recoveries > 0) parts.push(`recovered ${t.recoveries}`);
  if (t.watermarkLagMs !== undefined) parts.push(`wm lag ${t.watermarkLagMs}ms`);
  return parts.join(' ');
}
