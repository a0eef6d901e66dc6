import { describe, expect, it } from 'vitest';
import { compile, count, globalWindow, countTrigger, json, pipeline, session, sliding, sum, tumbling } from '../../../framework/index.js';
import type { PipelineOptions, Stream, Topology } from '../../../framework/index.js';
import { crossesPoint, markFlushDue, markPolicyOf, shouldSendMarks, type MarkPolicy } from '../../../framework/time/mark-policy.js';
import { INITIAL_TIME } from '../../../framework/time/watermark.js';

interface Ev {
  readonly user: string;
  readonly region: string;
  readonly at: number;
}

type Shape = 'tumbling' | 'sliding' | 'session' | 'global' | 'process' | 'none';

/** events ─keyBy user─▶ users (`shape`) ─keyBy region─▶ regions (tumbling 20 s sum) ─▶ out */
function chain(shape: Shape, options: PipelineOptions = {}): Topology {
  const p = pipeline('pol', options);
  const byUser = p.source('events', { serde: json<Ev>(), eventTime: (e) => e.at, partitions: 2 }).keyBy((e) => e.user, { name: 'users', partitions: 2 });
  const one = (): { value: number } => ({ value: 1 });
  const counts: Stream<{ value: number }> = {
    tumbling: () => byUser.window(tumbling('10s'), { allowedLateness: '1s' }).aggregate(count()).map(one),
    sliding: () => byUser.window(sliding('10s', '4s', { offset: '1s' })).aggregate(count()).map(one),
    session: () => byUser.window(session('30s')).aggregate(count()).map(one),
    global: () => byUser.window(globalWindow(countTrigger(3))).aggregate(count()).map(one),
    process: () => byUser.process<{ value: number }>((_, ctx) => ctx.emit(one())),
    none: () => byUser.aggregate(count()).map(one),
  }[shape]();
  counts
    .keyBy(() => 'all', { name: 'regions', partitions: 1 })
    .window(tumbling('20s'))
    .aggregate(sum((r: { value: number }) => r.value))
    .sink('out', { serde: json() });
  return compile(p.plan());
}

const policy = (t: Topology, stage: string): MarkPolicy => markPolicyOf(t, t.stages.find((s) => s.name === stage)!);

describe('the mark policy of a stage', () => {
  it('is the window ends and cleanup times of every event-time stage downstream, each with its period', () => {
    const t = chain('tumbling');
    expect(policy(t, 'events')).toEqual({
      kind: 'boundaries',
      points: [
        { period: 10_000, offset: 9_999 }, // maxTimestamp of the 10 s windows
        { period: 10_000, offset: 999 }, // their cleanup, 1 s of lateness later
        { period: 20_000, offset: 19_999 }, // the regions' 20 s windows (no lateness: one point)
      ],
    });
    expect(policy(t, 'by-users')).toEqual({ kind: 'boundaries', points: [{ period: 20_000, offset: 19_999 }] });
  });

  it('for sliding windows repeats with the slide, shifted by the offset', () => {
    expect(policy(chain('sliding'), 'events')).toMatchObject({ kind: 'boundaries', points: [{ period: 4_000, offset: (1_000 + 10_000 - 1) % 4_000 }, { period: 20_000, offset: 19_999 }] });
  });

  it('has no points for a global window: only idleness is sent', () => {
    expect(policy(chain('global'), 'events')).toMatchObject({ kind: 'boundaries', points: [{ period: 20_000, offset: 19_999 }] });
  });

  it('falls back to interval marks when a session window or a process function is downstream, naming why', () => {
    const s = policy(chain('session'), 'events');
    expect(s).toMatchObject({ kind: 'interval', intervalMs: 1_000 });
    expect(s.kind === 'interval' && s.reason).toContain('session windows');
    const p = policy(chain('process'), 'events');
    expect(p.kind === 'interval' && p.reason).toContain('process function');
    // A stage after the session stage still gets boundaries: only its own downstream counts.
    expect(policy(chain('session'), 'by-users')).toEqual({ kind: 'boundaries', points: [{ period: 20_000, offset: 19_999 }] });
  });

  it("is interval marks everywhere with marks: 'interval' (sources every watermarkInterval, downstream every change)", () => {
    const t = chain('tumbling', { marks: 'interval', watermarkInterval: '3s' });
    expect(policy(t, 'events')).toMatchObject({ kind: 'interval', intervalMs: 3_000 });
    expect(policy(t, 'by-users')).toMatchObject({ kind: 'interval', intervalMs: 0 });
  });

  it('rejects an unknown marks option at build time, naming the field', () => {
    expect(() => pipeline('pol', { marks: 'sometimes' as 'interval' })).toThrow(/marks/);
  });
});

describe('crossing a point', () => {
  const points = [{ period: 10, offset: 9 }];
  it('is a point in (from, to]', () => {
    expect(crossesPoint(points, 0, 8)).toBe(false);
    expect(crossesPoint(points, 0, 9)).toBe(true);
    expect(crossesPoint(points, 9, 18)).toBe(false);
    expect(crossesPoint(points, 9, 19)).toBe(true);
    expect(crossesPoint(points, 19, 19)).toBe(false);
    expect(crossesPoint(points, -25, -21)).toBe(true); // -21 ≡ 9 (mod 10)
    expect(crossesPoint(points, -20, -12)).toBe(false);
  });

  it('counts from the lowest watermark (nothing sent yet) to real event times', () => {
    expect(crossesPoint(points, INITIAL_TIME.sentWm, 1_700_000_000_000)).toBe(true);
  });

  it('is never crossed by no points or a watermark that did not move forward', () => {
    expect(crossesPoint([], 0, 1_000)).toBe(false);
    expect(crossesPoint(points, 30, 20)).toBe(false);
  });
});

describe('sending marks', () => {
  const boundaries: MarkPolicy = { kind: 'boundaries', points: [{ period: 10, offset: 9 }] };
  const interval: MarkPolicy = { kind: 'interval', intervalMs: 1_000, reason: 'test' };
  const at = (wm: number, sentWm: number, extra = {}) => ({ ...INITIAL_TIME, wm, sentWm, sentAt: 5_000, ...extra });

  it('on boundaries: when the watermark crosses a point, or idleness changes', () => {
    expect(shouldSendMarks(boundaries, at(18, 10), 9_999_999)).toBe(false);
    expect(shouldSendMarks(boundaries, at(19, 10), 5_000)).toBe(true);
    expect(shouldSendMarks(boundaries, at(18, 18, { idle: true }), 5_000)).toBe(true);
  });

  it('on an interval: a changed watermark once the interval passed, a change of idleness at once', () => {
    expect(shouldSendMarks(interval, at(18, 10), 5_999)).toBe(false);
    expect(shouldSendMarks(interval, at(18, 10), 6_000)).toBe(true);
    expect(shouldSendMarks(interval, at(10, 10, { idle: true }), 5_000)).toBe(true);
  });

  it('a throttled interval mark is due for a tick when its interval ends; boundaries never leave one waiting', () => {
    expect(markFlushDue(interval, at(18, 10))).toBe(6_000);
    expect(markFlushDue(interval, at(10, 10))).toBeUndefined();
    expect(markFlushDue(boundaries, at(18, 10))).toBeUndefined();
  });
});
