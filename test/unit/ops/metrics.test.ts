import { afterEach, describe, expect, it, vi } from 'vitest';
import type { InvocationReport } from '../../../framework/runtime/handler.js';
import type { TaskReport } from '../../../framework/runtime/task.js';
import {
  defaultMetricsSink,
  emfDocument,
  INVOCATION_METRICS,
  invocationFigures,
  cloudWatchAcceptsTimestamp,
  lineSink,
  recordInvocation,
  recordInvocationFailure,
  silentSink,
  stdoutEmfSink,
} from '../../../framework/ops/metrics.js';
import { MetricsAggregator } from '../../../framework/ops/metrics-aggregator.js';
import { SluiceError } from '../../../framework/errors.js';

const AT = 1_767_225_600_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function task(fields: Partial<TaskReport> & { task: string }): TaskReport {
  return { kind: 'data', received: 0, duplicates: 0, processed: 0, outputs: 0, deadLetters: 0, timersFired: 0, watermark: 0, seq: undefined, recovery: undefined, ...fields } as TaskReport;
}

const report: InvocationReport = {
  stage: 'sessions',
  tasks: [
    task({ task: 'sessions.0', received: 10, duplicates: 2, processed: 8, outputs: 5, deadLetters: 1, seq: 7 }),
    task({ task: 'sessions.1', received: 4, duplicates: 4, processed: 0, outputs: 0, deadLetters: 0, seq: undefined, recovery: { seq: 3, outcome: 'aborted' } }),
    task({ task: 'sessions.0', kind: 'control', received: 3, processed: 3, outputs: 2, timersFired: 2, seq: 8 }),
  ],
};

interface Emf {
  _aws: { Timestamp: number; CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> };
  [key: string]: unknown;
}

function capture(): { lines: string[]; sink: ReturnType<typeof lineSink> } {
  const lines: string[] = [];
  return { lines, sink: lineSink((l) => lines.push(l)) };
}

describe('recordInvocation: one EMF document per invocation', () => {
  it('emits exactly one line, a JSON EMF document', () => {
    const { lines, sink } = capture();
    recordInvocation(report, { app: 'clickstream', durationMs: 42, at: AT }, sink);
    expect(lines).toHaveLength(1);
    expect(() => JSON.parse(lines[0]!) as unknown).not.toThrow();
  });

  it('carries the timestamp, namespace Sluice and exactly the dimensions app and stage', () => {
    const { lines, sink } = capture();
    recordInvocation(report, { app: 'clickstream', durationMs: 42, at: AT }, sink);
    const doc = JSON.parse(lines[0]!) as Emf;
    expect(doc._aws.Timestamp).toBe(AT);
    expect(doc._aws.CloudWatchMetrics).toHaveLength(1);
    const directive = doc._aws.CloudWatchMetrics[0]!;
    expect(directive.Namespace).toBe('Sluice');
    expect(directive.Dimensions).toEqual([['app', 'stage']]);
    expect(doc['app']).toBe('clickstream');
    expect(doc['stage']).toBe('sessions');
    expect(doc['service']).toBeUndefined();
  });

  it('declares every metric with Name and Unit and puts its value at the top level; control records count apart', () => {
    const { lines, sink } = capture();
    recordInvocation(report, { app: 'clickstream', durationMs: 42, at: AT }, sink);
    const doc = JSON.parse(lines[0]!) as Emf;
    const metrics = doc._aws.CloudWatchMetrics[0]!.Metrics;
    for (const m of metrics) {
      expect(typeof m.Name).toBe('string');
      expect(['Count', 'Milliseconds']).toContain(m.Unit);
      expect(typeof doc[m.Name]).toBe('number');
    }
    expect(Object.fromEntries(metrics.map((m) => [m.Name, doc[m.Name]]))).toEqual({
      Invocations: 1,
      InvocationsFailed: 0,
      Tasks: 3,
      BatchesCommitted: 2,
      RecordsIn: 14,
      ControlRecordsIn: 3,
      RecordsProcessed: 8,
      RecordsOut: 7,
      DeadLettered: 1,
      DuplicatesSkipped: 6,
      TimersFired: 2,
      Recoveries: 1,
      BatchDuration: 42,
    });
    expect(metrics.find((m) => m.Name === 'BatchDuration')?.Unit).toBe('Milliseconds');
  });

  it('emits the optional measurements only when the handler passes them', () => {
    const { lines, sink } = capture();
    recordInvocation(report, { app: 'a', durationMs: 5, commitMs: 3, recoveries: 0, cacheHits: 9, cacheMisses: 2, dynamoUnits: 12, watermarkLagMs: 1500, at: AT }, sink);
    const doc = JSON.parse(lines[0]!) as Emf;
    expect(doc['CommitDuration']).toBe(3);
    expect(doc['Recoveries']).toBe(0);
    expect(doc['StateCacheHits']).toBe(9);
    expect(doc['StateCacheMisses']).toBe(2);
    expect(doc['DynamoCapacityUnits']).toBe(12);
    expect(doc['WatermarkLag']).toBe(1500);
    expect(doc._aws.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name)).toEqual(INVOCATION_METRICS.map((m) => m.name));
  });

  it('returns the figures it emitted', () => {
    expect(recordInvocation(report, { app: 'a', durationMs: 1, at: AT }, silentSink)).toEqual(invocationFigures(report, { app: 'a', durationMs: 1, at: AT }));
  });
});

