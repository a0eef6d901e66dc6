/**
 * Every timer of a task, derived from its state (framework/time/task-timers.ts): a window's on-time,
 * cleanup and early-firing timers follow from its window state; a process operator's user timers
 * are a state entry of the key. Nothing else is stored, so a cold container that loads the state
 * finds the same timers.
 */
import { describe, expect, it } from 'vitest';
import type { StateValue, TimerEntry } from '../../../framework/commit/ports.js';
import { count } from '../../../framework/dsl/aggregate.js';
import type { StateEntry } from '../../../framework/state/codec.js';
import { TaskState } from '../../../framework/state/task-state.js';
import { TaskTimers, timerId, userTimerTimes, type TimerSource } from '../../../framework/time/task-timers.js';
import { onElement, onEventTime, timersOf, type KeyWindowsState, type WindowSpec } from '../../../framework/time/window-operator.js';
import { tumbling } from '../../../framework/time/windows.js';

const NOW = 1_700_000_000_000;
const NO_WATERMARK = Number.NEGATIVE_INFINITY;
const WINDOW = 'window-3';
const USER = 'process-5';
const A = Buffer.from('a');
const B = Buffer.from('b');

/** 10 s tumbling windows counting records, 1 s allowed lateness, early firings every 5 s of processing time. */
const spec: WindowSpec<string, number, number> = {
  assigner: tumbling(10_000),
  allowedLatenessMs: 1_000,
  trigger: { early: { everyMs: 5_000 } },
  fn: { kind: 'aggregate', aggregate: count<string>() },
};

/** The sources a stage with that window (node 3) and a process operator with onTimer (node 5) has (as runtime/task.ts builds them). */
const SOURCES: TimerSource[] = [
  { name: WINDOW, kind: 'window', derive: (bytes) => timersOf(spec, JSON.parse(bytes.toString('utf8')) as KeyWindowsState) },
  { name: USER, kind: 'user', derive: userTimerTimes },
];

function windowValue(state: KeyWindowsState | undefined): StateValue | undefined {
  return state === undefined ? undefined : { bytes: Buffer.from(JSON.stringify(state)), expiresAt: undefined };
}

/** The window state of a key after elements at these event times (no watermark yet, processing time NOW). */
function windowsAfter(...timestamps: number[]): KeyWindowsState {
  let state: KeyWindowsState | undefined;
  for (const ts of timestamps) state = onElement(spec, state, 'x', ts, NO_WATERMARK, NOW, 'k').state;
  return state!;
}

function setup(entries: StateEntry[] = []): { state: TaskState; timers: TaskTimers } {
  const state = TaskState.fromEntries('counts', [], () => NOW, entries);
  return { state, timers: new TaskTimers(SOURCES, state) };
}

function timer(kind: TimerEntry['kind'], time: number, key: Buffer, name = USER): TimerEntry {
  return { kind, time, key, name };
}

/** Timers as `kind time key name` strings, in the order given. */
const show = (ts: readonly TimerEntry[]): string[] => ts.map((t) => `${t.kind} ${t.time} ${t.key.toString('hex')} ${t.name}`);

const setText = (state: TaskState, key: Buffer): string | undefined => state.get(key, USER)?.bytes.toString();

