/**
 * What the stage handler measures about an invocation beyond its counts, from its tasks' reports
 * (pure): the longest commit (CommitDuration), how far event time trails the wall clock
 * (WatermarkLag), and the user metrics of every batch merged.
 */
import type { InvocationReport } from '../runtime/handler.js';
import { MIN_WATERMARK } from '../time/control.js';
import type { InvocationExtras } from './metrics.js';
import { mergeUserMetrics } from './user-metrics.js';

/** The measured extras of a successful invocation that ended at `at` (epoch ms); a field is absent when nothing measured it. */
export function invocationMeasures(report: InvocationReport, at: number): Pick<InvocationExtras, 'commitMs' | 'watermarkLagMs' | 'userMetrics'> {
  const commits = report.tasks.flatMap((t) => (t.commitMs === undefined ? [] : [t.commitMs]));
  // Tasks that know no watermark yet (no data, no mark from upstream) say nothing about lag.
  const watermarks = report.tasks.map((t) => t.watermark).filter((wm) => wm > MIN_WATERMARK);
  const userMetrics = mergeUserMetrics(report.tasks.map((t) => t.metrics));
  return {
    ...(commits.length > 0 ? { commitMs: Math.max(...commits) } : {}),
    ...(watermarks.length > 0 ? { watermarkLagMs: Math.max(0, at - Math.min(...watermarks)) } : {}),
    ...(userMetrics ? { userMetrics } : {}),
  };
}
