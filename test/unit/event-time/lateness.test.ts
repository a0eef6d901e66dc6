// Allowed lateness and the late topic: a record the lateness still lets in re-fires its window
// as 'late'; a record too late for every window changes no state and goes, never dropped, to
// the stage's late topic with headers naming where it came from and the watermark it missed.
import { describe, expect, it } from 'vitest';
import { count, json, pipeline } from '../../../framework/index.js';
import type { WindowOptions, WindowResult } from '../../../framework/dsl/stream.js';
import { LATE_HEADERS } from '../../../framework/runtime/operators.js';
import { stageHarness } from '../../../framework/testing/index.js';
import type { StageHarness } from '../../../framework/testing/index.js';
import { tumbling } from '../../../framework/time/windows.js';

interface Click {
  readonly user: string;
  readonly at: number;
}

const click = (user: string, at: number) => ({ key: user, value: { user, at }, timestamp: at });

/** Stage `by-user` of app `shop`: per-user counts in tumbling 10 ms windows. */
function counts(options: WindowOptions = {}): StageHarness {
  const p = pipeline('shop', { partitions: 1 });
  p.source('clicks', { serde: json<Click>(), eventTime: (c) => c.at })
    .keyBy((c) => c.user, { name: 'user' })
    .window(tumbling(10), options)
    .aggregate(count())
    .sink('out', { serde: json<WindowResult<string, number>>() });
  return stageHarness(p, 'by-user');
}

const results = (h: StageHarness) => h.outputs<WindowResult<string, number>>('out').map((o) => o.value);
const WINDOW = 'window-2';

describe('allowed lateness', () => {
  it('lets a late record into its window and re-fires the window as late', async () => {
    const h = counts({ allowedLateness: 10 });
    await h.send([click('ann', 1)]);
    await h.watermark(12);
    await h.send([click('ann', 4)]);
    expect(results(h)).toEqual([
      { key: 'ann', window: { start: 0, end: 10 }, value: 1, firing: 'on-time' },
      { key: 'ann', window: { start: 0, end: 10 }, value: 2, firing: 'late' },
    ]);
    expect(h.lateRecords()).toEqual([]);
  });

  it('opens and fires at once, as late, a window that had no records before', async () => {
    const h = counts({ allowedLateness: 10 });
    await h.send([click('ann', 15)]);
    await h.watermark(12);
    await h.send([click('ann', 4)]);
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 1, firing: 'late' }]);
  });

  it('keeps the window state until maxTimestamp + allowedLateness, then drops it without firing', async () => {
    const h = counts({ allowedLateness: 10 });
    await h.send([click('ann', 1)]);
    await h.watermark(18);
    expect(h.state('ann', WINDOW)).toEqual({ windows: [{ start: 0, end: 10, acc: 1, count: 1, sinceFiring: 0, fired: true, earlyTimer: null }] });
    await h.watermark(19);
    expect(h.state('ann', WINDOW)).toBeUndefined();
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 1, firing: 'on-time' }]);
  });

  it('sends a record past the allowed lateness to the late topic', async () => {
    const h = counts({ allowedLateness: 10 });
    await h.send([click('ann', 1)]);
    await h.watermark(19);
    await h.send([click('ann', 4)]);
    expect(h.lateRecords().map((r) => [r.key?.toString(), r.value])).toEqual([['"ann"', { user: 'ann', at: 4 }]]);
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 1, firing: 'on-time' }]);
    expect(h.state('ann', WINDOW)).toBeUndefined();
  });
});

describe('the late topic', () => {
  it('gets a too-late record with headers naming its input position and the watermark it missed', async () => {
    const h = counts();
    await h.send([click('ann', 12)]);
    await h.watermark(12);
    await h.send([click('ann', 3)]);
    const [late, ...more] = h.kafka.readCommitted('shop.by-user.late');
    expect(more).toEqual([]);
    const header = (name: string) => late?.headers.find((x) => x.name === name)?.value.toString();
    expect([LATE_HEADERS.topic, LATE_HEADERS.partition, LATE_HEADERS.offset, LATE_HEADERS.watermark].map(header)).toEqual(['shop.by-user.in', '0', '1', '12']);
    expect(LATE_HEADERS).toEqual({ topic: 'sluice-late-topic', partition: 'sluice-late-partition', offset: 'sluice-late-offset', watermark: 'sluice-late-watermark' });
  });

  it('a too-late record leaves the key state as it was', async () => {
    const h = counts();
    await h.send([click('ann', 12)]);
    await h.watermark(12);
    const before = h.state('ann', WINDOW);
    expect(before).toEqual({ windows: [{ start: 10, end: 20, acc: 1, count: 1, sinceFiring: 1, fired: false, earlyTimer: null }] });
    await h.send([click('ann', 3)]);
    expect(h.state('ann', WINDOW)).toEqual(before);
    await h.watermark(19);
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 10, end: 20 }, value: 1, firing: 'on-time' }]);
  });

  it('is <app>.<stage>.late by default', async () => {
    const h = counts();
    await h.send([click('ann', 12)]);
    await h.watermark(12);
    await h.send([click('ann', 3)]);
    expect(h.lateRecords().map((r) => [r.topic, r.value])).toEqual([['shop.by-user.late', { user: 'ann', at: 3 }]]);
  });

  it('is the window’s `late` option when given', async () => {
    const h = counts({ late: 'late-clicks' });
    await h.send([click('ann', 12)]);
    await h.watermark(12);
    await h.send([click('ann', 3)]);
    expect(h.lateRecords().map((r) => [r.topic, r.value])).toEqual([['late-clicks', { user: 'ann', at: 3 }]]);
    expect(h.outputs('shop.by-user.late')).toEqual([]);
  });

  it('a record exactly at the watermark is late for a window whose last millisecond the watermark reached', async () => {
    const h = counts();
    await h.send([click('ann', 12)]);
    await h.watermark(9);
    await h.send([click('ann', 9), click('ann', 10)]);
    expect(h.lateRecords().map((r) => r.value)).toEqual([{ user: 'ann', at: 9 }]);
    expect(h.state('ann', WINDOW)).toMatchObject({ windows: [{ start: 10, end: 20, count: 2 }] });
  });
});
