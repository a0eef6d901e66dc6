// Event time under failures: a task that crashes at any step of the commit protocol, in a data
// batch or in a control batch, and is then redelivered the same records, ends with exactly
// the window results, late records and state of a run without the crash. And control
// batches that change nothing write nothing.
import { describe, expect, it } from 'vitest';
import { count, json, pipeline } from '../../../framework/index.js';
import type { KafkaRecord } from '../../../framework/record/record.js';
import type { CommitStep, FaultHook } from '../../../framework/commit/ports.js';
import { SimulatedCrash } from '../../../framework/commit/ports.js';
import type { WindowResult } from '../../../framework/dsl/stream.js';
import { stageHarness } from '../../../framework/testing/index.js';
import type { StageHarness } from '../../../framework/testing/index.js';
import type { ControlRecord } from '../../../framework/time/control.js';
import { session, tumbling } from '../../../framework/time/windows.js';

interface Click {
  readonly user: string;
  readonly at: number;
}

type Commit = 'checkpoint' | 'changelog';

const click = (user: string, at: number) => ({ key: user, value: { user, at }, timestamp: at });
const wm = (watermark: number): ControlRecord[] => [{ kind: 'watermark', from: 'clicks.0', watermark, fence: -1, idle: false }];

/** Stage `by-user` of app `shop`: per-user counts in tumbling 10 ms windows, 5 ms allowed lateness. */
function counts(fault?: FaultHook, commit: Commit = 'changelog'): StageHarness {
  const p = pipeline('shop', { partitions: 1, commit });
  p.source('clicks', { serde: json<Click>(), eventTime: (c) => c.at })
    .keyBy((c) => c.user, { name: 'user' })
    .window(tumbling(10), { allowedLateness: 5 })
    .aggregate(count())
    .sink('out', { serde: json<WindowResult<string, number>>() });
  return stageHarness(p, 'by-user', fault ? { fault } : {});
}

/**
 * One step of a scenario: a data batch (built once, so a redelivery has the same offsets),
 * control records, or a tick after moving the clock on by `tickAfter` ms.
 */
type Step = { readonly data: KafkaRecord[] } | { readonly control: ControlRecord[] } | { readonly tickAfter: number };

/** Tumbling windows: on-time firings, a late firing within the lateness, cleanup, a record past it, and the next window. */
function tumblingScenario(h: StageHarness): Step[] {
  return [
    { data: h.toKafkaRecords([click('ann', 1), click('bob', 2), click('ann', 12)]) },
    { control: wm(9) },
    { data: h.toKafkaRecords([click('ann', 4), click('bob', 13)]) },
    { control: wm(14) },
    { data: h.toKafkaRecords([click('ann', 5)]) },
    { control: wm(19) },
  ];
}

/** Session windows with early firings every second of processing time: early results, a merge, the on-time result. */
function sessionScenario(h: StageHarness): Step[] {
  return [
    { data: h.toKafkaRecords([click('ann', 0), click('ann', 15)]) },
    { tickAfter: 1_000 },
    { data: h.toKafkaRecords([click('ann', 7)]) },
    { tickAfter: 1_000 },
    { control: wm(30) },
  ];
}

/** Stage `by-user` of app `shop`: per-user session counts (gap 10 ms), early every second. */
function sessions(fault?: FaultHook, commit: Commit = 'changelog'): StageHarness {
  const p = pipeline('shop', { partitions: 1, commit });
  p.source('clicks', { serde: json<Click>(), eventTime: (c) => c.at })
    .keyBy((c) => c.user, { name: 'user' })
    .window(session(10), { trigger: { early: { everyMs: '1s' } } })
    .aggregate(count())
    .sink('out', { serde: json<WindowResult<string, number>>() });
  return stageHarness(p, 'by-user', fault ? { fault } : {});
}

/** Runs a scenario; a step that crashes is redelivered as Lambda would: to a new container, same records. */
async function run(h: StageHarness, scenario: (h: StageHarness) => Step[] = tumblingScenario): Promise<void> {
  for (const step of scenario(h)) {
    if ('tickAfter' in step) h.advanceClock(step.tickAfter);
    const once = () => ('data' in step ? h.deliver(step.data) : 'control' in step ? h.control(step.control) : h.tick());
    try {
      await once();
    } catch (error) {
      if (!(error instanceof SimulatedCrash)) throw error;
      h.restartContainer();
      await once();
    }
  }
}

