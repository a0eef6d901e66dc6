import { describe, expect, it } from 'vitest';
import { CAMPAIGNS, buildCampaigns, campaignOf } from './campaigns.js';
import { END_OF_STREAM_USER, endOfStreamTime, generateEvents } from './generator.js';
import { AdEvent, ALLOWED_LATENESS_MS, MAX_OUT_OF_ORDERNESS_MS, WINDOW_MS } from './pipeline.js';

const T0 = Date.UTC(2026, 2, 1, 9, 0);
const base = { seed: 3, rate: 2_000, durationMs: 5_000, startTime: T0, partitions: 3, maxJitterMs: 800 };

describe('campaign table', () => {
  it('has 100 campaigns of 10 distinct ads, the same on every build', () => {
    expect(CAMPAIGNS).toHaveLength(100);
    expect(new Set(CAMPAIGNS.map((c) => c.campaign_id)).size).toBe(100);
    expect(new Set(CAMPAIGNS.flatMap((c) => c.ad_ids)).size).toBe(1_000);
    expect(buildCampaigns()).toEqual(CAMPAIGNS);
    expect(CAMPAIGNS[0]!.campaign_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    for (const c of CAMPAIGNS) for (const ad of c.ad_ids) expect(campaignOf(ad)).toBe(c.campaign_id);
  });
});

describe('generator', () => {
  it('is deterministic: the same options give the same events, another seed others', () => {
    const one = [...generateEvents(base)];
    expect([...generateEvents(base)]).toEqual(one);
    expect([...generateEvents({ ...base, seed: 4 })].map((g) => g.event)).not.toEqual(one.map((g) => g.event));
  });

  it('writes rate × duration valid events round-robin over the partitions, then one end-of-stream event per partition', () => {
    const all = [...generateEvents(base)];
    const data = all.filter((g) => !g.endOfStream);
    expect(data).toHaveLength(10_000);
    expect(data.map((g) => g.partition).slice(0, 4)).toEqual([0, 1, 2, 0]);
    for (const g of all) expect(AdEvent.safeParse(g.event).success).toBe(true);
    const closing = all.slice(data.length);
    expect(closing.map((g) => [g.partition, g.endOfStream, g.event.user_id, g.event.event_type])).toEqual([0, 1, 2].map((p) => [p, true, END_OF_STREAM_USER, 'click']));
    expect([...generateEvents({ ...base, closeWindows: false })]).toHaveLength(10_000);
  });

  it('mixes views, clicks and purchases about evenly', () => {
    const data = [...generateEvents(base)].filter((g) => !g.endOfStream);
    const views = data.filter((g) => g.event.event_type === 'view').length / data.length;
    expect(views).toBeGreaterThan(0.3);
    expect(views).toBeLessThan(0.37);
  });

  it('keeps every event time within maxJitterMs behind its nominal time and behind nothing else in its partition by more', () => {
    const data = [...generateEvents(base)].filter((g) => !g.endOfStream);
    const maxSeen = new Map<number, number>();
    let reordered = 0;
    for (const g of data) {
      expect(g.nominal - g.event.event_time).toBeGreaterThanOrEqual(0);
      expect(g.nominal - g.event.event_time).toBeLessThanOrEqual(base.maxJitterMs);
      const seen = maxSeen.get(g.partition) ?? 0;
      if (g.event.event_time < seen) reordered += 1;
      expect(seen - g.event.event_time).toBeLessThanOrEqual(base.maxJitterMs);
      maxSeen.set(g.partition, Math.max(seen, g.event.event_time));
    }
    expect(reordered).toBeGreaterThan(data.length / 4); // really out of order
    expect(base.maxJitterMs).toBeLessThanOrEqual(MAX_OUT_OF_ORDERNESS_MS); // so none is late in the pipeline
  });

  it('skews campaigns Zipf-like when asked, and spreads them evenly with skew 0', () => {
    const share = (skew: number): number[] => {
      const n = new Map<string, number>();
      for (const g of generateEvents({ ...base, skew, closeWindows: false })) n.set(campaignOf(g.event.ad_id)!, (n.get(campaignOf(g.event.ad_id)!) ?? 0) + 1);
      return [...n.values()].sort((x, y) => y - x).map((c) => c / 10_000);
    };
    const zipf = share(1);
    expect(zipf[0]).toBeGreaterThan(0.15); // 1 / H(100) ≈ 0.19
    expect(zipf[0]! / zipf[9]!).toBeGreaterThan(5);
    const uniform = share(0);
    expect(uniform).toHaveLength(100);
    expect(uniform[0]).toBeLessThan(0.02);
  });

  it('closes the stream with an event time past the last window plus lateness and out-of-orderness', () => {
    const all = [...generateEvents(base)];
    const last = Math.max(...all.filter((g) => !g.endOfStream).map((g) => g.event.event_time));
    const close = all[all.length - 1]!.event.event_time;
    expect(close).toBe(endOfStreamTime(last));
    const lastWindowEnd = Math.floor(last / WINDOW_MS) * WINDOW_MS + WINDOW_MS;
    expect(close - MAX_OUT_OF_ORDERNESS_MS).toBeGreaterThanOrEqual(lastWindowEnd - 1 + ALLOWED_LATENESS_MS);
  });

  it('rejects nonsense options', () => {
    expect(() => [...generateEvents({ ...base, rate: 0 })]).toThrow(/rate/);
    expect(() => [...generateEvents({ ...base, partitions: 0 })]).toThrow(/partitions/);
    expect(() => [...generateEvents({ ...base, maxJitterMs: -1 })]).toThrow(/maxJitterMs/);
  });
});
