import { describe, expect, it } from 'vitest';
import { count, sum } from '../../../framework/dsl/aggregate.js';
import type { AggregateFunction } from '../../../framework/dsl/aggregate.js';
import { ConfigError } from '../../../framework/errors.js';
import type { Duration } from '../../../framework/time/duration.js';
import { countTrigger, eventTimeTrigger } from '../../../framework/time/triggers.js';
import type { TriggerSpec } from '../../../framework/time/triggers.js';
import { onElement, onEventTime, onProcessingTime, timersOf, validateWindowSpec, windowSpecName } from '../../../framework/time/window-operator.js';
import type { KeyWindowsState, TimerChanges, WindowSpec, WindowState } from '../../../framework/time/window-operator.js';
import { GLOBAL_WINDOW, globalWindow, session, sliding, tumbling } from '../../../framework/time/windows.js';
import type { TimeWindow, WindowAssigner } from '../../../framework/time/windows.js';

const NO_WATERMARK = Number.NEGATIVE_INFINITY;
const KEY = 'k';

/** A spec summing numbers. */
function summing(assigner: WindowAssigner, allowedLatenessMs = 0, trigger?: TriggerSpec): WindowSpec<number, number, number> {
  return { assigner, allowedLatenessMs, ...(trigger ? { trigger } : {}), fn: { kind: 'aggregate', aggregate: sum((v: number) => v) } };
}

/** A spec listing the key and values of a window when it fires. */
function listing(assigner: WindowAssigner, allowedLatenessMs = 0): WindowSpec<string, never, string> {
  return { assigner, allowedLatenessMs, fn: { kind: 'process', process: (key, w, values) => [`${String(key)}@${w.start}:${values.join(',')}`] } };
}

function timers(changes: Partial<TimerChanges> = {}): TimerChanges {
  return { setEventTime: [], deleteEventTime: [], setProcessingTime: [], deleteProcessingTime: [], ...changes };
}

function window(start: number, end: number, over: Partial<WindowState> = {}): WindowState {
  return { start, end, acc: 0, count: 0, sinceFiring: 0, fired: false, earlyTimer: null, ...over };
}

/** Feeds [value, timestamp] pairs at a fixed watermark and processing time; returns the last state. */
function feed<IN>(spec: WindowSpec<IN, unknown, unknown>, elements: ReadonlyArray<readonly [IN, number]>, watermark = NO_WATERMARK, processingTime = 0): KeyWindowsState | undefined {
  let state: KeyWindowsState | undefined;
  for (const [value, ts] of elements) state = onElement(spec, state, value, ts, watermark, processingTime, KEY).state;
  return state;
}

function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const W0: TimeWindow = { start: 0, end: 10 };

