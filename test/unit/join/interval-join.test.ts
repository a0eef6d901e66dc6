// The interval join of one key as a pure state machine (framework/join/interval-join.ts): which
// pairs meet, when buffered records leave, what the outer variants emit, what is late, and that the
// timers are exactly the buffered records' cleanup times.
import { describe, expect, it } from 'vitest';
import type { IntervalJoinSpec, JoinType } from '../../../framework/join/spec.js';
import { cleanupTimeOf, intervalTimersOf, onJoinElement, onJoinEventTime, type IntervalJoinState } from '../../../framework/join/interval-join.js';

const spec = (type: JoinType = 'inner', lowerMs = -5, upperMs = 10): IntervalJoinSpec => ({ kind: 'interval', type, lowerMs, upperMs });
const MIN = Number.MIN_SAFE_INTEGER;

/** Feeds [side, value, time] in order at `watermark`, returning the state and every result. */
function feed(s: IntervalJoinSpec, items: ReadonlyArray<readonly ['left' | 'right', string, number]>, watermark = MIN) {
  let state: IntervalJoinState | undefined;
  const results: unknown[] = [];
  const late: string[] = [];
  for (const [side, v, t] of items) {
    const r = onJoinElement(s, state, side, v, t, watermark);
    state = r.state;
    results.push(...r.results);
    if (r.late) late.push(v);
  }
  return { state, results, late };
}

describe('interval join of one key', () => {
  it('matches a right record at b with a left record at a iff a + lower ≤ b ≤ a + upper, bounds included', () => {
    const { results } = feed(spec(), [
      ['left', 'a', 100],
      ['right', 'too-early', 94],
      ['right', 'lower', 95],
      ['right', 'upper', 110],
      ['right', 'too-late', 111],
    ]);
    expect(results).toEqual([
      { left: 'a', right: 'lower', timestamp: 100 },
      { left: 'a', right: 'upper', timestamp: 110 },
    ]);
  });

  it('emits a pair once, when its second record arrives, whichever side that is (out of order on both sides)', () => {
    const { results } = feed(spec(), [
      ['right', 'r1', 103],
      ['left', 'a', 100],
      ['left', 'b', 98],
      ['right', 'r2', 96],
    ]);
    expect(results).toEqual([
      { left: 'a', right: 'r1', timestamp: 103 },
      { left: 'b', right: 'r1', timestamp: 103 },
      { left: 'a', right: 'r2', timestamp: 100 },
      { left: 'b', right: 'r2', timestamp: 98 },
    ]);
  });

  it('keeps a left record until the watermark reaches a + upper and a right record until b − lower', () => {
    const s = spec();
    const { state } = feed(s, [
      ['left', 'a', 100],
      ['right', 'r', 100],
    ]);
    expect(cleanupTimeOf(s, 'left', 100)).toBe(110);
    expect(cleanupTimeOf(s, 'right', 100)).toBe(105);
    expect(intervalTimersOf(s, state)).toEqual([105, 110]);
    const at105 = onJoinEventTime(s, state, 105);
    expect(at105.state).toEqual({ l: [{ t: 100, v: 'a' }], r: [] });
    expect(onJoinEventTime(s, at105.state, 110).state).toBeUndefined();
  });

  it('sends a record at or behind the watermark to the late output and keeps the state as it was', () => {
    const s = spec();
    const before = feed(s, [['left', 'a', 100]]).state;
    const r = onJoinElement(s, before, 'right', 'r', 100, 100);
    expect(r).toEqual({ state: before, results: [], late: true });
    expect(onJoinElement(s, before, 'right', 'r', 101, 100).late).toBe(false);
  });

  it('does not buffer a record no future partner can reach, and emits it unmatched at once on a side that asks', () => {
    // upper −2: a left record at 100 matches right records in [95, 98]; with watermark 99 none can come.
    const s = spec('left', -5, -2);
    const r = onJoinElement(s, undefined, 'left', 'a', 100, 99);
    expect(r).toEqual({ state: undefined, results: [{ left: 'a', right: null, timestamp: 100 }], late: false });
  });
});

describe('outer variants', () => {
  it('left: emits a left record that never matched when it leaves state, at its cleanup time', () => {
    const s = spec('left');
    const { state, results } = feed(s, [
      ['left', 'lonely', 100],
      ['left', 'met', 200],
      ['right', 'r', 201],
    ]);
    expect(results).toEqual([{ left: 'met', right: 'r', timestamp: 201 }]);
    const fired = onJoinEventTime(s, state, 210);
    expect(fired.results).toEqual([{ left: 'lonely', right: null, timestamp: 110 }]);
    expect(fired.state).toBeUndefined();
  });

  it('right: emits a right record that never matched at b − lower; unmatched left records vanish silently', () => {
    const s = spec('right');
    const { state } = feed(s, [
      ['left', 'a', 100],
      ['right', 'lonely', 300],
    ]);
    expect(onJoinEventTime(s, state, 305).results).toEqual([{ left: null, right: 'lonely', timestamp: 305 }]);
  });

  it('outer: emits both sides unmatched, and a record that matched is never emitted unmatched', () => {
    const s = spec('outer');
    const { state, results } = feed(s, [
      ['left', 'a', 100],
      ['right', 'r', 104],
      ['left', 'b', 500],
      ['right', 'q', 900],
    ]);
    expect(results).toEqual([{ left: 'a', right: 'r', timestamp: 104 }]);
    expect(onJoinEventTime(s, state, 10_000).results).toEqual([
      { left: 'b', right: null, timestamp: 510 },
      { left: null, right: 'q', timestamp: 905 },
    ]);
  });

  it('inner keeps no matched flags (smaller state)', () => {
    const { state } = feed(spec('inner'), [
      ['left', 'a', 100],
      ['right', 'r', 100],
    ]);
    expect(state).toEqual({ l: [{ t: 100, v: 'a' }], r: [{ t: 100, v: 'r' }] });
  });

  it('never mutates the state it is given', () => {
    const s = spec('outer');
    const { state } = feed(s, [['left', 'a', 100]]);
    const frozen = JSON.stringify(state);
    onJoinElement(s, state, 'right', 'r', 101, MIN);
    onJoinEventTime(s, state, 1_000);
    expect(JSON.stringify(state)).toBe(frozen);
  });
});
