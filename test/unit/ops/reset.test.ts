import { describe, expect, it } from 'vitest';
import type { TaskRef } from '../../../framework/commit/ports.js';
import { EMPTY_CHECKPOINT } from '../../../framework/commit/checkpoint.js';
import { planReset, timeAfterReset } from '../../../framework/ops/reset.js';
import type { StoredCheckpoint } from '../../../framework/ops/stage-items.js';

const task = (partition: number): TaskRef => ({ app: 'shop', stage: 'orders', topic: 'orders', partition, id: `orders.${partition}` });
const stored = (partition: number, nextOffset: number): StoredCheckpoint => ({ task: task(partition), exists: true, checkpoint: { ...EMPTY_CHECKPOINT, version: 2, nextOffset }, pending: undefined });
const tasks = [
  { stored: stored(0, 50), log: { partition: 0, low: 10, high: 60 }, atTimestamp: 33 },
  { stored: stored(1, -1), log: { partition: 1, low: 0, high: 8 }, atTimestamp: 8 },
];

describe('planReset', () => {
  it('moves every task to the given offset', () => {
    expect(planReset('orders', tasks.slice(0, 1), { offset: 20 })).toEqual([{ task: 'orders.0', topic: 'orders', partition: 0, from: 50, to: 20 }]);
  });

  it('maps earliest and latest to the retained log of each partition', () => {
    expect(planReset('orders', tasks, { offset: 'earliest' }).map((m) => m.to)).toEqual([10, 0]);
    expect(planReset('orders', tasks, { offset: 'latest' }).map((m) => m.to)).toEqual([60, 8]);
  });

  it('uses the offset found for a timestamp', () => {
    expect(planReset('orders', tasks, { timestamp: 1_700_000_000_000 }).map((m) => m.to)).toEqual([33, 8]);
  });

  it('refuses an offset outside the retained log, naming the partition and range', () => {
    expect(() => planReset('orders', tasks, { offset: 9 })).toThrow(/offset 9 is outside orders\/0, which holds offsets 10 to 60/);
    expect(() => planReset('orders', tasks.slice(1), { offset: 9 })).toThrow(/orders\/1/);
  });
});

describe('timeAfterReset', () => {
  it('keeps the event time (watermark, fences of what was written downstream) whether state is kept or cleared', () => {
    const time = { ...EMPTY_CHECKPOINT.time, wm: 5, written: { 'shop.by-user.in': { '0': 12 } } };
    expect(timeAfterReset(time, 'keep')).toEqual(time);
    expect(timeAfterReset(time, 'clear')).toEqual(time);
  });
});
