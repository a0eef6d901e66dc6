import { describe, expect, it } from 'vitest';
import { CAMPAIGNS } from './campaigns.js';
import { expectedCounts, verifyCounts, windowStartOf, YsbOracle } from './oracle.js';
import type { AdEvent, CampaignCount, CampaignView } from './pipeline.js';

const T0 = Date.UTC(2026, 2, 1, 9, 0);
const [a, b] = [CAMPAIGNS[0]!, CAMPAIGNS[1]!];

function ev(campaign: typeof a, event_type: AdEvent['event_type'], event_time: number): AdEvent {
  return { user_id: 'u', page_id: 'p', ad_id: campaign.ad_ids[1]!, ad_type: 'mail', event_type, event_time, ip_address: '1.1.1.1' };
}
function result(campaign: typeof a, start: number, value: number, firing: CampaignCount['firing'] = 'on-time'): CampaignCount {
  return { key: campaign.campaign_id, window: { start, end: start + 10_000 }, value, firing };
}
const events = [ev(a, 'view', T0), ev(a, 'view', T0 + 9_999), ev(a, 'click', T0 + 5), ev(b, 'view', T0 + 10_000), ev(b, 'purchase', T0 + 10_001)];

describe('YSB oracle', () => {
  it('counts views per campaign per 10 s window of event time', () => {
    const expected = expectedCounts(events);
    expect([...expected.keys()]).toEqual([T0, T0 + 10_000]);
    expect(expected.get(T0)).toEqual(new Map([[a.campaign_id, 2]]));
    expect(expected.get(T0 + 10_000)).toEqual(new Map([[b.campaign_id, 1]]));
    const o = new YsbOracle();
    events.forEach((e) => o.add(e));
    expect([o.events, o.views]).toEqual([5, 3]);
  });

  it('aligns windows to the epoch, below zero too', () => {
    expect(windowStartOf(T0 + 12_345)).toBe(T0 + 10_000);
    expect(windowStartOf(-1)).toBe(-10_000);
  });

  it('accepts exactly the expected results', () => {
    const v = verifyCounts(expectedCounts(events), [result(a, T0, 2), result(b, T0 + 10_000, 1)]);
    expect(v).toMatchObject({ ok: true, windows: 2, expectedCounts: 2, results: 2, matched: 2, late: 0 });
  });

  it('finds duplicates, missing, wrong and unexpected results', () => {
    const v = verifyCounts(expectedCounts(events), [result(a, T0, 2), result(a, T0, 2), result(b, T0 + 20_000, 4)]);
    expect(v.ok).toBe(false);
    expect(v.duplicates.map((f) => f.campaign)).toEqual([a.campaign_id]);
    expect(v.missing.map((f) => [f.windowStart, f.campaign])).toEqual([[T0 + 10_000, b.campaign_id]]);
    expect(v.unexpected.map((f) => [f.windowStart, f.campaign])).toEqual([[T0 + 20_000, b.campaign_id]]);
    const wrong = verifyCounts(expectedCounts(events), [result(a, T0, 3), result(b, T0 + 10_000, 1)]);
    expect(wrong.wrong.map((f) => f.message)).toEqual(['counted 3, expected 2']);
  });

  it('counts late firings and late-topic records toward the total, and a repeated late firing as a duplicate', () => {
    const late: CampaignView = { ad_id: a.ad_ids[1]!, event_time: T0 + 3, campaign_id: a.campaign_id };
    expect(verifyCounts(expectedCounts(events), [result(a, T0, 1), result(a, T0, 2, 'late'), result(b, T0 + 10_000, 1)]).ok).toBe(true);
    expect(verifyCounts(expectedCounts(events), [result(a, T0, 1), result(b, T0 + 10_000, 1)], [late]).ok).toBe(true);
    const repeated = verifyCounts(expectedCounts(events), [result(a, T0, 1), result(a, T0, 2, 'late'), result(a, T0, 2, 'late'), result(b, T0 + 10_000, 1)]);
    expect(repeated.duplicates).toHaveLength(1);
  });
});
