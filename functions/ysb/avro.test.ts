import { describe, expect, it } from 'vitest';
import { adEventAvro, adEventAvroWriter, ysbRegistry } from './avro.js';
import type { AdEvent } from './pipeline.js';

const event: AdEvent = { user_id: 'u1', page_id: 'p1', ad_id: 'a1', ad_type: 'banner', event_type: 'view', event_time: 1_700_000_000_000, ip_address: '10.0.0.1' };

describe('YSB ad events as Avro through a registry', () => {
  it('are read by a stage whose registry was built separately (same schema id in every process)', async () => {
    const bytes = (await adEventAvroWriter())(event);
    const reader = adEventAvro(ysbRegistry());
    await reader.schemas!.prefetch([{ bytes }], { stage: 'views', topic: 'ad-events', role: 'value' });
    expect([...bytes.subarray(0, 5)]).toEqual([0, 0, 0, 0, 1]);
    expect(reader.deserialize(bytes, { topic: 'ad-events' })).toEqual(event);
  });
});
