import { describe, expect, it } from 'vitest';
import { BatchMetrics, MAX_USER_METRICS, mergeUserMetrics, UserMetricError } from '../../../framework/ops/user-metrics.js';
import { invocationMeasures } from '../../../framework/ops/invocation-measures.js';
import { MIN_WATERMARK } from '../../../framework/time/control.js';
import type { TaskReport } from '../../../framework/runtime/task.js';

function task(fields: Partial<TaskReport>): TaskReport {
  return { task: 't', kind: 'data', received: 0, duplicates: 0, processed: 0, outputs: 0, deadLetters: 0, timersFired: 0, watermark: MIN_WATERMARK, seq: undefined, recovery: undefined, ...fields };
}

describe('ctx.metrics of a batch', () => {
  it('adds counts up and keeps each observed value with its unit', () => {
    const m = new BatchMetrics('orders');
    m.count('orders');
    m.count('orders', 2);
    m.value('order-size', 30, 'Bytes');
    m.value('order-size', 12, 'Bytes');
    expect(m.snapshot()).toEqual({ counters: { orders: 3 }, values: { 'order-size': { unit: 'Bytes', values: [30, 12] } } });
  });

  it('has nothing to report when nothing was recorded', () => {
    expect(new BatchMetrics('orders').snapshot()).toBeUndefined();
  });

  it('rejects Sluice’s own metric names, bad names, non-finite numbers and a second unit, naming the stage', () => {
    const m = new BatchMetrics('orders');
    expect(() => m.count('RecordsIn')).toThrow(UserMetricError);
    expect(() => m.count('9lives')).toThrow(/not a metric name/);
    expect(() => m.value('latency', Number.NaN)).toThrow(/got NaN/);
    m.value('latency', 5, 'Milliseconds');
    expect(() => m.value('latency', 5, 'Seconds')).toThrow(/recorded in Milliseconds, now in Seconds/);
    expect(() => m.count('latency')).toThrow(/both as a counter and as a value/);
    try {
      m.count('RecordsIn');
    } catch (e) {
      expect((e as UserMetricError).place.stage).toBe('orders');
    }
  });

  it('stops at the number of names an EMF document has room for', () => {
    const m = new BatchMetrics('orders');
    for (let i = 0; i < MAX_USER_METRICS; i += 1) m.count(`c${i}`);
    expect(() => m.count('one-more')).toThrow(/more than/);
    m.count('c0');
  });
});

describe('user metrics of an invocation', () => {
  it('sums counters and concatenates values over the batches', () => {
    expect(
      mergeUserMetrics([
        { counters: { orders: 2 }, values: { size: { unit: 'Bytes', values: [1] } } },
        undefined,
        { counters: { orders: 3, refunds: 1 }, values: { size: { unit: 'Bytes', values: [2, 3] } } },
      ]),
    ).toEqual({ counters: { orders: 5, refunds: 1 }, values: { size: { unit: 'Bytes', values: [1, 2, 3] } } });
    expect(mergeUserMetrics([undefined])).toBeUndefined();
  });
});

describe('invocationMeasures', () => {
  const AT = 1_767_225_600_000;

  it('takes the longest commit of the tasks, which commit concurrently', () => {
    expect(invocationMeasures({ stage: 's', tasks: [task({ commitMs: 12 }), task({ commitMs: 30 }), task({})] }, AT).commitMs).toBe(30);
  });

  it('measures watermark lag from the lowest known watermark, ignoring tasks that know none yet', () => {
    const m = invocationMeasures({ stage: 's', tasks: [task({ watermark: AT - 5_000 }), task({ watermark: AT - 2_000 }), task({ watermark: MIN_WATERMARK })] }, AT);
    expect(m.watermarkLagMs).toBe(5_000);
  });

  it('measures nothing for tasks that committed nothing and know no watermark', () => {
    expect(invocationMeasures({ stage: 's', tasks: [task({})] }, AT)).toEqual({});
  });
});
