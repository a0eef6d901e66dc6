/**
 * What a configuration wrote, as the sink observer saw it, split into the benchmark's phases by
 * event time (drain: the backlog, long ago; live: now; bottom: the burst, idle and low-rate phases
 * that follow the live one), and the checks against the oracle.
 *
 *  - Stateless stage: the outputs must be exactly the backlog's (or live stream's) views, each
 *    once, keyed by campaign; their counts per (window, campaign) must equal the oracle's.
 *  - YSB: `verifyCounts` of functions/ysb/oracle.ts. Kafka Streams emits running counts, so its
 *    updates per pair must not decrease and the last one is the count that is checked.
 *
 * Exactly-once configurations must match exactly, as a read_committed reader sees them. An
 * at-least-once configuration is held to its own contract: a reader drops records whose Sluice
 * provenance (task, seq, idx) it has already seen (the documented way to dedupe); then nothing
 * may be missing and nothing may be wrong, but repeats are allowed: outputs of a retried batch
 * re-sent under a new provenance ("repeated"), or records that reached a window twice (window
 * counts above the oracle's, "over"). Both are reported, not hidden.
 */
import type { Observed } from './observer.js';
import { campaignOf } from '../functions/ysb/campaigns.js';
import { generateEvents, type GeneratorOptions } from '../functions/ysb/generator.js';
import { verifyCounts, windowStartOf, type Verification, type WindowCounts } from '../functions/ysb/oracle.js';
import type { CampaignCount, CampaignView } from '../functions/ysb/pipeline.js';
import { WINDOW_MS } from '../functions/ysb/pipeline.js';
import { pairKey } from './latency.js';

/** The benchmark's phases, as far as outputs go: `bottom` is the burst before the idle phase and the low-rate phase after it. */
export type Phase = 'drain' | 'live' | 'bottom';

/** An output of the stateless stage. */
export interface ViewOutput {
  readonly key: string | undefined;
  readonly view: CampaignView;
  readonly visibleAt: number;
  readonly partition: number;
}

/** A window result (Sluice: one per firing; Kafka Streams: one per update). */
export interface CountOutput {
  readonly result: CampaignCount;
  readonly key: string | undefined;
  readonly visibleAt: number;
  readonly partition: number;
  readonly offset: number;
}

/** Collects a sink's outputs and says when a phase is complete. */
export class SinkLog {
  readonly views: Record<Phase, ViewOutput[]> = { drain: [], live: [], bottom: [] };
  readonly counts: Record<Phase, CountOutput[]> = { drain: [], live: [], bottom: [] };
  /** Records that do not parse. */
  readonly malformed: string[] = [];
  /** Records dropped because their provenance was seen before (at-least-once only). */
  duplicates = 0;
  private readonly seen = new Set<string>();
  private readonly expected: Partial<Record<Phase, Map<string, number>>> = {};
  private readonly correct: Record<Phase, Map<string, number>> = { drain: new Map(), live: new Map(), bottom: new Map() };
  /** Event times from here on belong to the bottom phases (set when they start). */
  private bottomSplit = Number.POSITIVE_INFINITY;
  private expectedViews: Partial<Record<Phase, number>> = {};
  private waiters = new Set<() => void>();

  /** `split`: event times before it belong to the drain phase; `atLeastOnce`: dedupe by provenance, counts may exceed the oracle's. */
  constructor(
    readonly kind: 'views' | 'counts',
    private readonly split: number,
    readonly atLeastOnce = false,
  ) {}

