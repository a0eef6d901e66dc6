// Each window type end to end through a keyed stage: records in, watermarks (and ticks) in,
// committed window results out. Event times are small numbers (ms since the epoch) so the
// windows read like the diagrams in docs/event-time.md.
import { describe, expect, it } from 'vitest';
import { avg, count, json, pipeline, sum } from '../../../framework/index.js';
import type { AggregateFunction, KeyedStream, PipelineOptions, Stream } from '../../../framework/index.js';
import type { WindowResult } from '../../../framework/dsl/stream.js';
import { stageHarness } from '../../../framework/testing/index.js';
import { countTrigger } from '../../../framework/time/triggers.js';
import { GLOBAL_WINDOW, globalWindow, session, sliding, tumbling } from '../../../framework/time/windows.js';

interface Click {
  readonly user: string;
  readonly at: number;
  readonly ms: number;
}

/** A click as the upstream keyBy writes it: keyed by user, Kafka timestamp = event time. */
const click = (user: string, at: number, ms = 1) => ({ key: user, value: { user, at, ms }, timestamp: at });

/** The keyed stage `by-user` of clicks → keyBy(user) → `build` → sink `out`, one partition. */
function byUser<R>(build: (clicks: KeyedStream<string, Click>) => Stream<R>, options: PipelineOptions = {}) {
  const p = pipeline('shop', { partitions: 1, ...options });
  build(p.source('clicks', { serde: json<Click>(), eventTime: (c) => c.at }).keyBy((c) => c.user, { name: 'user' })).sink('out', { serde: json<R>() });
  return stageHarness(p, 'by-user');
}

const results = <R>(h: ReturnType<typeof byUser>) => h.outputs<WindowResult<string, R>>('out').map((o) => o.value);

describe('tumbling windows', () => {
  it('fire each window on time, once, when the watermark reaches its last millisecond', async () => {
    const h = byUser((s) => s.window(tumbling(10)).aggregate(count()));
    await h.send([click('ann', 1), click('ann', 9), click('ann', 12)]);
    await h.watermark(8);
    expect(results(h)).toEqual([]);
    await h.watermark(9);
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 2, firing: 'on-time' }]);
    await h.watermark(19);
    expect(results(h)).toEqual([
      { key: 'ann', window: { start: 0, end: 10 }, value: 2, firing: 'on-time' },
      { key: 'ann', window: { start: 10, end: 20 }, value: 1, firing: 'on-time' },
    ]);
  });

  it('keep one window per key', async () => {
    const h = byUser((s) => s.window(tumbling(10)).aggregate(count()));
    await h.send([click('ann', 1), click('bob', 2), click('ann', 3)]);
    await h.watermark(9);
    expect(results<number>(h).sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: 'ann', window: { start: 0, end: 10 }, value: 2, firing: 'on-time' },
      { key: 'bob', window: { start: 0, end: 10 }, value: 1, firing: 'on-time' },
    ]);
  });

  it('fire every window a watermark jump passes, in window order', async () => {
    const h = byUser((s) => s.window(tumbling(10)).aggregate(count()));
    await h.send([click('ann', 25), click('ann', 5), click('ann', 15)]);
    await h.watermark(100);
    expect(results(h).map((r) => [r.window.start, r.value])).toEqual([
      [0, 1],
      [10, 1],
      [20, 1],
    ]);
  });

  it('drop a window state after it fired (no allowed lateness)', async () => {
    const h = byUser((s) => s.window(tumbling(10)).aggregate(count()));
    await h.send([click('ann', 1)]);
    expect(h.state('ann', 'window-2')).toEqual({ windows: [{ start: 0, end: 10, acc: 1, count: 1, sinceFiring: 1, fired: false, earlyTimer: null }] });
    await h.watermark(9);
    expect(h.state('ann', 'window-2')).toBeUndefined();
  });
});

describe('sliding windows', () => {
  it('put a record in every window that covers it and fire each on time', async () => {
    const h = byUser((s) => s.window(sliding(10, 5)).aggregate(count()));
    await h.send([click('ann', 7), click('ann', 12)]);
    await h.watermark(9);
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 1, firing: 'on-time' }]);
    await h.watermark(19);
    expect(results(h)).toEqual([
      { key: 'ann', window: { start: 0, end: 10 }, value: 1, firing: 'on-time' },
      { key: 'ann', window: { start: 5, end: 15 }, value: 2, firing: 'on-time' },
      { key: 'ann', window: { start: 10, end: 20 }, value: 1, firing: 'on-time' },
    ]);
  });
});

