// How a keyed (downstream) task's event time follows the marks its upstream tasks write to its
// control topic: the minimum over every upstream task, idle ones left out, never decreasing, and
// a mark applied only once the task's data position has passed the mark's fence.
import { describe, expect, it } from 'vitest';
import { count, json, pipeline } from '../../../framework/index.js';
import type { WindowResult } from '../../../framework/dsl/stream.js';
import { stageHarness } from '../../../framework/testing/index.js';
import type { StageHarness } from '../../../framework/testing/index.js';
import { MIN_WATERMARK } from '../../../framework/time/control.js';
import type { WatermarkMark } from '../../../framework/time/control.js';
import type { TimeState } from '../../../framework/time/watermark.js';
import { tumbling } from '../../../framework/time/windows.js';

interface Click {
  readonly user: string;
  readonly page: string;
  readonly at: number;
}

const click = (user: string, at: number, page = '/') => ({ key: user, value: { user, page, at }, timestamp: at });

/**
 * App `shop`: `clicks` (source stage, `sourcePartitions` partitions, so upstream tasks
 * clicks.0, clicks.1, …) → keyBy(user) → stage `by-user` (`partitions`), per-user counts in
 * tumbling 10 ms windows → `out`.
 */
function byUser(sourcePartitions: number, partitions = 1): StageHarness {
  const p = pipeline('shop');
  p.source('clicks', { serde: json<Click>(), eventTime: (c) => c.at, partitions: sourcePartitions })
    .keyBy((c) => c.user, { name: 'user', partitions })
    .window(tumbling(10))
    .aggregate(count())
    .sink('out', { serde: json<WindowResult<string, number>>() });
  return stageHarness(p, 'by-user');
}

const results = (h: StageHarness) => h.outputs<WindowResult<string, number>>('out').map((o) => o.value);
const timeOf = (h: StageHarness, partition = 0): TimeState => h.checkpoint(partition).time;
const mark = (from: string, watermark: number, fence: number, idle = false): WatermarkMark => ({ kind: 'watermark', from, watermark, fence, idle });

describe('the watermark of a downstream task', () => {
  it('is the minimum over its upstream tasks: windows fire only when the slowest passes', async () => {
    const h = byUser(2);
    expect(h.stage.upstreamTasks).toEqual(['clicks.0', 'clicks.1']);
    await h.send([click('ann', 1)]);
    await h.watermark(30, { from: ['clicks.0'] });
    expect(h.currentWatermark()).toBe(MIN_WATERMARK);
    expect(results(h)).toEqual([]);
    await h.watermark(9, { from: ['clicks.1'] });
    expect(h.currentWatermark()).toBe(9);
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 1, firing: 'on-time' }]);
  });

  it('follows the minimum as the slower upstream task catches up', async () => {
    const h = byUser(2);
    await h.watermark(30, { from: ['clicks.0'] });
    await h.watermark(9, { from: ['clicks.1'] });
    await h.watermark(25, { from: ['clicks.1'] });
    expect(h.currentWatermark()).toBe(25);
    await h.watermark(40, { from: ['clicks.1'] });
    expect(h.currentWatermark()).toBe(30);
  });

  it('leaves an idle upstream task out of the minimum', async () => {
    const h = byUser(2);
    await h.send([click('ann', 1)]);
    await h.watermark(9, { from: ['clicks.0'] });
    await h.watermark(MIN_WATERMARK, { from: ['clicks.1'], idle: true });
    expect(h.currentWatermark()).toBe(9);
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 1, firing: 'on-time' }]);
  });

  it('counts an upstream task again once it sends an active mark (the watermark holds until it catches up)', async () => {
    const h = byUser(2);
    await h.watermark(MIN_WATERMARK, { from: ['clicks.1'], idle: true });
    await h.watermark(20, { from: ['clicks.0'] });
    expect(h.currentWatermark()).toBe(20);
    await h.watermark(12, { from: ['clicks.1'] });
    await h.watermark(40, { from: ['clicks.0'] });
    expect(h.currentWatermark()).toBe(20);
    await h.watermark(25, { from: ['clicks.1'] });
    expect(h.currentWatermark()).toBe(25);
  });

  it('holds, and the task is idle itself, when every upstream task is idle', async () => {
    const h = byUser(2);
    await h.watermark(9);
    await h.watermark(9, { idle: true });
    expect(timeOf(h)).toMatchObject({ wm: 9, idle: true });
    await h.watermark(12, { from: ['clicks.0'] });
    expect(timeOf(h)).toMatchObject({ wm: 12, idle: false });
  });

  it('never decreases: a lower mark later changes nothing', async () => {
    const h = byUser(1);
    await h.send([click('ann', 15)]);
    await h.watermark(12);
    await h.watermark(5);
    expect(h.currentWatermark()).toBe(12);
    await h.send([click('ann', 8)]);
    expect(h.lateRecords().map((r) => r.value)).toEqual([{ user: 'ann', page: '/', at: 8 }]);
    expect(results(h)).toEqual([]);
  });

  it('is kept per task: a mark reaches every partition of the control topic', async () => {
    const h = byUser(1, 2);
    await h.watermark(30);
    expect([h.currentWatermark(0), h.currentWatermark(1)]).toEqual([30, 30]);
  });
});