describe('tumbling windows', () => {
  it('open a window and register its on-time timer at maxTimestamp', () => {
    const res = onElement(summing(tumbling(10)), undefined, 5, 3, NO_WATERMARK, 0, KEY);
    expect(res).toEqual({
      state: { windows: [window(0, 10, { acc: 5, count: 1, sinceFiring: 1 })] },
      firings: [],
      late: false,
      timers: timers({ setEventTime: [9] }),
    });
  });

  it('register no timer for a second element of an open window', () => {
    const spec = summing(tumbling(10));
    const res = onElement(spec, feed(spec, [[5, 3]]), 2, 7, NO_WATERMARK, 0, KEY);
    expect(res.state).toEqual({ windows: [window(0, 10, { acc: 7, count: 2, sinceFiring: 2 })] });
    expect(res.timers).toEqual(timers());
  });

  it('fire on time when event time reaches maxTimestamp, and without lateness purge at once', () => {
    const spec = summing(tumbling(10));
    const res = onEventTime(spec, feed(spec, [[5, 3], [2, 7]]), 9, 9, KEY);
    expect(res).toEqual({ state: undefined, firings: [{ window: W0, value: 7, firing: 'on-time' }], timers: timers() });
  });

  it('do not fire before event time reaches maxTimestamp', () => {
    const spec = summing(tumbling(10));
    const state = feed(spec, [[5, 3]]);
    expect(onEventTime(spec, state, 8, 8, KEY)).toEqual({ state, firings: [], timers: timers() });
  });

  it('count out-of-order elements of a window the watermark has not passed', () => {
    const spec = summing(tumbling(10));
    const state = feed(spec, [[1, 8], [10, 3], [100, 5]], 5);
    expect(onEventTime(spec, state, 9, 9, KEY).firings).toEqual([{ window: W0, value: 111, firing: 'on-time' }]);
  });

  it('register the on-time timer and the cleanup timer when lateness is allowed', () => {
    const res = onElement(summing(tumbling(10), 10), undefined, 5, 3, NO_WATERMARK, 0, KEY);
    expect(res.timers).toEqual(timers({ setEventTime: [9, 19] }));
  });

  it('keep a fired window until cleanup time when lateness is allowed', () => {
    const spec = summing(tumbling(10), 10);
    const res = onEventTime(spec, feed(spec, [[5, 3]]), 9, 9, KEY);
    expect(res).toEqual({
      state: { windows: [window(0, 10, { acc: 5, count: 1, sinceFiring: 0, fired: true })] },
      firings: [{ window: W0, value: 5, firing: 'on-time' }],
      timers: timers(),
    });
  });

  it('fire again, late, on every element allowed in after the on-time firing', () => {
    const spec = summing(tumbling(10), 10);
    const fired = onEventTime(spec, feed(spec, [[5, 3]]), 9, 9, KEY).state;
    const first = onElement(spec, fired, 2, 4, 12, 0, KEY);
    expect(first).toEqual({
      state: { windows: [window(0, 10, { acc: 7, count: 2, sinceFiring: 0, fired: true })] },
      firings: [{ window: W0, value: 7, firing: 'late' }],
      late: false,
      timers: timers(),
    });
    expect(onElement(spec, first.state, 1, 9, 18, 0, KEY).firings).toEqual([{ window: W0, value: 8, firing: 'late' }]);
  });

  it('fire at once, late, a window whose first element arrives after the watermark passed its end', () => {
    const res = onElement(summing(tumbling(10), 10), undefined, 5, 3, 12, 0, KEY);
    expect(res).toEqual({
      state: { windows: [window(0, 10, { acc: 5, count: 1, sinceFiring: 0, fired: true })] },
      firings: [{ window: W0, value: 5, firing: 'late' }],
      late: false,
      timers: timers({ setEventTime: [19] }),
    });
  });

  it('report an element late, and change nothing, once its window is past cleanup time', () => {
    const spec = summing(tumbling(10), 10);
    const state = deepFreeze(onEventTime(spec, feed(spec, [[5, 3]]), 9, 9, KEY).state);
    const res = onElement(spec, state, 2, 4, 19, 0, KEY);
    expect(res.late).toBe(true);
    expect(res.state).toBe(state);
    expect(res.firings).toEqual([]);
    expect(res.timers).toEqual(timers());
  });

  it('report an element late without lateness as soon as the watermark reaches its window end', () => {
    const res = onElement(summing(tumbling(10)), undefined, 2, 4, 9, 0, KEY);
    expect(res).toEqual({ state: undefined, firings: [], late: true, timers: timers() });
  });

  it('purge a window at its cleanup timer', () => {
    const spec = summing(tumbling(10), 10);
    const fired = onEventTime(spec, feed(spec, [[5, 3]]), 9, 9, KEY).state;
    expect(onEventTime(spec, fired, 19, 19, KEY)).toEqual({ state: undefined, firings: [], timers: timers() });
  });

  it('share one timer between a cleanup and an on-time firing at the same time', () => {
    // [0,10) is cleaned up at 9 + 10 = 19, when [10,20) is due.
    const spec = summing(tumbling(10), 10);
    const fired = onEventTime(spec, feed(spec, [[5, 3]]), 9, 9, KEY).state;
    const second = onElement(spec, fired, 1, 15, 9, 0, KEY);
    expect(second.timers).toEqual(timers({ setEventTime: [29] }));
    expect(timersOf(spec, second.state)).toEqual({ eventTime: [19, 29], processingTime: [] });
    const res = onEventTime(spec, second.state, 19, 19, KEY);
    expect(res).toEqual({
      state: { windows: [window(10, 20, { acc: 1, count: 1, fired: true })] },
      firings: [{ window: { start: 10, end: 20 }, value: 1, firing: 'on-time' }],
      timers: timers(),
    });
  });

  it('never mutate the state they are given', () => {
    const spec = summing(tumbling(10), 10, { early: { everyMs: 100 } });
    const state = deepFreeze(feed(spec, [[5, 3], [1, 15]], NO_WATERMARK, 50));
    const copy = structuredClone(state);
    onElement(spec, state, 2, 4, NO_WATERMARK, 60, KEY);
    onProcessingTime(spec, state, 100, NO_WATERMARK, KEY);
    onEventTime(spec, state, 19, 19, KEY);
    expect(state).toEqual(copy);
  });

  it('keep state that survives a JSON round trip', () => {
    const spec = summing(tumbling(10), 10, { early: { everyMs: 100 } });
    const state = feed(spec, [[5, 3], [1, 15]], NO_WATERMARK, 50);
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
  });
});

