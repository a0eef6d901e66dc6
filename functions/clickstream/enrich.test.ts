import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../framework/record/partitioner.js';
import { json } from '../../framework/index.js';
import { stageHarness } from '../../framework/testing/index.js';
import { clickstream } from './pipeline.js';
import type { Click, EnrichedClick } from './pipeline.js';

const T0 = Date.UTC(2026, 2, 1, 9, 0);
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0';
const click = (userId: string, page: string, userAgent = BROWSER, at = T0): Click => ({ userId, page, userAgent, at });

/** What the stage wrote to the sessions stage's input topic. */
function repartitioned(h: ReturnType<typeof stageHarness>) {
  return h.outputs('clickstream.sessions.in', json<EnrichedClick>());
}

describe('enrich stage', () => {
  it('drops clicks from bots and headless browsers', async () => {
    const h = stageHarness(clickstream, 'enrich');
    await h.send([
      { value: click('ann', '/', 'Googlebot/2.1') },
      { value: click('bob', '/', BROWSER) },
      { value: click('cy', '/', 'HeadlessChrome/120') },
    ]);
    expect(repartitioned(h).map((r) => r.value.userId)).toEqual(['bob']);
  });

  it('adds the site section of each page, matching the longest prefix', async () => {
    const h = stageHarness(clickstream, 'enrich');
    await h.send([{ value: click('ann', '/') }, { value: click('ann', '/docs/keyed-state') }, { value: click('ann', '/pricing') }]);
    expect(repartitioned(h).map((r) => [r.value.page, r.value.section])).toEqual([
      ['/', 'home'],
      ['/docs/keyed-state', 'docs'],
      ['/pricing', 'sales'],
    ]);
  });

  it('passes clicks on unknown pages on with section null', async () => {
    const h = stageHarness(clickstream, 'enrich');
    await h.send([{ value: click('ann', '/careers') }, { value: click('ann', '/documents') }]);
    expect(repartitioned(h).map((r) => r.value.section)).toEqual([null, null]);
  });

  it('keys each click by user id as plain text, on the user’s partition', async () => {
    const h = stageHarness(clickstream, 'enrich');
    await h.send([{ value: click('ann', '/') }]);
    const [out] = repartitioned(h);
    expect(out!.key).toEqual(Buffer.from('ann'));
    expect(out!.partition).toBe(partitionForKey(Buffer.from('ann'), 4));
  });

  it('carries the click’s event time as the record timestamp', async () => {
    const h = stageHarness(clickstream, 'enrich');
    await h.send([{ value: click('ann', '/', BROWSER, T0 + 1234) }]);
    expect(repartitioned(h).map((r) => r.timestamp)).toEqual([T0 + 1234]);
  });

  it('dead-letters a click that does not match the schema, naming the field', async () => {
    const h = stageHarness(clickstream, 'enrich');
    await h.send([{ value: click('ann', 'pricing') }, { value: click('bob', '/') }]);
    expect(repartitioned(h).map((r) => r.value.userId)).toEqual(['bob']);
    expect(h.deadLetters().map((d) => [d.offset, d.errorClass, d.errorMessage])).toEqual([
      [
        0,
        'SerdeError',
        'deserialize: json: value does not match the schema: page: Invalid string: must start with "/" [topic=clicks partition=0 offset=0 field=page] — fix the producer, or widen the schema if the data is right',
      ],
    ]);
  });
});
