import { describe, expect, it } from 'vitest';
import { json } from '../../framework/index.js';
import { stageHarness } from '../../framework/testing/index.js';
import { CAMPAIGNS } from './campaigns.js';
import { generateEvents } from './generator.js';
import { expectedCounts, verifyCounts } from './oracle.js';
import type { CampaignCount, CampaignView } from './pipeline.js';
import { ALLOWED_LATENESS_MS, WINDOW_MS, withCampaign, ysb } from './pipeline.js';

// A window boundary, so T0 + 0..9_999 is one window.
const T0 = Date.UTC(2026, 2, 1, 9, 0);
const [a, b] = [CAMPAIGNS[0]!, CAMPAIGNS[1]!];

/** A view as the views stage hands it over: keyed by campaign, stamped with its event time. */
function view(campaign: typeof a, at: number, ad = 0) {
  const value: CampaignView = { ad_id: campaign.ad_ids[ad]!, event_time: at, campaign_id: campaign.campaign_id };
  return { key: campaign.campaign_id, value, timestamp: at };
}

function counts(h: ReturnType<typeof stageHarness>): CampaignCount[] {
  return h.outputs('ysb-campaign-counts', json<CampaignCount>()).map((o) => o.value);
}

/** Results ordered by window, then campaign (the sink's partitions interleave them). */
function sorted(results: CampaignCount[]): CampaignCount[] {
  return [...results].sort((x, y) => x.window.start - y.window.start || x.key.localeCompare(y.key));
}

describe('counts stage', () => {
  it('emits nothing before the watermark reaches the end of a window', async () => {
    const h = stageHarness(ysb, 'counts');
    await h.send([view(a, T0), view(a, T0 + 9_999)]);
    await h.watermark(T0 + 9_998);
    expect(counts(h)).toEqual([]);
  });

  it('counts each campaign’s views per 10 s window once the watermark passes the window', async () => {
    const h = stageHarness(ysb, 'counts');
    await h.send([view(a, T0), view(b, T0 + 1), view(a, T0 + 9_999, 3), view(a, T0 + 10_000), view(b, T0 + 25_000)]);
    await h.watermark(T0 + 9_999);
    expect(sorted(counts(h))).toEqual(
      sorted([
        { key: a.campaign_id, window: { start: T0, end: T0 + WINDOW_MS }, value: 2, firing: 'on-time' },
        { key: b.campaign_id, window: { start: T0, end: T0 + WINDOW_MS }, value: 1, firing: 'on-time' },
      ]),
    );
    await h.watermark(T0 + 30_000);
    expect(sorted(counts(h)).slice(2)).toEqual(
      sorted([
        { key: a.campaign_id, window: { start: T0 + 10_000, end: T0 + 20_000 }, value: 1, firing: 'on-time' },
        { key: b.campaign_id, window: { start: T0 + 20_000, end: T0 + 30_000 }, value: 1, firing: 'on-time' },
      ]),
    );
  });

  it('writes each count keyed by the plain campaign id', async () => {
    const h = stageHarness(ysb, 'counts');
    await h.send([view(a, T0)]);
    await h.watermark(T0 + WINDOW_MS);
    expect(h.outputs('ysb-campaign-counts').map((o) => o.key)).toEqual([Buffer.from(a.campaign_id)]);
  });

  it(`re-fires a window with the full count for a view up to ${ALLOWED_LATENESS_MS} ms late`, async () => {
    const h = stageHarness(ysb, 'counts');
    await h.send([view(a, T0), view(a, T0 + 1)]);
    await h.watermark(T0 + WINDOW_MS - 1 + ALLOWED_LATENESS_MS - 1);
    await h.send([view(a, T0 + 2)]);
    expect(counts(h).map((c) => [c.firing, c.value])).toEqual([
      ['on-time', 2],
      ['late', 3],
    ]);
    expect(h.lateRecords()).toEqual([]);
  });

  it('sends a view too late for its window to the late topic instead of dropping it', async () => {
    const h = stageHarness(ysb, 'counts');
    await h.send([view(a, T0)]);
    await h.watermark(T0 + WINDOW_MS - 1 + ALLOWED_LATENESS_MS);
    await h.send([view(a, T0 + 5)]);
    expect(counts(h).map((c) => [c.firing, c.value])).toEqual([['on-time', 1]]);
    expect(h.lateRecords<CampaignView>().map((r) => r.value)).toEqual([view(a, T0 + 5).value]);
  });

  it('keeps a window’s count in state until it fires and removes it after the allowed lateness', async () => {
    const h = stageHarness(ysb, 'counts');
    await h.send([view(a, T0), view(a, T0 + 1)]);
    expect(h.state(a.campaign_id, 'window-5')).toMatchObject({ windows: [{ start: T0, end: T0 + WINDOW_MS, acc: 2 }] });
    await h.watermark(T0 + WINDOW_MS - 1 + ALLOWED_LATENESS_MS);
    expect(h.state(a.campaign_id, 'window-5')).toBeUndefined();
  });

  it('agrees with the oracle on a generated, skewed, out-of-order stream', async () => {
    const generated = [...generateEvents({ seed: 7, rate: 400, durationMs: 25_000, startTime: T0 + 3_000, skew: 1.2, maxJitterMs: 1_500 })];
    const data = generated.filter((g) => !g.endOfStream).map((g) => g.event);
    const h = stageHarness(ysb, 'counts');
    const views = data.filter((e) => e.event_type === 'view').map((e) => withCampaign(e));
    for (let i = 0; i < views.length; i += 250) {
      const batch = views.slice(i, i + 250);
      await h.send(batch.map((v) => ({ key: v.campaign_id, value: v, timestamp: v.event_time })));
      // The watermark the views stage would send: 2 s behind the largest event time so far.
      await h.watermark(Math.max(...batch.map((v) => v.event_time)) - 2_000);
    }
    await h.watermark(generated[generated.length - 1]!.event.event_time - 2_000);
    const result = verifyCounts(expectedCounts(data), counts(h), h.lateRecords<CampaignView>().map((r) => r.value));
    expect(result).toMatchObject({ ok: true, late: 0, duplicates: [], missing: [], wrong: [], unexpected: [] });
    expect(result.windows).toBe(3);
    expect(result.matched).toBe(result.expectedCounts);
  });
});