describe('the fence', () => {
  it('a mark that covers no data (fence -1) applies before the task has read any data', async () => {
    const h = byUser(1);
    await h.control([mark('clicks.0', 30, -1)]);
    expect(h.currentWatermark()).toBe(30);
  });

  it('holds a mark back until the data position has passed its fence, then applies it with that data', async () => {
    const h = byUser(1);
    await h.send([1, 2, 3].map((at) => click('ann', at)));
    await h.control([mark('clicks.0', 30, 5)]);
    expect(h.currentWatermark()).toBe(MIN_WATERMARK);
    await h.send([4, 5].map((at) => click('ann', at)));
    expect(h.checkpoint().nextOffset).toBe(5);
    expect(h.currentWatermark()).toBe(MIN_WATERMARK);
    expect(results(h)).toEqual([]);
    await h.send([click('ann', 6)]);
    expect(h.currentWatermark()).toBe(30);
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 6, firing: 'on-time' }]);
  });

  it('applies a mark at once when the data position has already passed its fence', async () => {
    const h = byUser(1);
    await h.send([1, 2].map((at) => click('ann', at)));
    await h.control([mark('clicks.0', 9, 1)]);
    expect(h.currentWatermark()).toBe(9);
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 2, firing: 'on-time' }]);
  });

  it('applies the queued marks of one upstream task in fence order as the data passes each', async () => {
    const h = byUser(1);
    await h.control([mark('clicks.0', 20, 3), mark('clicks.0', 10, 1)]);
    await h.send([click('ann', 1), click('ann', 2)]);
    expect(h.currentWatermark()).toBe(10);
    await h.send([click('ann', 11), click('ann', 12)]);
    expect(h.currentWatermark()).toBe(20);
    expect(results(h)).toEqual([
      { key: 'ann', window: { start: 0, end: 10 }, value: 2, firing: 'on-time' },
      { key: 'ann', window: { start: 10, end: 20 }, value: 2, firing: 'on-time' },
    ]);
  });
});

describe('a keyed stage between two others', () => {
  /** `clicks` → keyBy(user) → `by-user` (relays) → keyBy(page) → `by-page` (windows). */
  function relay(): StageHarness {
    const p = pipeline('shop', { partitions: 1 });
    p.source('clicks', { serde: json<Click>(), eventTime: (c) => c.at, partitions: 2 })
      .keyBy((c) => c.user, { name: 'user' })
      .process<Click>((c, ctx) => ctx.emit(c))
      .keyBy((c) => c.page, { name: 'page' })
      .window(tumbling(10))
      .aggregate(count())
      .sink('out', { serde: json() });
    return stageHarness(p, 'by-user');
  }
  const relayed = (h: StageHarness) => h.outputs('shop.by-page.control').map((o) => o.value);

  it('passes its own watermark on to the next stage, fenced by what it wrote there', async () => {
    const h = relay();
    await h.send([click('ann', 3, '/a')]);
    await h.watermark(9);
    expect(relayed(h)).toEqual([{ from: 'by-user.0', watermark: 9, fence: 0, idle: false }]);
  });

  it('tells the next stage it is idle once every upstream task is idle, and active again after', async () => {
    const h = relay();
    await h.watermark(9);
    await h.watermark(9, { idle: true });
    await h.watermark(12, { from: ['clicks.1'] });
    expect(relayed(h)).toEqual([
      { from: 'by-user.0', watermark: 9, fence: -1, idle: false },
      { from: 'by-user.0', watermark: 9, fence: -1, idle: true },
      { from: 'by-user.0', watermark: 12, fence: -1, idle: false },
    ]);
  });
});