describe('window timers', () => {
  it('are the on-time and cleanup timers of the key\'s open windows', () => {
    const { timers } = setup([{ key: A, name: WINDOW, value: windowValue(windowsAfter(3_000, 12_000)) }]);
    // [0, 10 s): on time at 9,999, cleaned up at 10,999; [10 s, 20 s): 19,999 and 20,999.
    expect(show(timers.due('event', Number.MAX_SAFE_INTEGER))).toEqual([
      'event 9999 61 window-3',
      'event 10999 61 window-3',
      'event 19999 61 window-3',
      'event 20999 61 window-3',
    ]);
  });

  it('include the early-firing timer in processing time', () => {
    const { timers } = setup([{ key: A, name: WINDOW, value: windowValue(windowsAfter(3_000)) }]);
    // The next multiple of 5 s after NOW.
    const early = Math.floor(NOW / 5_000) * 5_000 + 5_000;
    expect(show(timers.due('processing', Number.MAX_SAFE_INTEGER))).toEqual([`processing ${early} 61 window-3`]);
  });

  it('lose the on-time timer once the window fired, keeping its cleanup', () => {
    const fired = onEventTime(spec, windowsAfter(3_000), 9_999, 9_999, 'k').state;
    const { timers } = setup([{ key: A, name: WINDOW, value: windowValue(fired) }]);
    expect(show(timers.due('event', Number.MAX_SAFE_INTEGER))).toEqual(['event 10999 61 window-3']);
  });

  it('follow the window state when it changes (refresh)', () => {
    const { state, timers } = setup([{ key: A, name: WINDOW, value: windowValue(windowsAfter(3_000)) }]);
    state.put(A, WINDOW, windowValue(windowsAfter(13_000)));
    timers.refresh(A, WINDOW);
    expect(show(timers.due('event', Number.MAX_SAFE_INTEGER))).toEqual(['event 19999 61 window-3', 'event 20999 61 window-3']);
  });

  it('go away with the window state', () => {
    const { state, timers } = setup([{ key: A, name: WINDOW, value: windowValue(windowsAfter(3_000)) }]);
    state.put(A, WINDOW, undefined);
    timers.refresh(A, WINDOW);
    expect(timers.due('event', Number.MAX_SAFE_INTEGER)).toEqual([]);
    expect(timers.size).toBe(0);
  });

  it('are not stored: firing one changes no state', () => {
    const { state, timers } = setup([{ key: A, name: WINDOW, value: windowValue(windowsAfter(3_000)) }]);
    timers.fire(timer('event', 9_999, A, WINDOW));
    expect(state.changed).toBe(false);
  });

  it('ignore state of names that are no timer source', () => {
    const { timers } = setup([{ key: A, name: 'total', value: { bytes: Buffer.from('{"windows":[]}'), expiresAt: undefined } }]);
    timers.refresh(A, 'total');
    expect(timers.size).toBe(0);
  });
});

describe('user timers', () => {
  it('are registered as a state entry of the key: event and processing times, ascending, distinct', () => {
    const { state, timers } = setup();
    timers.register(timer('event', 50, A));
    timers.register(timer('event', 20, A));
    timers.register(timer('event', 50, A));
    timers.register(timer('processing', NOW + 1_000, A));
    expect(setText(state, A)).toBe(`{"e":[20,50],"p":[${NOW + 1_000}]}`);
    expect(state.changes().map((e) => e.name)).toEqual([USER]);
    expect(show(timers.due('event', 100))).toEqual(['event 20 61 process-5', 'event 50 61 process-5']);
    expect(show(timers.due('processing', NOW + 1_000))).toEqual([`processing ${NOW + 1_000} 61 process-5`]);
  });

  it('are deleted from the set by unregister; the entry goes when the set is empty', () => {
    const { state, timers } = setup();
    timers.register(timer('event', 20, A));
    timers.register(timer('event', 50, A));
    timers.unregister(timer('event', 20, A));
    expect(setText(state, A)).toBe('{"e":[50],"p":[]}');
    timers.unregister(timer('event', 50, A));
    expect(state.get(A, USER)).toBeUndefined();
    expect(timers.size).toBe(0);
  });

  it('unregistering a timer that is not registered changes no state (a no-op)', () => {
    const { state, timers } = setup();
    timers.unregister(timer('event', 20, A));
    expect(state.changed).toBe(false);
    expect(state.changes()).toEqual([]);
  });

  it('leave the set when they fire; the key\'s other timers stay registered', () => {
    const { state, timers } = setup();
    timers.register(timer('event', 20, A));
    timers.register(timer('event', 50, A));
    state.markCommitted();
    timers.fire(timer('event', 20, A));
    expect(setText(state, A)).toBe('{"e":[50],"p":[]}');
    expect(state.changes()).toEqual([{ key: A, name: USER, value: { bytes: Buffer.from('{"e":[50],"p":[]}'), expiresAt: undefined } }]);
    expect(show(timers.due('event', 100))).toEqual(['event 50 61 process-5']);
  });

  it('a key\'s last timer firing deletes its entry', () => {
    const { state, timers } = setup();
    timers.register(timer('event', 20, A));
    state.markCommitted();
    timers.fire(timer('event', 20, A));
    expect(state.changes()).toEqual([{ key: A, name: USER, value: undefined }]);
  });

  it('come back with a record\'s rollback (the entries restored are refreshed)', () => {
    const { state, timers } = setup();
    timers.register(timer('event', 20, A));
    state.commitRecord();
    timers.register(timer('event', 30, A));
    timers.unregister(timer('event', 20, A));
    for (const e of state.rollbackRecord()) timers.refresh(e.key, e.name);
    expect(show(timers.due('event', 100))).toEqual(['event 20 61 process-5']);
  });
});