describe('session windows', () => {
  it('fire separate sessions of one key separately', async () => {
    const h = byUser((s) => s.window(session(10)).aggregate(count()));
    await h.send([click('ann', 0), click('ann', 15)]);
    await h.watermark(30);
    expect(results(h)).toEqual([
      { key: 'ann', window: { start: 0, end: 10 }, value: 1, firing: 'on-time' },
      { key: 'ann', window: { start: 15, end: 25 }, value: 1, firing: 'on-time' },
    ]);
  });

  it('merge two sessions into one when a bridging record arrives', async () => {
    const h = byUser((s) => s.window(session(10)).aggregate(count()));
    await h.send([click('ann', 0), click('ann', 15)]);
    await h.send([click('ann', 7)]);
    await h.watermark(23);
    expect(results(h)).toEqual([]);
    await h.watermark(24);
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 25 }, value: 3, firing: 'on-time' }]);
  });

  it('concatenate the records of merged sessions for a process window, in session order', async () => {
    const h = byUser((s) => s.window(session(10)).process((key, w, clicks) => [`${key} [${w.start},${w.end}) ${clicks.map((c) => c.at).join(' ')}`]));
    await h.send([click('ann', 15), click('ann', 0)]);
    await h.send([click('ann', 7)]);
    await h.watermark(24);
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 25 }, value: 'ann [0,25) 0 15 7', firing: 'on-time' }]);
  });
});

describe('global windows', () => {
  it('with countTrigger(n) fire every n records and start over', async () => {
    const h = byUser((s) => s.window(globalWindow(countTrigger(3))).aggregate(sum((c) => c.ms)));
    await h.send([1, 2, 3, 4, 5, 6, 7].map((ms) => click('ann', ms, ms)));
    const window = { start: GLOBAL_WINDOW.start, end: GLOBAL_WINDOW.end };
    expect(results(h)).toEqual([
      { key: 'ann', window, value: 6, firing: 'on-time' },
      { key: 'ann', window, value: 15, firing: 'on-time' },
    ]);
  });

  it('are never fired by the watermark', async () => {
    const h = byUser((s) => s.window(globalWindow(countTrigger(3))).aggregate(count()));
    await h.send([click('ann', 1)]);
    await h.watermark(Number.MAX_SAFE_INTEGER - 1);
    expect(results(h)).toEqual([]);
    expect(h.lateRecords()).toEqual([]);
  });

  it('with countTrigger(n, { purge: false }) report every record so far', async () => {
    const h = byUser((s) => s.window(globalWindow(countTrigger(2, { purge: false }))).aggregate(count()));
    await h.send([1, 2, 3, 4].map((at) => click('ann', at)));
    expect(results(h).map((r) => r.value)).toEqual([2, 4]);
  });
});

describe('window functions', () => {
  it('sum adds a field incrementally', async () => {
    const h = byUser((s) => s.window(tumbling(10)).aggregate(sum((c) => c.ms)));
    await h.send([click('ann', 1, 30), click('ann', 2, 12)]);
    await h.watermark(9);
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 42, firing: 'on-time' }]);
  });

  it('avg averages a field incrementally', async () => {
    const h = byUser((s) => s.window(tumbling(10)).aggregate(avg((c) => c.ms)));
    await h.send([click('ann', 1, 10), click('ann', 2, 20), click('ann', 3, 60)]);
    await h.watermark(9);
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 30, firing: 'on-time' }]);
    expect(h.state('ann', 'window-2')).toBeUndefined();
  });

  it('a custom AggregateFunction keeps its accumulator in window state', async () => {
    const span: AggregateFunction<Click, { first: number; last: number } | null, number> = {
      name: 'span',
      createAccumulator: () => null,
      add: (acc, c) => (acc === null ? { first: c.at, last: c.at } : { first: Math.min(acc.first, c.at), last: Math.max(acc.last, c.at) }),
      getResult: (acc) => (acc === null ? 0 : acc.last - acc.first),
    };
    const h = byUser((s) => s.window(tumbling(10)).aggregate(span));
    await h.send([click('ann', 6), click('ann', 2)]);
    expect(h.state('ann', 'window-2')).toEqual({ windows: [{ start: 0, end: 10, acc: { first: 2, last: 6 }, count: 2, sinceFiring: 2, fired: false, earlyTimer: null }] });
    await h.send([click('ann', 9)]);
    await h.watermark(9);
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 7, firing: 'on-time' }]);
  });

  it('process sees every record of the window when it fires, and each value it returns is a result', async () => {
    const h = byUser((s) =>
      s.window(tumbling(10)).process((key, w, clicks) => [`${key} ${w.start}-${w.end}: ${clicks.map((c) => c.at).join(',')}`, `${clicks.length} clicks`]),
    );
    await h.send([click('ann', 3), click('ann', 1)]);
    await h.watermark(9);
    expect(results(h)).toEqual([
      { key: 'ann', window: { start: 0, end: 10 }, value: 'ann 0-10: 3,1', firing: 'on-time' },
      { key: 'ann', window: { start: 0, end: 10 }, value: '2 clicks', firing: 'on-time' },
    ]);
  });
});

