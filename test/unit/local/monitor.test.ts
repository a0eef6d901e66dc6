import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { formatStageStatus } from '../../../framework/cli/dev.js';
import { compile } from '../../../framework/index.js';
import type { InvocationInfo } from '../../../framework/local/esm/mapping.js';
import { PipelineMonitor } from '../../../framework/local/monitor.js';
import { ysbPipeline } from '../../../functions/ysb/pipeline.js';

const topology = compile(ysbPipeline().plan());
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function info(topic: string, partition: number, firstOffset: number, records: number, ok = true): InvocationInfo {
  return { functionName: topic === 'ad-events' || topic === 'ysb.views.control' ? 'views' : 'counts', topic, partition, firstOffset, lastOffset: firstOffset + records - 1, records, ok, attempt: 1, durationMs: 5, invocation: 1, partitions: 1, part: 0, ...(ok ? {} : { error: new Error('fenced') }) };
}

describe('PipelineMonitor', () => {
  it('knows a stage’s event time once every task reported one: the minimum over its tasks', async () => {
    const m = new PipelineMonitor(topology);
    const invoker = m.invoker({ invoke: async () => ({ stage: 'counts', tasks: [{ task: 'counts.0', watermark: T0 + 5 }, { task: 'counts.1', watermark: T0 + 2 }] }) });
    await invoker.invoke('counts', { eventSource: 'aws:kafka', eventSourceArn: 'x', bootstrapServers: '', records: {} } as never);
    expect(m.watermark('counts')).toBeUndefined();
    m.report({ stage: 'counts', tasks: [{ task: 'counts.2', watermark: T0 + 9 }, { task: 'counts.3', watermark: T0 + 7 }] });
    expect(m.watermark('counts')).toBe(T0 + 2);
    // A watermark never goes back, and junk results are ignored.
    m.report({ stage: 'counts', tasks: [{ task: 'counts.1', watermark: T0 }] });
    m.report('not a report');
    expect(m.watermark('counts')).toBe(T0 + 2);
  });

  it('resolves waitForWatermark once the stage gets there, and times out naming where it is', async () => {
    const m = new PipelineMonitor(topology);
    const waiting = m.waitForWatermark('views', T0 + 10, 5_000);
    m.report({ stage: 'views', tasks: [{ task: 'views.0', watermark: T0 + 10 }] });
    m.report({ stage: 'views', tasks: [{ task: 'views.1', watermark: T0 + 11 }] });
    await expect(waiting).resolves.toBeUndefined();
    await expect(m.waitForWatermark('views', T0 + 100, 20)).rejects.toThrow(
      /did not reach event time .* \(it is at 2026-01-01T12:00:00.010Z; behind: views.0 at 2026-01-01T12:00:00.010Z, views.1 at 2026-01-01T12:00:00.011Z\)/,
    );
  });

  it('counts data records, invocations and failures per stage, and rates between samples', () => {
    let now = T0;
    const m = new PipelineMonitor(topology, () => now);
    m.onInvocation(info('ad-events', 0, 0, 300));
    m.onInvocation(info('ad-events', 1, 0, 200));
    m.onInvocation(info('ysb.views.control', 0, 0, 1)); // control: not data
    m.onInvocation(info('ysb.counts.in', 2, 0, 50, false));
    now += 2_000;
    const [views, counts] = m.sample();
    expect(views).toMatchObject({ stage: 'views', records: 500, ratePerSec: 250, invocations: 3, failures: 0, lag: undefined, tasks: 2, tasksReported: 0 });
    expect(counts).toMatchObject({ stage: 'counts', records: 0, invocations: 1, failures: 1, lastError: 'fenced', tasks: 4 });
    now += 1_000;
    expect(m.sample()[0]!.ratePerSec).toBe(0);
  });

  it('computes lag from the topics’ end offsets, leaving out one commit marker per internal partition', async () => {
    const m = new PipelineMonitor(topology);
    m.onInvocation(info('ad-events', 0, 0, 300));
    m.onInvocation(info('ysb.counts.in', 0, 0, 10));
    const ends: Record<string, Array<{ partition: number; low: string; high: string; offset: string }>> = {
      'ad-events': [
        { partition: 0, low: '0', high: '400', offset: '400' },
        { partition: 1, low: '0', high: '50', offset: '50' },
      ],
      'ysb.counts.in': [0, 1, 2, 3].map((p) => ({ partition: p, low: '0', high: p === 0 ? '11' : '0', offset: '0' })),
    };
    await m.refreshLag({ fetchTopicOffsets: async (t: string) => ends[t] ?? [] } as unknown as Admin);
    const [views, counts] = m.sample();
    expect(views!.lag).toBe(100 + 50);
    expect(counts!.lag).toBe(0);
  });
});

describe('sluice dev status line', () => {
  it('shows rate, lag, event time and how far it is behind the clock, and failures', () => {
    const line = formatStageStatus({ stage: 'counts', records: 10, ratePerSec: 1234.4, invocations: 20, failures: 2, lag: 7, watermark: T0 + 1_500, tasksReported: 4, tasks: 4, lastError: undefined }, T0 + 4_000);
    expect(line).toContain('counts');
    expect(line).toContain('1,234 rec/s');
    expect(line).toContain('lag 7');
    expect(line).toContain('event time 12:00:01.500 (2.5s behind)');
    expect(line).toContain('20 calls, 2 failed (retried)');
    const waiting = formatStageStatus({ stage: 'views', records: 0, ratePerSec: 0, invocations: 0, failures: 0, lag: undefined, watermark: undefined, tasksReported: 1, tasks: 2, lastError: undefined }, T0);
    expect(waiting).toContain('lag ?');
    expect(waiting).toContain('event time –  (1/2 tasks reported)');
  });
});