describe('due', () => {
  it('lists only timers of the kind asked, at or before the time asked', () => {
    const { timers } = setup();
    timers.register(timer('event', 20, A));
    timers.register(timer('event', 21, A));
    timers.register(timer('processing', 10, A));
    expect(show(timers.due('event', 20))).toEqual(['event 20 61 process-5']);
    expect(show(timers.due('event', 19))).toEqual([]);
    expect(show(timers.due('processing', 20))).toEqual(['processing 10 61 process-5']);
  });

  it('orders by time, then key bytes, then operator name', () => {
    const low = Buffer.from([0x00, 0xff]);
    const high = Buffer.from([0x01]);
    const { timers } = setup([
      { key: high, name: WINDOW, value: windowValue(windowsAfter(3_000)) },
      { key: low, name: WINDOW, value: windowValue(windowsAfter(3_000)) },
    ]);
    timers.register(timer('event', 9_999, high));
    timers.register(timer('event', 9_999, low));
    timers.register(timer('event', 5, high));
    expect(show(timers.due('event', 9_999))).toEqual([
      'event 5 01 process-5',
      'event 9999 00ff process-5',
      'event 9999 00ff window-3',
      'event 9999 01 process-5',
      'event 9999 01 window-3',
    ]);
  });
});

describe('once per batch', () => {
  it('a window timer that fired is not due again in the same batch, even while its state still implies it', () => {
    const { timers } = setup([{ key: A, name: WINDOW, value: windowValue(windowsAfter(3_000)) }]);
    timers.fire(timer('event', 9_999, A, WINDOW));
    expect(show(timers.due('event', 9_999))).toEqual([]);
    timers.startBatch();
    expect(show(timers.due('event', 9_999))).toEqual(['event 9999 61 window-3']);
  });

  it('a user timer registered again for a time that fired fires in the next batch, not this one', () => {
    const { timers } = setup();
    timers.register(timer('event', 20, A));
    timers.fire(timer('event', 20, A));
    timers.register(timer('event', 20, A));
    expect(timers.due('event', 20)).toEqual([]);
    timers.startBatch();
    expect(show(timers.due('event', 20))).toEqual(['event 20 61 process-5']);
  });

  it('a firing of one key does not hold back the same time of another key', () => {
    const { timers } = setup();
    timers.register(timer('event', 20, A));
    timers.register(timer('event', 20, B));
    timers.fire(timer('event', 20, A));
    expect(show(timers.due('event', 20))).toEqual(['event 20 62 process-5']);
  });

  it('tells timers apart by kind, time, key and operator', () => {
    const ids = new Set([timer('event', 20, A), timer('processing', 20, A), timer('event', 21, A), timer('event', 20, B), timer('event', 20, A, WINDOW)].map(timerId));
    expect(ids.size).toBe(5);
  });
});

describe('a cold start', () => {
  it('finds the same timers as the warm container, from the committed state alone', () => {
    const warm = setup([{ key: A, name: WINDOW, value: windowValue(windowsAfter(3_000)) }]);
    warm.timers.register(timer('event', 20, B));
    warm.timers.register(timer('processing', NOW + 500, A));
    warm.state.put(B, WINDOW, windowValue(windowsAfter(14_000)));
    warm.timers.refresh(B, WINDOW);
    warm.state.markCommitted();
    const cold = setup(warm.state.entries());
    for (const kind of ['event', 'processing'] as const) expect(show(cold.timers.due(kind, Number.MAX_SAFE_INTEGER))).toEqual(show(warm.timers.due(kind, Number.MAX_SAFE_INTEGER)));
    expect(cold.timers.size).toBe(warm.timers.size);
    // Two windows × (on-time, cleanup, early) and two user timers.
    expect(cold.timers.size).toBe(8);
  });

  it('rebuild() derives the timers again after the state took other invocations\' changes', () => {
    const { state, timers } = setup();
    state.apply([
      { key: A, name: USER, value: { bytes: Buffer.from('{"e":[40],"p":[]}'), expiresAt: undefined } },
      { key: B, name: WINDOW, value: windowValue(windowsAfter(3_000)) },
    ]);
    expect(timers.size).toBe(0);
    timers.rebuild();
    expect(show(timers.due('event', 10_000))).toEqual(['event 40 61 process-5', 'event 9999 62 window-3']);
  });
});

describe('earliest', () => {
  it('is the earliest timer of the kind asked', () => {
    const { timers } = setup([{ key: A, name: WINDOW, value: windowValue(windowsAfter(3_000)) }]);
    timers.register(timer('event', 12_000, B));
    timers.register(timer('processing', NOW + 7, B));
    expect(timers.earliest('event')).toBe(9_999);
    expect(timers.earliest('processing')).toBe(NOW + 7);
  });

  it('is undefined without timers', () => {
    expect(setup().timers.earliest('event')).toBeUndefined();
    expect(setup().timers.earliest('processing')).toBeUndefined();
  });
});