describe('sliding windows', () => {
  it('add an element to each of its size/slide windows, with a timer each', () => {
    const res = onElement(summing(sliding(10, 5)), undefined, 4, 7, NO_WATERMARK, 0, KEY);
    expect(res.state).toEqual({ windows: [window(0, 10, { acc: 4, count: 1, sinceFiring: 1 }), window(5, 15, { acc: 4, count: 1, sinceFiring: 1 })] });
    expect(res.timers).toEqual(timers({ setEventTime: [9, 14] }));
  });

  it('add an element only to its windows not yet past cleanup time', () => {
    const res = onElement(summing(sliding(10, 5)), undefined, 4, 7, 9, 0, KEY);
    expect(res.late).toBe(false);
    expect(res.state).toEqual({ windows: [window(5, 15, { acc: 4, count: 1, sinceFiring: 1 })] });
    expect(res.timers).toEqual(timers({ setEventTime: [14] }));
  });

  it('fire every due window from one event-time call, in window order', () => {
    const spec = summing(sliding(10, 5));
    const state = feed(spec, [[1, 7], [10, 12]]);
    const res = onEventTime(spec, state, 14, 14, KEY);
    expect(res).toEqual({
      state: { windows: [window(10, 20, { acc: 10, count: 1, sinceFiring: 1 })] },
      firings: [
        { window: { start: 0, end: 10 }, value: 1, firing: 'on-time' },
        { window: { start: 5, end: 15 }, value: 11, firing: 'on-time' },
      ],
      timers: timers(),
    });
  });
});