describe('recordInvocationFailure', () => {
  it('counts a failed invocation and names the error code as metadata', () => {
    const { lines, sink } = capture();
    recordInvocationFailure('sessions', new SluiceError('SLUICE_INVOCATION_FAILED', 'boom'), { app: 'clickstream', durationMs: 9, at: AT }, sink);
    const doc = JSON.parse(lines[0]!) as Emf;
    expect(doc['Invocations']).toBe(1);
    expect(doc['InvocationsFailed']).toBe(1);
    expect(doc['RecordsIn']).toBe(0);
    expect(doc['errorCode']).toBe('SLUICE_INVOCATION_FAILED');
    expect(doc._aws.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name)).not.toContain('errorCode');
  });
});

describe('stdoutEmfSink', () => {
  afterEach(() => vi.restoreAllMocks());

  it('writes the document as one line on stdout, as Lambda expects', () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    recordInvocation(report, { app: 'clickstream', durationMs: 1, at: Date.now() }, stdoutEmfSink);
    expect(warn).not.toHaveBeenCalled();
    expect(write).toHaveBeenCalledTimes(1);
    const line = String(write.mock.calls[0]![0]);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.trimEnd()).not.toContain('\n');
    expect((JSON.parse(line) as Emf)._aws.CloudWatchMetrics[0]!.Namespace).toBe('Sluice');
  });

  it('warns when CloudWatch would skip the document for its timestamp, and still writes it', () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    recordInvocation(report, { app: 'clickstream', durationMs: 1, at: Date.now() - 15 * DAY }, stdoutEmfSink);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toContain('CloudWatch skips EMF timestamps more than 14 days old or 2 hours ahead');
    expect(write).toHaveBeenCalledTimes(1);
  });
});

describe('the EMF timestamp', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is the invocation’s time, however far from now, with no warning (a test’s clock often is far)', () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const long = Date.UTC(2001, 0, 1);
    expect(emfDocument(invocationFigures(report, { app: 'a', durationMs: 1, at: long }))._aws.Timestamp).toBe(long);
    expect([out.mock.calls.length, err.mock.calls.length]).toEqual([0, 0]);
  });

  it('is accepted by CloudWatch from 14 days ago to 2 hours ahead', () => {
    const now = AT;
    expect([now - 14 * DAY, now, now + 2 * HOUR].map((at) => cloudWatchAcceptsTimestamp(at, now))).toEqual([true, true, true]);
    expect([now - 14 * DAY - 1, now + 2 * HOUR + 1, NaN].map((at) => cloudWatchAcceptsTimestamp(at, now))).toEqual([false, false, false]);
  });
});

describe('defaultMetricsSink', () => {
  it('writes EMF inside Lambda', () => {
    expect(defaultMetricsSink({ AWS_LAMBDA_FUNCTION_NAME: 'clickstream-sessions' })).toBe(stdoutEmfSink);
  });

  it('is silent outside Lambda unless SLUICE_METRICS=emf', () => {
    expect(defaultMetricsSink({})).toBe(silentSink);
    expect(defaultMetricsSink({ SLUICE_METRICS: 'emf' })).toBe(stdoutEmfSink);
  });

  it('is silent in Lambda with SLUICE_METRICS=off', () => {
    expect(defaultMetricsSink({ AWS_LAMBDA_FUNCTION_NAME: 'f', SLUICE_METRICS: 'off' })).toBe(silentSink);
  });
});

describe('MetricsAggregator: the local sink behind the emulator status line', () => {
  it('sums invocations per stage', () => {
    const agg = new MetricsAggregator();
    recordInvocation(report, { app: 'clickstream', durationMs: 40, at: AT }, agg);
    recordInvocation(report, { app: 'clickstream', durationMs: 20, at: AT + 1 }, agg);
    recordInvocationFailure('sessions', new Error('x'), { app: 'clickstream', durationMs: 30, at: AT + 2 }, agg);
    expect(agg.snapshot()).toEqual([
      {
        app: 'clickstream',
        stage: 'sessions',
        invocations: 3,
        failures: 1,
        recordsIn: 28,
        controlRecordsIn: 6,
        recordsProcessed: 16,
        recordsOut: 14,
        deadLettered: 2,
        duplicatesSkipped: 12,
        timersFired: 4,
        recoveries: 2,
        batchesCommitted: 4,
        totalDurationMs: 90,
        maxDurationMs: 40,
        watermarkLagMs: undefined,
        lastAt: AT + 2,
      },
    ]);
  });

  it('renders one compact status line', () => {
    const agg = new MetricsAggregator();
    recordInvocation(report, { app: 'clickstream', durationMs: 40, at: AT }, agg);
    expect(agg.statusLine()).toBe('sessions 14→7 dlq 1 dup 6 fail 0 40ms timers 2 recovered 1');
  });

  it('sees the same figures as the EMF document', () => {
    const agg = new MetricsAggregator();
    const { lines, sink } = capture();
    const figures = invocationFigures(report, { app: 'a', durationMs: 7, at: AT });
    const doc = emfDocument(figures);
    agg.record(figures, doc);
    sink.record(figures, doc);
    const emf = JSON.parse(lines[0]!) as Emf;
    expect(agg.snapshot()[0]!.recordsIn).toBe(emf['RecordsIn']);
    expect(agg.snapshot()[0]!.deadLettered).toBe(emf['DeadLettered']);
  });
});
