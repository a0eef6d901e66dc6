import { describe, expect, it } from 'vitest';
import { json } from '../../framework/index.js';
import { partitionForKey } from '../../framework/record/partitioner.js';
import { stageHarness } from '../../framework/testing/index.js';
import { CAMPAIGNS, campaignOf } from './campaigns.js';
import type { AdEvent, CampaignView } from './pipeline.js';
import { MAX_OUT_OF_ORDERNESS_MS, ysb } from './pipeline.js';

const T0 = Date.UTC(2026, 2, 1, 9, 0);
const [first, second] = [CAMPAIGNS[0]!, CAMPAIGNS[1]!];

function ad(event_type: AdEvent['event_type'], ad_id: string, event_time = T0): AdEvent {
  return { user_id: 'u-1', page_id: 'p-1', ad_id, ad_type: 'banner', event_type, event_time, ip_address: '10.0.0.1' };
}

/** What the stage wrote to the counts stage's input topic. */
function repartitioned(h: ReturnType<typeof stageHarness>) {
  return h.outputs('ysb.counts.in', json<CampaignView>());
}

describe('views stage', () => {
  it('keeps only views and projects them to ad, campaign and event time', async () => {
    const h = stageHarness(ysb, 'views');
    await h.send([
      { value: ad('view', first.ad_ids[0]!, T0 + 1) },
      { value: ad('click', first.ad_ids[1]!, T0 + 2) },
      { value: ad('purchase', first.ad_ids[2]!, T0 + 3) },
      { value: ad('view', second.ad_ids[9]!, T0 + 4) },
    ]);
    const byTime = repartitioned(h).sort((a, b) => a.value.event_time - b.value.event_time);
    expect(byTime.map((r) => r.value)).toEqual([
      { ad_id: first.ad_ids[0], event_time: T0 + 1, campaign_id: first.campaign_id },
      { ad_id: second.ad_ids[9], event_time: T0 + 4, campaign_id: second.campaign_id },
    ]);
  });

  it('joins every ad of the table with its own campaign', async () => {
    const h = stageHarness(ysb, 'views');
    const ads = CAMPAIGNS.flatMap((c) => c.ad_ids);
    await h.send(ads.map((id) => ({ value: ad('view', id) })));
    const out = repartitioned(h);
    expect(out.map((r) => r.value.ad_id).sort()).toEqual([...ads].sort());
    for (const r of out) expect(r.value.campaign_id).toBe(campaignOf(r.value.ad_id));
    expect(new Set(repartitioned(h).map((r) => r.value.campaign_id)).size).toBe(100);
  });

  it('keys each view by its campaign id as plain text, on the campaign’s partition, stamped with its event time', async () => {
    const h = stageHarness(ysb, 'views');
    await h.send([{ value: ad('view', first.ad_ids[3]!, T0 + 1234) }]);
    const [out] = repartitioned(h);
    expect(out!.key).toEqual(Buffer.from(first.campaign_id));
    expect(out!.partition).toBe(partitionForKey(Buffer.from(first.campaign_id), 4));
    expect(out!.timestamp).toBe(T0 + 1234);
  });

  it(`holds its watermark ${MAX_OUT_OF_ORDERNESS_MS} ms behind the largest event time seen, views or not`, async () => {
    const h = stageHarness(ysb, 'views');
    await h.send([{ value: ad('view', first.ad_ids[0]!, T0 + 5_000) }, { value: ad('click', first.ad_ids[0]!, T0 + 7_000) }, { value: ad('view', first.ad_ids[0]!, T0 + 6_000) }]);
    expect(h.currentWatermark(0)).toBe(T0 + 7_000 - MAX_OUT_OF_ORDERNESS_MS);
  });

  it('dead-letters an event that does not match the schema, naming the field, and goes on', async () => {
    const h = stageHarness(ysb, 'views');
    await h.send([{ value: { ...ad('view', first.ad_ids[0]!), event_type: 'hover' } }, { value: ad('view', first.ad_ids[1]!) }]);
    expect(repartitioned(h)).toHaveLength(1);
    const [dead] = h.deadLetters();
    expect(dead).toMatchObject({ offset: 0, errorClass: 'SerdeError' });
    expect(dead!.errorMessage).toContain('event_type');
  });

  it('dead-letters a view of an ad that is in no campaign instead of dropping it', async () => {
    const h = stageHarness(ysb, 'views');
    await h.send([{ value: ad('view', 'no-such-ad') }, { value: ad('click', 'no-such-ad') }]);
    expect(repartitioned(h)).toEqual([]);
    expect(h.deadLetters().map((d) => [d.offset, d.errorMessage])).toEqual([[0, expect.stringContaining('ad no-such-ad belongs to no campaign')]]);
  });
});