describe('session windows', () => {
  it('merge the two sessions an element bridges, with their accumulators and timers', () => {
    const spec = summing(session(10));
    const a = onElement(spec, undefined, 1, 0, NO_WATERMARK, 0, KEY);
    expect(a.timers).toEqual(timers({ setEventTime: [9] }));
    const b = onElement(spec, a.state, 2, 15, NO_WATERMARK, 0, KEY);
    expect(b.state).toEqual({ windows: [window(0, 10, { acc: 1, count: 1, sinceFiring: 1 }), window(15, 25, { acc: 2, count: 1, sinceFiring: 1 })] });
    expect(b.timers).toEqual(timers({ setEventTime: [24] }));
    // [7, 17) overlaps both: one session [0, 25) with 1 + 2 + 4.
    const c = onElement(spec, b.state, 4, 7, NO_WATERMARK, 0, KEY);
    expect(c).toEqual({
      state: { windows: [window(0, 25, { acc: 7, count: 3, sinceFiring: 3 })] },
      firings: [],
      late: false,
      timers: timers({ deleteEventTime: [9] }),
    });
    expect(onEventTime(spec, c.state, 24, 24, KEY).firings).toEqual([{ window: { start: 0, end: 25 }, value: 7, firing: 'on-time' }]);
  });

  it('merge accumulators with the aggregate’s merge, in session order', () => {
    const calls: Array<[string, string]> = [];
    const concat: AggregateFunction<string, string, string> = {
      name: 'concat',
      createAccumulator: () => '',
      add: (acc, v) => acc + v,
      getResult: (acc) => acc,
      merge: (x, y) => {
        calls.push([x, y]);
        return x + y;
      },
    };
    const spec: WindowSpec<string, string, string> = { assigner: session(10), allowedLatenessMs: 0, fn: { kind: 'aggregate', aggregate: concat } };
    const state = feed(spec, [['b', 15], ['a', 0], ['c', 7]]);
    expect(calls).toEqual([['a', 'b']]);
    expect(state?.windows.map((w) => w.acc)).toEqual(['abc']);
  });

  it('move the timer of a session an element extends', () => {
    const spec = summing(session(10), 5);
    const res = onElement(spec, feed(spec, [[1, 0]]), 1, 3, NO_WATERMARK, 0, KEY);
    expect(res.state).toEqual({ windows: [window(0, 13, { acc: 2, count: 2, sinceFiring: 2 })] });
    expect(res.timers).toEqual(timers({ setEventTime: [12, 17], deleteEventTime: [9, 14] }));
  });

  it('merge touching sessions (as Flink does)', () => {
    const spec = summing(session(10));
    expect(feed(spec, [[1, 0], [1, 10]])).toEqual({ windows: [window(0, 20, { acc: 2, count: 2, sinceFiring: 2 })] });
  });

  it('concatenate the records of merged process windows and hand the key to the function', () => {
    const spec = listing(session(10));
    const state = feed(spec, [['x', 0], ['y', 15], ['z', 7]]);
    expect(state?.windows.map((w) => w.values)).toEqual([['x', 'y', 'z']]);
    expect(onEventTime(spec, state, 24, 24, KEY).firings).toEqual([{ window: { start: 0, end: 25 }, value: 'k@0:x,y,z', firing: 'on-time' }]);
  });

  it('keep an element whose own session is late when it merges into an open session', () => {
    const spec = summing(session(10));
    const res = onElement(spec, feed(spec, [[1, 10]]), 1, 3, 12, 0, KEY);
    expect(res.late).toBe(false);
    expect(res.state).toEqual({ windows: [window(3, 20, { acc: 2, count: 2, sinceFiring: 2 })] });
  });

  it('report an element late when its session, merged or not, is past cleanup time', () => {
    expect(onElement(summing(session(10)), undefined, 1, 3, 12, 0, KEY).late).toBe(true);
  });

  it('fire a fired session again on time once a late element extends it past the watermark', () => {
    const spec = summing(session(10), 100);
    const fired = onEventTime(spec, feed(spec, [[1, 0]]), 9, 9, KEY).state;
    const res = onElement(spec, fired, 1, 5, 12, 0, KEY);
    expect(res.firings).toEqual([]);
    expect(res.state).toEqual({ windows: [window(0, 15, { acc: 2, count: 2, sinceFiring: 1 })] });
    expect(res.timers).toEqual(timers({ setEventTime: [14, 114], deleteEventTime: [109] }));
  });
});

describe('global windows with a count trigger', () => {
  it('fire every n elements and purge', () => {
    const spec = summing(globalWindow(countTrigger(3)));
    const two = feed(spec, [[1, 0], [2, 5]]);
    expect(two).toEqual({ windows: [window(GLOBAL_WINDOW.start, GLOBAL_WINDOW.end, { acc: 3, count: 2, sinceFiring: 2 })] });
    const res = onElement(spec, two, 3, -100, NO_WATERMARK, 0, KEY);
    expect(res).toEqual({ state: undefined, firings: [{ window: GLOBAL_WINDOW, value: 6, firing: 'on-time' }], late: false, timers: timers() });
  });

  it('start afresh after a purge', () => {
    const spec = summing(globalWindow(countTrigger(2)));
    const state = feed(spec, [[1, 0], [2, 0], [10, 0]]);
    expect(state?.windows.map((w) => [w.acc, w.count])).toEqual([[10, 1]]);
  });

  it('accumulate across firings without purging', () => {
    const spec = summing(globalWindow(countTrigger(2, { purge: false })));
    const state = feed(spec, [[1, 0], [2, 0], [3, 0]]);
    expect(onElement(spec, state, 4, 0, NO_WATERMARK, 0, KEY).firings).toEqual([{ window: GLOBAL_WINDOW, value: 10, firing: 'on-time' }]);
  });

  it('never treat an element as late', () => {
    expect(onElement(summing(globalWindow(countTrigger(2))), undefined, 1, 0, Number.MAX_SAFE_INTEGER, 0, KEY).late).toBe(false);
  });
});