/** Everything the stage committed that a reader can see. */
function committed(h: StageHarness) {
  return {
    results: h.outputs<WindowResult<string, number>>('out').map((o) => o.value),
    late: h.lateRecords().map((r) => r.value),
    state: h.committedItems().map((i) => [i.key.toString(), i.name, i.value.bytes.toString()]),
    watermark: h.currentWatermark(),
  };
}

/** Crashes at `step` of the `nth` commit that reaches it, once. */
function crashOnce(step: CommitStep, nth: number): { fault: FaultHook; crashed: () => boolean } {
  let seen = 0;
  let crashed = false;
  return {
    fault: (s, task, seq) => {
      if (s !== step || crashed) return;
      seen += 1;
      if (seen === nth) {
        crashed = true;
        throw new SimulatedCrash(s, task.id, seq);
      }
    },
    crashed: () => crashed,
  };
}

/** The protocols, each with the steps a batch of these scenarios reaches. */
const PROTOCOLS: ReadonlyArray<readonly [Commit, readonly CommitStep[]]> = [
  ['checkpoint', ['before-send', 'after-send', 'after-prepare', 'after-kafka-commit', 'after-confirm']],
  ['changelog', ['before-send', 'after-send', 'after-kafka-commit']],
];

describe.each(PROTOCOLS)('a crash mid-window (commit: %s)', (commit, steps) => {
  it('the fault-free run commits these results', async () => {
    const h = counts(undefined, commit);
    await run(h);
    expect(committed(h)).toEqual({
      results: [
        { key: 'ann', window: { start: 0, end: 10 }, value: 1, firing: 'on-time' },
        { key: 'bob', window: { start: 0, end: 10 }, value: 1, firing: 'on-time' },
        { key: 'ann', window: { start: 0, end: 10 }, value: 2, firing: 'late' },
        { key: 'ann', window: { start: 10, end: 20 }, value: 1, firing: 'on-time' },
        { key: 'bob', window: { start: 10, end: 20 }, value: 1, firing: 'on-time' },
      ],
      late: [{ user: 'ann', at: 5 }],
      // The [10, 20) windows stay until their cleanup time, 19 + 5.
      state: ['ann', 'bob'].map((u) => [`"${u}"`, 'window-2', JSON.stringify({ windows: [{ start: 10, end: 20, acc: 1, count: 1, sinceFiring: 0, fired: true, earlyTimer: null }] })]),
      watermark: 19,
    });
  });

  const commits = [1, 2, 3, 4, 5, 6];
  describe.each(steps)('at %s', (step) => {
    it.each(commits)('of commit %i, then redelivery, commits exactly the fault-free results', async (nth) => {
      const expected = counts(undefined, commit);
      await run(expected);
      const crash = crashOnce(step, nth);
      const h = counts(crash.fault, commit);
      await run(h);
      expect(crash.crashed()).toBe(true);
      expect(committed(h)).toEqual(committed(expected));
    });
  });

  it('the fault-free run of sessions with early firings commits these results', async () => {
    const h = sessions(undefined, commit);
    await run(h, sessionScenario);
    expect(committed(h).results).toEqual([
      { key: 'ann', window: { start: 0, end: 10 }, value: 1, firing: 'early' },
      { key: 'ann', window: { start: 15, end: 25 }, value: 1, firing: 'early' },
      { key: 'ann', window: { start: 0, end: 25 }, value: 3, firing: 'early' },
      { key: 'ann', window: { start: 0, end: 25 }, value: 3, firing: 'on-time' },
    ]);
  });

  describe.each(steps)('of a session window with early firings, at %s', (step) => {
    it.each([1, 2, 3, 4, 5])('of commit %i, then redelivery, commits exactly the fault-free results', async (nth) => {
      const expected = sessions(undefined, commit);
      await run(expected, sessionScenario);
      const crash = crashOnce(step, nth);
      const h = sessions(crash.fault, commit);
      await run(h, sessionScenario);
      expect(crash.crashed()).toBe(true);
      expect(committed(h)).toEqual(committed(expected));
    });
  });
});