  /** Takes in observed records. */
  add(records: readonly Observed[]): void {
    for (const r of records) {
      if (this.atLeastOnce && r.provenance !== undefined) {
        if (this.seen.has(r.provenance)) {
          this.duplicates += 1;
          continue;
        }
        this.seen.add(r.provenance);
      }
      const text = r.value?.toString('utf8') ?? '';
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        this.malformed.push(text.slice(0, 200));
        continue;
      }
      const key = r.key?.toString('utf8');
      if (this.kind === 'views') {
        const view = parsed as CampaignView;
        this.views[this.phaseOf(view.event_time)].push({ key, view, visibleAt: r.visibleAt, partition: r.partition });
      } else {
        const result = parsed as CampaignCount;
        const phase = this.phaseOf(result.window?.start ?? 0);
        this.counts[phase].push({ result, key, visibleAt: r.visibleAt, partition: r.partition, offset: r.offset });
        this.noteCorrect(phase, result, r.visibleAt);
      }
    }
    for (const w of [...this.waiters]) w();
  }

  /** Sets what a phase must produce: the number of views, or the oracle's counts. */
  expect(phase: Phase, expected: { views: number } | { counts: WindowCounts }): void {
    if ('views' in expected) this.expectedViews[phase] = expected.views;
    else {
      const map = new Map<string, number>();
      for (const [start, byCampaign] of expected.counts) for (const [campaign, n] of byCampaign) map.set(pairKey(start, campaign), n);
      this.expected[phase] = map;
      for (const c of this.counts[phase]) this.noteCorrect(phase, c.result, c.visibleAt);
    }
    for (const w of [...this.waiters]) w();
  }

  /** How far a phase is: [done, of]. */
  progress(phase: Phase): [number, number | undefined] {
    if (this.kind === 'views') return [this.views[phase].length, this.expectedViews[phase]];
    return [this.correct[phase].size, this.expected[phase]?.size];
  }

  /** Whether every expected output of the phase is visible. */
  complete(phase: Phase): boolean {
    const [done, of] = this.progress(phase);
    return of !== undefined && done >= of;
  }

  /** When the phase became complete: the visible time of its last needed output. */
  completedAt(phase: Phase): number | undefined {
    if (!this.complete(phase)) return undefined;
    if (this.kind === 'views') return Math.max(...this.views[phase].slice(0, this.expectedViews[phase]).map((v) => v.visibleAt));
    return Math.max(...this.correct[phase].values());
  }

  /** Per pair, when its expected count first became visible. */
  firstCorrect(phase: Phase): ReadonlyMap<string, number> {
    return this.correct[phase];
  }

  /**
   * Resolves once `done()` holds; rejects after `timeoutMs`, when `abort()` returns a reason, or
   * when `phase` has made no progress for `stallMs` (outputs that will never be right).
   */
  waitUntil(done: () => boolean, timeoutMs: number, abort: () => string | undefined, phase?: Phase, stallMs = 90_000): Promise<void> {
    let last = phase ? this.progress(phase)[0] : 0;
    let movedAt = Date.now();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        let why = abort();
        if (phase && why === undefined) {
          const [now, of] = this.progress(phase);
          if (now !== last) {
            last = now;
            movedAt = Date.now();
          } else if (of !== undefined && Date.now() - movedAt > stallMs) {
            why = `outputs stuck at ${now} of ${of} for ${Math.round(stallMs / 1000)} s`;
          }
        }
        if (done() || why !== undefined) {
          clearTimeout(timer);
          clearInterval(poll);
          this.waiters.delete(check);
          if (why !== undefined && !done()) reject(new Error(why));
          else resolve();
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        clearInterval(poll);
        reject(new Error(`outputs incomplete after ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      // Also look now and then: a processor failure produces no records to wake us.
      const poll = setInterval(check, 500);
      this.waiters.add(check);
      check();
    });
  }

  /** Outputs with event times (window starts) from `at` on belong to the bottom phases; call before they start. */
  splitBottom(at: number): void {
    this.bottomSplit = at;
  }

  private phaseOf(eventTime: number): Phase {
    return eventTime < this.split ? 'drain' : eventTime < this.bottomSplit ? 'live' : 'bottom';
  }

  private noteCorrect(phase: Phase, r: CampaignCount, at: number): void {
    const k = pairKey(r.window?.start ?? 0, r.key);
    const want = this.expected[phase]?.get(k);
    if (want === undefined || (this.atLeastOnce ? r.value < want : r.value !== want)) return;
    const seen = this.correct[phase].get(k);
    if (seen === undefined || at < seen) this.correct[phase].set(k, at);
  }
}

/** The outcome of checking one phase. */
export interface PhaseCheck {
  readonly ok: boolean;
  /** Outputs checked (view records, or window results after reducing updates). */
  readonly outputs: number;
  readonly expected: number;
  readonly problems: readonly string[];
  /** At-least-once: records dropped as already seen by provenance (whole run), repeats left after that, window counts above the oracle's. */
  readonly duplicates?: number;
  readonly repeated?: number;
  readonly overCounted?: number;
}

/** The views a generator run wrote, as the stateless stage must output them, counted by `ad|time|campaign`. */
export function expectedViews(options: GeneratorOptions & { readonly startTime: number }): Map<string, number> {
  const out = new Map<string, number>();
  for (const g of generateEvents(options)) {
    if (g.endOfStream || g.event.event_type !== 'view') continue;
    const campaign = campaignOf(g.event.ad_id);
    if (campaign === undefined) continue;
    const k = `${g.event.ad_id}|${g.event.event_time}|${campaign}`;
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

/**
 * Checks stateless outputs: exactly the expected views, each once, keyed by campaign, and the
 * oracle's counts. `atLeastOnce`: repeats of expected views are counted as duplicates, not errors.
 */
export function checkViews(outputs: readonly ViewOutput[], expected: ReadonlyMap<string, number>, oracle: WindowCounts, atLeastOnce = false): PhaseCheck {
  const problems: string[] = [];
  const left = new Map(expected);
  let extra = 0;
  let repeated = 0;
  let badKey = 0;
  const counts: WindowCounts = new Map();
  for (const o of outputs) {
    const k = `${o.view.ad_id}|${o.view.event_time}|${o.view.campaign_id}`;
    const n = left.get(k) ?? 0;
    if (n === 0 && atLeastOnce && expected.has(k)) repeated += 1;
    else if (n === 0) extra += 1;
    else if (n === 1) left.delete(k);
    else left.set(k, n - 1);
    if (o.key !== o.view.campaign_id) badKey += 1;
    const w = windowStartOf(o.view.event_time, WINDOW_MS);
    let m = counts.get(w);
    if (!m) counts.set(w, (m = new Map()));
    m.set(o.view.campaign_id, (m.get(o.view.campaign_id) ?? 0) + 1);
  }
  const missing = [...left.values()].reduce((a, b) => a + b, 0);
  const want = [...expected.values()].reduce((a, b) => a + b, 0);
  if (missing > 0) problems.push(`${missing} of ${want} views missing`);
  if (extra > 0) problems.push(`${extra} outputs not expected (duplicates or wrong values)`);
  if (badKey > 0) problems.push(`${badKey} outputs not keyed by their campaign`);
  let pairs = 0;
  let wrongPairs = 0;
  for (const [w, byCampaign] of oracle) {
    for (const [campaign, n] of byCampaign) {
      pairs += 1;
      if (counts.get(w)?.get(campaign) !== n) wrongPairs += 1;
    }
  }
  const gotPairs = [...counts.values()].reduce((a, m) => a + m.size, 0);
  if (!atLeastOnce && (wrongPairs > 0 || gotPairs !== pairs)) problems.push(`counts per (window, campaign) differ from the oracle's: ${wrongPairs} of ${pairs} wrong, ${gotPairs} pairs seen`);
  return { ok: problems.length === 0, outputs: outputs.length, expected: want, problems, ...(atLeastOnce ? { repeated } : {}) };
}

/** At-least-once: every expected (window, campaign) has a result, none below the oracle's count; counts above it are reported. */
export function checkCountsAtLeastOnce(outputs: readonly CountOutput[], oracle: WindowCounts, late: readonly CampaignView[]): PhaseCheck & { readonly overCounted: number } {
  const problems: string[] = [];
  const last = new Map<string, CampaignCount>();
  for (const o of [...outputs].sort((a, b) => a.partition - b.partition || a.offset - b.offset)) last.set(pairKey(o.result.window.start, o.result.key), o.result);
  const lateBy = new Map<string, number>();
  for (const v of late) {
    const k = pairKey(windowStartOf(v.event_time, WINDOW_MS), v.campaign_id);
    lateBy.set(k, (lateBy.get(k) ?? 0) + 1);
  }
  let expected = 0;
  let over = 0;
  for (const [w, byCampaign] of oracle) {
    for (const [campaign, want] of byCampaign) {
      expected += 1;
      const k = pairKey(w, campaign);
      const got = (last.get(k)?.value ?? 0) + (lateBy.get(k) ?? 0);
      if (!last.has(k) && !lateBy.has(k)) problems.push(`window ${new Date(w).toISOString()} campaign ${campaign}: no result (expected ${want})`);
      else if (got < want) problems.push(`window ${new Date(w).toISOString()} campaign ${campaign}: counted ${got}, expected ${want}: views lost`);
      else if (got > want) over += 1;
      last.delete(k);
    }
  }
  for (const k of last.keys()) problems.push(`result for ${k}, which has no views`);
  return { ok: problems.length === 0, outputs: outputs.length, expected, problems: problems.slice(0, 20), overCounted: over };
}

/** Checks window results with the oracle; `running`: reduce Kafka Streams' updates to the last per pair first. */
export function checkCounts(outputs: readonly CountOutput[], oracle: WindowCounts, late: readonly CampaignView[], running: boolean): PhaseCheck & { readonly verification: Verification } {
  const problems: string[] = [];
  // Per partition in offset order: the order a reader sees them in.
  const ordered = [...outputs].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  for (const o of ordered) if (o.key !== o.result.key) problems.push(`result for ${o.result.key} keyed ${o.key}`);
  let results: CampaignCount[] = ordered.map((o) => o.result);
  if (running) {
    const last = new Map<string, CampaignCount>();
    for (const r of results) {
      const k = pairKey(r.window.start, r.key);
      const before = last.get(k);
      if (before && r.value < before.value) problems.push(`count of ${k} went down from ${before.value} to ${r.value}`);
      last.set(k, r);
    }
    results = [...last.values()].map((r) => ({ ...r, firing: 'on-time' as const }));
  }
  const verification = verifyCounts(oracle, results, late);
  for (const f of [...verification.duplicates, ...verification.missing, ...verification.wrong, ...verification.unexpected].slice(0, 10)) {
    problems.push(`window ${new Date(f.windowStart).toISOString()} campaign ${f.campaign}: ${f.message}`);
  }
  if (!verification.ok && problems.length === 0) problems.push('verifyCounts failed');
  return { ok: verification.ok && problems.length === 0, outputs: results.length, expected: verification.expectedCounts, problems: problems.slice(0, 20), verification };
}
