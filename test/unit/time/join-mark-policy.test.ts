// How joins are classified for marks and ticks: a tumbling or sliding window join acts at its
// windows' grid points (boundary marks); an interval join and a session window join act at points
// of the data (interval marks, with the reason); a stream-table join reads no time at all; a stage
// that only feeds a table is not ticked and sends no marks; no join has processing-time timers.
import { describe, expect, it } from 'vitest';
import { compile, json, pipeline, session, sliding, string, tumbling } from '../../../framework/index.js';
import type { KeyedStream, Topology } from '../../../framework/index.js';
import { markPolicyOf, type MarkPolicy } from '../../../framework/time/mark-policy.js';
import { hasProcessingTimers, tickedStages } from '../../../framework/time/due.js';
import { eventTimeDownstream } from '../../../framework/topology/names.js';

interface Ev {
  readonly k: string;
  readonly at: number;
}

type Shape = 'tumbling' | 'sliding' | 'session' | 'interval' | 'table';

/** a, b ─keyBy k─▶ by-k (a ⋈ b as `shape`) ─▶ out. */
function joined(shape: Shape): Topology {
  const p = pipeline('jm', { partitions: 2 });
  const a: KeyedStream<string, Ev> = p.source('a', { serde: json<Ev>(), eventTime: (e) => e.at }).keyBy((e) => e.k, { name: 'k', keySerde: string() });
  const b = (): KeyedStream<string, Ev> => p.source('b', { serde: json<Ev>(), eventTime: (e) => e.at }).keyBy((e) => e.k, { name: 'k2', keySerde: string() });
  const out = {
    tumbling: () => a.windowJoin(b(), tumbling('10s'), { allowedLateness: '2s' }).map((r) => r.left),
    sliding: () => a.windowJoin(b(), sliding('10s', '5s')).map((r) => r.left),
    session: () => a.windowJoin(b(), session('30s')).map((r) => r.left),
    interval: () => a.intervalJoin(b(), { lower: '-1m', upper: '+1m' }).map((r) => r.left),
    table: () => a.join(p.table<string, Ev>('b', { keySerde: string(), serde: json<Ev>() })).map((r) => r.left),
  }[shape]();
  out.sink('out', { serde: json() });
  return compile(p.plan());
}

const policy = (t: Topology, stage: string): MarkPolicy => markPolicyOf(t, t.stages.find((s) => s.name === stage)!);

describe('the mark policy upstream of a join', () => {
  it('tumbling window join: the windows’ maxTimestamp and cleanup time, repeating with the size', () => {
    expect(policy(joined('tumbling'), 'a')).toEqual({ kind: 'boundaries', points: [{ period: 10_000, offset: 9_999 }, { period: 10_000, offset: 1_999 }] });
  });

  it('sliding window join: repeating with the slide', () => {
    expect(policy(joined('sliding'), 'a')).toEqual({ kind: 'boundaries', points: [{ period: 5_000, offset: 4_999 }] });
  });

  it('session window join: interval marks, because a session’s end depends on the data', () => {
    const s = policy(joined('session'), 'a');
    expect(s).toMatchObject({ kind: 'interval', intervalMs: 1_000 });
    expect(s.kind === 'interval' && s.reason).toContain('session windows');
  });

  it('interval join: interval marks, because each record leaves state at its own time', () => {
    const s = policy(joined('interval'), 'b');
    expect(s).toMatchObject({ kind: 'interval' });
    expect(s.kind === 'interval' && s.reason).toContain('interval join');
  });

  it('stream-table join: no event time downstream, so neither source sends marks or gets ticks', () => {
    const t = joined('table');
    expect(t.stages.find((s) => s.name === 'by-k')!.eventTime).toBe(false);
    expect(eventTimeDownstream(t, 'a')).toEqual([]);
    expect(tickedStages(t)).toEqual([]);
  });
});

describe('a stage that only feeds a table', () => {
  it('takes no part in the downstream watermark: no marks, no ticks, even when event time is needed further on', () => {
    const p = pipeline('jt', { partitions: 2 });
    const table = p.table<string, Ev>('rows', { keySerde: string(), serde: json<Ev>() });
    p.source('a', { serde: json<Ev>(), eventTime: (e) => e.at })
      .keyBy((e) => e.k, { name: 'k', keySerde: string() })
      .join(table)
      .map((r) => r.left)
      .keyBy((e) => e.k, { name: 'later', keySerde: string() })
      .windowJoin(p.source('c', { serde: json<Ev>(), eventTime: (e) => e.at }).keyBy((e) => e.k, { name: 'c', keySerde: string() }), tumbling('1m'))
      .sink('out', { serde: json() });
    const t = compile(p.plan());
    expect(eventTimeDownstream(t, 'rows')).toEqual([]);
    expect(eventTimeDownstream(t, 'a')).toEqual(['by-k']);
    expect(tickedStages(t).map((s) => s.name).sort()).toEqual(['a', 'c']);
  });
});

describe('processing-time timers', () => {
  it('no join kind has any: their stages are never ticked for timers', () => {
    for (const shape of ['tumbling', 'session', 'interval', 'table'] as const) {
      const t = joined(shape);
      expect(hasProcessingTimers(t, t.stages.find((s) => s.name === 'by-k')!)).toBe(false);
    }
  });
});