describe('early firings', () => {
  it('everyRecords fires early after that many records, then on time with everything', async () => {
    const h = byUser((s) => s.window(tumbling(10), { trigger: { early: { everyRecords: 2 } } }).aggregate(count()));
    await h.send([click('ann', 1), click('ann', 2), click('ann', 3)]);
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 2, firing: 'early' }]);
    await h.watermark(9);
    expect(results(h)).toEqual([
      { key: 'ann', window: { start: 0, end: 10 }, value: 2, firing: 'early' },
      { key: 'ann', window: { start: 0, end: 10 }, value: 3, firing: 'on-time' },
    ]);
  });

  it('everyMs fires early when a tick finds processing time past the next multiple of everyMs', async () => {
    const h = byUser((s) => s.window(tumbling(10), { trigger: { early: { everyMs: '1s' } } }).aggregate(count()));
    expect(h.now % 1_000).toBe(0);
    await h.send([click('ann', 1), click('ann', 2)]);
    await h.tick();
    h.advanceClock(999);
    await h.tick();
    expect(results(h)).toEqual([]);
    h.advanceClock(1);
    await h.tick();
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 2, firing: 'early' }]);
  });

  it('everyMs fires again only after new records, and stops once the window fired on time', async () => {
    const h = byUser((s) => s.window(tumbling(10), { trigger: { early: { everyMs: '1s' } } }).aggregate(count()));
    await h.send([click('ann', 1)]);
    h.advanceClock(1_000);
    await h.tick();
    h.advanceClock(1_000);
    await h.tick();
    await h.send([click('ann', 2)]);
    h.advanceClock(1_000);
    await h.tick();
    await h.watermark(9);
    h.advanceClock(1_000);
    await h.tick();
    expect(results(h)).toEqual([
      { key: 'ann', window: { start: 0, end: 10 }, value: 1, firing: 'early' },
      { key: 'ann', window: { start: 0, end: 10 }, value: 2, firing: 'early' },
      { key: 'ann', window: { start: 0, end: 10 }, value: 2, firing: 'on-time' },
    ]);
  });
});

describe('an aggregate that changes its accumulator in place and then throws', () => {
  it('dead-letters the record and keeps none of its change, also for the records after it in the same batch', async () => {
    // Flink-style accumulators are often changed in place. The window operator decodes a key's
    // state once a batch and hands the same object to the next record: a record whose add throws
    // must not leave its half-done change in that object.
    const mutating: AggregateFunction<Click, { n: number }, number> = {
      name: 'mutating count',
      createAccumulator: () => ({ n: 0 }),
      add: (acc, c) => {
        acc.n += 1;
        if (c.ms < 0) throw new Error('negative duration');
        return acc;
      },
      getResult: (acc) => acc.n,
    };
    const h = byUser((s) => s.window(tumbling(10)).aggregate(mutating));
    await h.send([click('ann', 1), click('ann', 2), click('ann', 3, -1), click('ann', 4), click('ann', 5, -1), click('ann', 6)]);
    await h.watermark(9);
    expect(results(h)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 4, firing: 'on-time' }]);
    expect(h.deadLetters().map((d) => [d.offset, d.errorMessage])).toEqual([[2, expect.stringContaining('negative duration')], [4, expect.stringContaining('negative duration')]]);
  });
});