describe('early firings', () => {
  it('fire early every n records before the on-time firing', () => {
    const spec = summing(tumbling(10), 0, { early: { everyRecords: 2 } });
    const one = onElement(spec, undefined, 1, 1, NO_WATERMARK, 0, KEY);
    expect(one.firings).toEqual([]);
    const two = onElement(spec, one.state, 2, 2, NO_WATERMARK, 0, KEY);
    expect(two.firings).toEqual([{ window: W0, value: 3, firing: 'early' }]);
    const three = onElement(spec, two.state, 4, 3, NO_WATERMARK, 0, KEY);
    expect(three.firings).toEqual([]);
    expect(onEventTime(spec, three.state, 9, 9, KEY).firings).toEqual([{ window: W0, value: 7, firing: 'on-time' }]);
  });

  it('fire early by processing time, re-armed by the next record', () => {
    const spec = summing(tumbling(10), 0, { early: { everyMs: 100 } });
    const one = onElement(spec, undefined, 1, 1, NO_WATERMARK, 250, KEY);
    expect(one.timers).toEqual(timers({ setEventTime: [9], setProcessingTime: [300] }));
    const two = onElement(spec, one.state, 2, 2, NO_WATERMARK, 280, KEY);
    expect(two.timers).toEqual(timers());

    const tick = onProcessingTime(spec, two.state, 300, NO_WATERMARK, KEY);
    expect(tick).toEqual({
      state: { windows: [window(0, 10, { acc: 3, count: 2, sinceFiring: 0 })] },
      firings: [{ window: W0, value: 3, firing: 'early' }],
      timers: timers(),
    });

    const three = onElement(spec, tick.state, 4, 3, NO_WATERMARK, 320, KEY);
    expect(three.timers).toEqual(timers({ setProcessingTime: [400] }));
    const end = onEventTime(spec, three.state, 9, 9, KEY);
    expect(end).toEqual({ state: undefined, firings: [{ window: W0, value: 7, firing: 'on-time' }], timers: timers({ deleteProcessingTime: [400] }) });
  });

  it('share one processing-time timer between a key’s windows', () => {
    const spec = summing(sliding(10, 5), 0, { early: { everyMs: 100 } });
    const res = onElement(spec, undefined, 1, 7, NO_WATERMARK, 250, KEY);
    expect(res.timers).toEqual(timers({ setEventTime: [9, 14], setProcessingTime: [300] }));
    expect(onProcessingTime(spec, res.state, 300, NO_WATERMARK, KEY).firings).toEqual([
      { window: { start: 0, end: 10 }, value: 1, firing: 'early' },
      { window: { start: 5, end: 15 }, value: 1, firing: 'early' },
    ]);
  });

  it('do not fire early once the watermark passed the window end', () => {
    const spec = summing(tumbling(10), 0, { early: { everyMs: 100 } });
    const state = feed(spec, [[1, 1]], NO_WATERMARK, 250);
    const res = onProcessingTime(spec, state, 300, 9, KEY);
    expect(res.firings).toEqual([]);
    expect(res.state).toEqual({ windows: [window(0, 10, { acc: 1, count: 1, sinceFiring: 1 })] });
  });

  it('give a global window periodic results by processing time', () => {
    const spec = summing(globalWindow(eventTimeTrigger({ early: { everyMs: 100 } })));
    const one = onElement(spec, undefined, 5, 1, NO_WATERMARK, 250, KEY);
    expect(one.timers).toEqual(timers({ setProcessingTime: [300] }));
    expect(onProcessingTime(spec, one.state, 300, NO_WATERMARK, KEY).firings).toEqual([{ window: GLOBAL_WINDOW, value: 5, firing: 'early' }]);
  });
});

describe('process windows', () => {
  it('emit every value the function returns, each a firing', () => {
    const spec: WindowSpec<number, never, number> = { assigner: tumbling(10), allowedLatenessMs: 0, fn: { kind: 'process', process: (_k, _w, values) => values.map((v) => v * 2) } };
    const res = onEventTime(spec, feed(spec, [[1, 1], [2, 2]]), 9, 9, KEY);
    expect(res.firings).toEqual([
      { window: W0, value: 2, firing: 'on-time' },
      { window: W0, value: 4, firing: 'on-time' },
    ]);
  });

  it('keep the records in arrival order', () => {
    expect(feed(listing(tumbling(10)), [['b', 5], ['a', 1]])).toEqual({ windows: [{ start: 0, end: 10, values: ['b', 'a'], count: 2, sinceFiring: 2, fired: false, earlyTimer: null }] });
  });
});

