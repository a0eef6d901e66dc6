/**
 * The YSB oracle: the exact per-campaign counts of every 10-second window, computed from the
 * generated events alone, and a check of what the pipeline committed against them.
 *
 * It shares only the definition of the benchmark with the pipeline (the campaign table and the
 * window size); it computes windows itself rather than through Sluice's window code, so a bug
 * there cannot hide by agreeing with itself.
 *
 * Records too late for their window are never dropped by Sluice: they go to the stage's late
 * topic. The check therefore holds even for a run with more out-of-orderness than the pipeline
 * allows: for each window and campaign, the last committed count plus the late records must be
 * the oracle's count. (The generator's defaults make no record late, so then the counts alone
 * must match.)
 */
import { campaignOf } from './campaigns.js';
import type { AdEvent, CampaignCount, CampaignView } from './pipeline.js';
import { WINDOW_MS } from './pipeline.js';

/** Counts by window start (epoch ms), then by campaign id. */
export type WindowCounts = Map<number, Map<string, number>>;

/** Accumulates the expected counts event by event (the generator feeds it as it writes). */
export class YsbOracle {
  private readonly counts: WindowCounts = new Map();
  /** Events seen, and how many of them were views. */
  events = 0;
  views = 0;

  constructor(private readonly windowMs: number = WINDOW_MS) {}

  /** Takes one event into account. */
  add(e: AdEvent): void {
    this.events += 1;
    if (e.event_type !== 'view') return;
    this.views += 1;
    const campaign = campaignOf(e.ad_id);
    if (campaign === undefined) return; // dead-lettered by the pipeline: counted nowhere
    bump(this.counts, windowStartOf(e.event_time, this.windowMs), campaign);
  }

  /** The expected counts so far (a copy). */
  expected(): WindowCounts {
    return new Map([...this.counts].map(([w, m]) => [w, new Map(m)]));
  }
}

/** The expected counts of a finite list of events. */
export function expectedCounts(events: Iterable<AdEvent>, windowMs: number = WINDOW_MS): WindowCounts {
  const oracle = new YsbOracle(windowMs);
  for (const e of events) oracle.add(e);
  return oracle.expected();
}

/** Start of the window holding `t`: windows are [k·size, (k+1)·size) of epoch ms. */
export function windowStartOf(t: number, windowMs: number = WINDOW_MS): number {
  return t - (((t % windowMs) + windowMs) % windowMs);
}

/** One difference between what was committed and what the oracle expects. */
export interface Finding {
  readonly windowStart: number;
  readonly campaign: string;
  readonly message: string;
}

/** The outcome of a check. */
export interface Verification {
  /** Windows (by start) that expect at least one count. */
  readonly windows: number;
  /** (window, campaign) pairs the oracle expects. */
  readonly expectedCounts: number;
  /** Window results read from the sink. */
  readonly results: number;
  /** Pairs whose committed count (plus late records) equals the oracle's. */
  readonly matched: number;
  /** Records in the late topic. */
  readonly late: number;
  /** A second result for a pair that nothing (no late record) could have caused. */
  readonly duplicates: readonly Finding[];
  /** Pairs the oracle expects that have neither a result nor late records. */
  readonly missing: readonly Finding[];
  /** Pairs with a result whose value differs from the oracle's. */
  readonly wrong: readonly Finding[];
  /** Results for pairs the oracle does not expect, or malformed ones. */
  readonly unexpected: readonly Finding[];
  readonly ok: boolean;
}

/**
 * Checks the committed window results (in the order they were committed per key: sink partition
 * order) and the late records against the oracle's counts.
 */
export function verifyCounts(
  expected: WindowCounts,
  results: readonly CampaignCount[],
  lateRecords: readonly CampaignView[] = [],
  windowMs: number = WINDOW_MS,
): Verification {
  const byPair = new Map<string, CampaignCount[]>();
  const unexpected: Finding[] = [];
  for (const r of results) {
    if (r.window.end - r.window.start !== windowMs || windowStartOf(r.window.start, windowMs) !== r.window.start) {
      unexpected.push({ windowStart: r.window.start, campaign: r.key, message: `window [${r.window.start}, ${r.window.end}) is not a ${windowMs} ms tumbling window` });
      continue;
    }
    const k = pairKey(r.window.start, r.key);
    byPair.set(k, [...(byPair.get(k) ?? []), r]);
  }
  const late = new Map<string, number>();
  for (const v of lateRecords) {
    const k = pairKey(windowStartOf(v.event_time, windowMs), v.campaign_id);
    late.set(k, (late.get(k) ?? 0) + 1);
  }

  const duplicates: Finding[] = [];
  const missing: Finding[] = [];
  const wrong: Finding[] = [];
  let matched = 0;
  let expectedPairs = 0;
  for (const [windowStart, campaigns] of expected) {
    for (const [campaign, want] of campaigns) {
      expectedPairs += 1;
      const k = pairKey(windowStart, campaign);
      const got = byPair.get(k) ?? [];
      byPair.delete(k);
      const lateCount = late.get(k) ?? 0;
      const at = { windowStart, campaign };
      if (got.length === 0) {
        if (lateCount === want) matched += 1;
        else missing.push({ ...at, message: `expected ${want} views, found no result${lateCount > 0 ? ` (and ${lateCount} late records)` : ''}` });
        continue;
      }
      // One on-time firing, then one late firing per late record that allowed lateness let in,
      // each counting more than the one before. Anything else is a repeat.
      const onTime = got.filter((r) => r.firing === 'on-time').length;
      if (onTime !== 1 || got[0]!.firing !== 'on-time') {
        duplicates.push({ ...at, message: `${onTime} on-time results (${got.map((r) => `${r.firing}=${r.value}`).join(', ')})` });
      }
      for (let i = 1; i < got.length; i += 1) {
        if (got[i]!.firing === 'late' && got[i]!.value <= got[i - 1]!.value) {
          duplicates.push({ ...at, message: `late result ${got[i]!.value} does not count more than the one before (${got[i - 1]!.value})` });
        }
      }
      const final = got[got.length - 1]!.value + lateCount;
      if (final === want) matched += 1;
      else wrong.push({ ...at, message: `counted ${got[got.length - 1]!.value}${lateCount > 0 ? ` + ${lateCount} late` : ''}, expected ${want}` });
    }
  }
  for (const [k, got] of byPair) {
    const [windowStart, campaign] = splitPair(k);
    unexpected.push({ windowStart, campaign, message: `${got.length} result(s) (${got.map((r) => r.value).join(', ')}) for a window and campaign with no views` });
  }
  const lateTotal = lateRecords.length;
  return {
    windows: expected.size,
    expectedCounts: expectedPairs,
    results: results.length,
    matched,
    late: lateTotal,
    duplicates,
    missing,
    wrong,
    unexpected,
    ok: duplicates.length === 0 && missing.length === 0 && wrong.length === 0 && unexpected.length === 0 && matched === expectedPairs,
  };
}

function bump(counts: WindowCounts, windowStart: number, campaign: string): void {
  let m = counts.get(windowStart);
  if (!m) counts.set(windowStart, (m = new Map()));
  m.set(campaign, (m.get(campaign) ?? 0) + 1);
}

function pairKey(windowStart: number, campaign: string): string {
  return `${windowStart}\u0000${campaign}`;
}

function splitPair(k: string): [number, string] {
  const i = k.indexOf('\u0000');
  return [Number(k.slice(0, i)), k.slice(i + 1)];
}