describe('in-doubt recovery of a firing (commit: checkpoint)', () => {
  it('a crash after the Kafka commit of a firing is resolved as committed: the redelivered watermark fires nothing again', async () => {
    const crash = crashOnce('after-kafka-commit', 2);
    const h = counts(crash.fault, 'checkpoint');
    await h.send([click('ann', 1)]);
    await expect(h.watermark(9)).rejects.toThrow(SimulatedCrash);
    h.restartContainer();
    const [report] = await h.watermark(9);
    expect(report).toMatchObject({ recovery: { seq: 2, outcome: 'committed' }, timersFired: 0 });
    expect(h.outputs('out').map((o) => o.value)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 1, firing: 'on-time' }]);
  });

  it('a crash before the Kafka commit of a firing is resolved as aborted: the redelivered watermark fires it', async () => {
    const crash = crashOnce('after-prepare', 2);
    const h = counts(crash.fault, 'checkpoint');
    await h.send([click('ann', 1)]);
    await expect(h.watermark(9)).rejects.toThrow(SimulatedCrash);
    expect(h.outputs('out')).toEqual([]);
    h.restartContainer();
    const [report] = await h.watermark(9);
    expect(report).toMatchObject({ recovery: { seq: 2, outcome: 'aborted' }, timersFired: 1 });
    expect(h.outputs('out').map((o) => o.value)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 1, firing: 'on-time' }]);
  });
});

describe.each(['checkpoint', 'changelog'] as const)('a control batch that changes nothing (commit: %s)', (commit) => {
  // In a warm container (the harness is one) the task's state is known: the checkpoint protocol
  // reads the checkpoint's version once a batch, the changelog protocol no store at all (it reads
  // the changelog, which has nothing new).
  const reads = (n: number): number => (commit === 'checkpoint' ? n : 0);
  it('a repeated tick writes nothing and reads at most the checkpoint', async () => {
    const h = counts(undefined, commit);
    await h.send([click('ann', 1)]);
    await h.tick();
    const before = { ...h.store.requests };
    const [report] = await h.tick();
    expect(report).toMatchObject({ seq: undefined, timersFired: 0 });
    expect(h.store.requests).toEqual({ ...before, readCheckpoint: before.readCheckpoint + reads(1) });
  });

  it('a tick at a later processing time finds no due timer in the task\'s state, and writes nothing', async () => {
    const h = counts(undefined, commit);
    await h.send([click('ann', 1)]);
    h.advanceClock(1_000);
    const before = { ...h.store.requests };
    await h.tick();
    await h.tick();
    expect(h.store.requests).toEqual({ ...before, readCheckpoint: before.readCheckpoint + reads(2) });
  });

  it('a repeated mark writes nothing and reads at most the checkpoint', async () => {
    const h = counts(undefined, commit);
    await h.send([click('ann', 1)]);
    await h.watermark(5);
    const before = { ...h.store.requests };
    const [report] = await h.watermark(5);
    expect(report).toMatchObject({ seq: undefined, timersFired: 0 });
    expect(h.store.requests).toEqual({ ...before, readCheckpoint: before.readCheckpoint + reads(1) });
    expect(h.kafka.counts.transactions).toBe(2);
  });

  it('a repeated tick at a source task writes nothing and reads at most the checkpoint', async () => {
    const p = pipeline('shop', { partitions: 1, commit });
    p.source('clicks', { serde: json<Click>(), eventTime: (c) => c.at })
      .keyBy((c) => c.user, { name: 'user' })
      .window(tumbling(10))
      .aggregate(count())
      .sink('out', { serde: json() });
    const h = stageHarness(p, 'clicks');
    await h.send([{ value: { user: 'ann', at: 1 } }]);
    await h.tick();
    const before = { ...h.store.requests };
    const [report] = await h.tick();
    expect(report).toMatchObject({ seq: undefined });
    expect(h.store.requests).toEqual({ ...before, readCheckpoint: before.readCheckpoint + reads(1) });
  });
});