describe('timer calls', () => {
  it('refuse an event-time timer the watermark has not reached', () => {
    expect(() => onEventTime(summing(tumbling(10)), undefined, 9, 8, KEY)).toThrow(new RangeError('event-time timer 9 fired before the watermark reached it (watermark 8)'));
  });

  it('do nothing for a key without windows', () => {
    expect(onEventTime(summing(tumbling(10)), undefined, 9, 9, KEY)).toEqual({ state: undefined, firings: [], timers: timers() });
    expect(onProcessingTime(summing(tumbling(10)), undefined, 9, 9, KEY)).toEqual({ state: undefined, firings: [], timers: timers() });
  });
});

describe('windowSpecName', () => {
  it('describes assigner, lateness, early firings and function', () => {
    expect(windowSpecName(summing(tumbling('1m'), 10_000, { early: { everyRecords: 100, everyMs: '5s' } }))).toBe('tumbling 1m, lateness 10s, early every 100 records or 5s, aggregate sum');
    expect(windowSpecName(summing(tumbling('1d', { offset: '2h' })))).toBe('tumbling 1d offset 2h, aggregate sum');
    expect(windowSpecName(summing(sliding('1h', '5m')))).toBe('sliding 1h every 5m, aggregate sum');
    expect(windowSpecName(listing(session(1_500)))).toBe('session gap 1500ms, process');
    expect(windowSpecName(summing(globalWindow(countTrigger(100))))).toBe('global, fire and purge every 100 records, aggregate sum');
    expect(windowSpecName(summing(globalWindow(eventTimeTrigger({ early: { everyMs: 60_000 } }))))).toBe('global, early every 1m, aggregate sum');
  });
});

describe('validateWindowSpec', () => {
  it('accepts a well-formed spec', () => {
    expect(() => validateWindowSpec(summing(session('30s'), 1_000, { early: { everyMs: '5s' } }), 'sessions')).not.toThrow();
  });

  it('requires merge() of an aggregate on session windows', () => {
    const { merge: _merge, ...noMerge } = count<number>();
    const spec: WindowSpec<number, number, number> = { assigner: session(10), allowedLatenessMs: 0, fn: { kind: 'aggregate', aggregate: noMerge } };
    const e = configError(() => validateWindowSpec(spec, 'sessions'));
    expect(e.place).toEqual({ stage: 'sessions', field: 'aggregate.merge' });
    expect(e.message).toBe(
      'aggregate.merge: aggregate "count" has no merge(), which session windows need to merge sessions [stage=sessions field=aggregate.merge]' +
        ' — add merge(a, b) to the AggregateFunction, or use process(), which concatenates the records of merged sessions',
    );
  });

  it('rejects a negative allowed lateness', () => {
    expect(configError(() => validateWindowSpec(summing(tumbling(10), -1), 'counts')).place).toEqual({ stage: 'counts', field: 'allowedLateness' });
  });

  it('rejects allowed lateness on a global window', () => {
    expect(configError(() => validateWindowSpec(summing(globalWindow(countTrigger(2)), 10), 'counts')).place).toEqual({ stage: 'counts', field: 'allowedLateness' });
  });

  it('rejects a trigger option on a global window', () => {
    expect(configError(() => validateWindowSpec(summing(globalWindow(countTrigger(2)), 0, { early: { everyRecords: 1 } }), 'counts')).place).toEqual({ stage: 'counts', field: 'trigger' });
  });

  it('names the stage for bad early firings', () => {
    expect(configError(() => validateWindowSpec(summing(tumbling(10), 0, { early: { everyMs: '1x' as Duration } }), 'counts')).place).toEqual({
      stage: 'counts',
      field: 'trigger.early.everyMs',
    });
    expect(configError(() => validateWindowSpec(summing(tumbling(10), 0, { early: { everyRecords: 0.5 } }), 'counts')).place).toEqual({
      stage: 'counts',
      field: 'trigger.early.everyRecords',
    });
  });

  it('names the stage for a bad assigner', () => {
    expect(configError(() => validateWindowSpec(summing({ kind: 'session', gapMs: 0 }), 'counts')).place).toEqual({ stage: 'counts', field: 'window.gap' });
  });
});
