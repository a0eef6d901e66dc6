/**
 * Latency figures from what the observers saw (pure).
 *
 * - Stateless stage: per output record, the time it became visible to a read_committed reader
 *   minus the append time (producer CreateTime) of the input event it came from.
 * - Windowed count: per (window, campaign) result, the time its final count became visible minus
 *   the append time of the last view it counts (end to end). "Stage-added" subtracts what the
 *   semantics make any engine wait for: with event time and a watermark of max − out-of-orderness,
 *   a window can close only once every source partition has seen an event past its end plus the
 *   out-of-orderness (the close time computed here); an engine that emits running counts
 *   (Kafka Streams) can show the final count as soon as the last view arrived.
 *
 * Only windows that the stream itself closes count: the generator's end-of-stream events close
 * the last windows at once, which a live stream would not do.
 */
import { windowStartOf } from '../functions/ysb/oracle.js';

/** One source event as appended. */
export interface SourceEvent {
  readonly partition: number;
  /** Producer CreateTime, epoch ms. */
  readonly appendTime: number;
  readonly eventTime: number;
  readonly adId: string;
  /** The campaign of a view; undefined for other events. */
  readonly viewOf: string | undefined;
  readonly endOfStream: boolean;
}

/** Distribution of a latency, ms. */
export interface LatencyStats {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentiles; undefined without samples. */
export function summarize(samples: readonly number[]): LatencyStats | undefined {
  if (samples.length === 0) return undefined;
  const s = [...samples].sort((a, b) => a - b);
  const rank = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  return { n: s.length, p50: rank(50), p95: rank(95), p99: rank(99), max: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/** An output of the stateless stage as observed. */
export interface ObservedView {
  readonly adId: string;
  readonly eventTime: number;
  readonly visibleAt: number;
}

/** Per output: visible − append time of its input (matched by ad and event time, oldest first). */
export function statelessLatencies(sources: readonly SourceEvent[], outputs: readonly ObservedView[]): { latencies: number[]; unmatched: number } {
  const waiting = new Map<string, number[]>();
  for (const e of [...sources].sort((a, b) => a.appendTime - b.appendTime)) {
    if (e.viewOf === undefined) continue;
    const k = `${e.adId}|${e.eventTime}`;
    const list = waiting.get(k);
    if (list) list.push(e.appendTime);
    else waiting.set(k, [e.appendTime]);
  }
  const latencies: number[] = [];
  let unmatched = 0;
  for (const o of [...outputs].sort((a, b) => a.visibleAt - b.visibleAt)) {
    const append = waiting.get(`${o.adId}|${o.eventTime}`)?.shift();
    if (append === undefined) unmatched += 1;
    else latencies.push(o.visibleAt - append);
  }
  return { latencies, unmatched };
}

/** Key of a (window, campaign) pair. */
export function pairKey(windowStart: number, campaign: string): string {
  return `${windowStart}|${campaign}`;
}

/**
 * For each window with views, the append time at which the minimum over source partitions of
 * (max event time seen − out-of-orderness) first reached its last millisecond, counting only
 * regular events (not end-of-stream ones). Windows the stream never closed are absent.
 */
export function windowCloseTimes(sources: readonly SourceEvent[], partitions: number, windowMs: number, outOfOrdernessMs: number): Map<number, number> {
  const starts = [...new Set(sources.filter((e) => e.viewOf !== undefined && !e.endOfStream).map((e) => windowStartOf(e.eventTime, windowMs)))].sort((a, b) => a - b);
  const maxSeen = new Map<number, number>();
  const closed = new Map<number, number>();
  let next = 0;
  for (const e of [...sources].sort((a, b) => a.appendTime - b.appendTime)) {
    if (e.endOfStream) continue;
    maxSeen.set(e.partition, Math.max(maxSeen.get(e.partition) ?? Number.NEGATIVE_INFINITY, e.eventTime));
    if (maxSeen.size < partitions) continue;
    const watermark = Math.min(...maxSeen.values()) - outOfOrdernessMs;
    while (next < starts.length && starts[next]! + windowMs - 1 <= watermark) {
      closed.set(starts[next]!, e.appendTime);
      next += 1;
    }
  }
  return closed;
}

/** Latencies of window results. */
export interface WindowLatencies {
  readonly endToEnd: number[];
  readonly stageAdded: number[];
  /** Windows closed by the stream itself (the ones measured). */
  readonly windows: number;
  /** Pairs of those windows without a visible correct result (should be 0 once verified). */
  readonly missing: number;
}

/**
 * `firstCorrect`: per pair, when its final count first became visible. `semantics`: `watermark`
 * (results once event time passes the window) or `running` (counts emitted as they change).
 */
export function windowLatencies(
  sources: readonly SourceEvent[],
  firstCorrect: ReadonlyMap<string, number>,
  o: { readonly windowMs: number; readonly outOfOrdernessMs: number; readonly partitions: number; readonly semantics: 'watermark' | 'running' },
): WindowLatencies {
  const closes = windowCloseTimes(sources, o.partitions, o.windowMs, o.outOfOrdernessMs);
  const lastView = new Map<string, number>();
  for (const e of sources) {
    if (e.viewOf === undefined || e.endOfStream) continue;
    const k = pairKey(windowStartOf(e.eventTime, o.windowMs), e.viewOf);
    lastView.set(k, Math.max(lastView.get(k) ?? Number.NEGATIVE_INFINITY, e.appendTime));
  }
  const endToEnd: number[] = [];
  const stageAdded: number[] = [];
  let missing = 0;
  for (const [k, last] of lastView) {
    const close = closes.get(Number(k.slice(0, k.indexOf('|'))));
    if (close === undefined) continue;
    const visible = firstCorrect.get(k);
    if (visible === undefined) {
      missing += 1;
      continue;
    }
    endToEnd.push(visible - last);
    stageAdded.push(visible - (o.semantics === 'watermark' ? Math.max(last, close) : last));
  }
  return { endToEnd, stageAdded, windows: closes.size, missing };
}
