// Window joins: the pure pairing of a firing window (join/window-join.ts), and the stage in the
// harness: tumbling, sliding and session windows, outer variants, lateness and the late topic.
import { describe, expect, it } from 'vitest';
import { json, pipeline, session, sliding, tumbling } from '../../../framework/index.js';
import type { JoinType, KeyedStream, WindowAssigner, WindowJoinResult } from '../../../framework/index.js';
import { joinWindow } from '../../../framework/join/window-join.js';
import { stageHarness } from '../../../framework/testing/index.js';
import type { StageHarness } from '../../../framework/testing/index.js';

describe('the contents of a firing join window', () => {
  const values = [
    { s: 'l' as const, v: 'a' },
    { s: 'r' as const, v: 'x' },
    { s: 'l' as const, v: 'b' },
    { s: 'r' as const, v: 'y' },
  ];

  it('inner: every left × right pair, lefts in arrival order', () => {
    expect(joinWindow({ type: 'inner' }, values)).toEqual([
      { left: 'a', right: 'x' },
      { left: 'a', right: 'y' },
      { left: 'b', right: 'x' },
      { left: 'b', right: 'y' },
    ]);
  });

  it('left/right/outer: a window with one side only emits that side unmatched, if the type asks', () => {
    const lefts = [{ s: 'l' as const, v: 'a' }];
    const rights = [{ s: 'r' as const, v: 'x' }];
    expect(joinWindow({ type: 'inner' }, lefts)).toEqual([]);
    expect(joinWindow({ type: 'left' }, lefts)).toEqual([{ left: 'a', right: null }]);
    expect(joinWindow({ type: 'left' }, rights)).toEqual([]);
    expect(joinWindow({ type: 'right' }, rights)).toEqual([{ left: null, right: 'x' }]);
    expect(joinWindow({ type: 'outer' }, lefts)).toEqual([{ left: 'a', right: null }]);
    expect(joinWindow({ type: 'outer' }, values)).toHaveLength(4);
  });
});

interface Ev {
  readonly id: string;
  readonly k: string;
  readonly at: number;
}

function windows(assigner: WindowAssigner, type: JoinType = 'inner', allowedLateness = 0) {
  const p = pipeline('wj', { partitions: 1 });
  const a: KeyedStream<string, Ev> = p.source('a', { serde: json<Ev>(), eventTime: (e) => e.at }).keyBy((e) => e.k, { name: 'k' });
  const b: KeyedStream<string, Ev> = p.source('b', { serde: json<Ev>(), eventTime: (e) => e.at }).keyBy((e) => e.k, { name: 'k2' });
  a.windowJoin(b, assigner, { type, allowedLateness }).sink('out', { serde: json() });
  return { h: stageHarness(p, 'by-k'), a, b };
}

const ev = (id: string, at: number, k = 'k1') => ({ key: k, value: { id, k, at }, timestamp: at });
type Out = WindowJoinResult<string, Ev | null, Ev | null>;
const results = (h: StageHarness) => h.outputs<Out>('out').map((o) => `${o.value.left?.id ?? '-'}+${o.value.right?.id ?? '-'} [${o.value.window.start},${o.value.window.end}) ${o.value.firing}`);

describe('window join stage', () => {
  it('tumbling: joins the records of both sides in one window when the watermark passes its end', async () => {
    const { h, a, b } = windows(tumbling(10));
    await h.send([ev('a1', 3), ev('a2', 12)], { from: a });
    await h.send([ev('b1', 7), ev('b2', 15)], { from: b });
    await h.watermark(8);
    expect(results(h)).toEqual([]);
    await h.watermark(9);
    expect(results(h)).toEqual(['a1+b1 [0,10) on-time']);
    await h.watermark(19);
    expect(results(h)).toEqual(['a1+b1 [0,10) on-time', 'a2+b2 [10,20) on-time']);
    expect(h.outputs<Out>('out').map((o) => o.timestamp)).toEqual([9, 19]);
    expect(h.state('k1', 'join-4')).toBeUndefined();
  });

  it('sliding: a pair meets in every window both records are in', async () => {
    const { h, a, b } = windows(sliding(10, 5));
    await h.send([ev('a1', 6)], { from: a });
    await h.send([ev('b1', 8)], { from: b });
    await h.watermark(100);
    expect(results(h)).toEqual(['a1+b1 [0,10) on-time', 'a1+b1 [5,15) on-time']);
  });

  it('session: records of both sides extend one session; it fires when the watermark passes its end', async () => {
    const { h, a, b } = windows(session(10), 'outer');
    await h.send([ev('a1', 0), ev('a2', 25)], { from: a });
    await h.send([ev('b1', 8)], { from: b });
    await h.watermark(100);
    expect(results(h)).toEqual(['a1+b1 [0,18) on-time', 'a2+- [25,35) on-time']);
  });

  it('left: emits the left records of a window that has no right record', async () => {
    const { h, a, b } = windows(tumbling(10), 'left');
    await h.send([ev('a1', 1), ev('a2', 11)], { from: a });
    await h.send([ev('b2', 12), ev('b3', 25)], { from: b });
    await h.watermark(100);
    expect(results(h)).toEqual(['a1+- [0,10) on-time', 'a2+b2 [10,20) on-time']);
  });

  it('sends a record too late for every window to the late topic; allowed lateness re-fires the window whole', async () => {
    const { h, a, b } = windows(tumbling(10), 'inner', 5);
    await h.send([ev('a1', 1)], { from: a });
    await h.send([ev('b1', 2)], { from: b });
    await h.watermark(10);
    await h.send([ev('b2', 3)], { from: b }); // within lateness: the window fires again, with every pair
    await h.watermark(14);
    await h.send([ev('b3', 4)], { from: b }); // cleanup time 14 reached: late
    expect(results(h)).toEqual(['a1+b1 [0,10) on-time', 'a1+b1 [0,10) late', 'a1+b2 [0,10) late']);
    expect(h.lateRecords<Ev>().map((r) => r.value.id)).toEqual(['b3']);
  });
});
