import { describe, expect, it } from 'vitest';
import { compile, count, json, pipeline, tumbling } from '../../../framework/index.js';
import type { Topology } from '../../../framework/index.js';
import type { OutgoingRecord } from '../../../framework/record/record.js';
import { stageHarness } from '../../../framework/testing/index.js';
import { MIN_WATERMARK } from '../../../framework/time/control.js';
import { dueAt, tickedStages, tickTargets } from '../../../framework/time/due.js';
import { dueTicks, runTicker, type TaskTimesReader, type TickWriter } from '../../../framework/time/ticker.js';
import { INITIAL_TIME, type TimeState } from '../../../framework/time/watermark.js';

interface Click {
  readonly user: string;
  readonly at: number;
}

/** clicks (2 partitions) ─keyBy user─▶ by-user (3 partitions: 1 min windows, early firings every 10 s) ─▶ out. */
function app(options: { early?: boolean; windows?: boolean } = {}) {
  const p = pipeline('due', { idleTimeout: '30s' });
  const keyed = p.source('clicks', { serde: json<Click>(), eventTime: (c) => c.at, partitions: 2 }).keyBy((c) => c.user, { name: 'user', partitions: 3 });
  if (options.windows === false) keyed.aggregate(count()).sink('out', { serde: json() });
  else keyed.window(tumbling('1m'), options.early ? { trigger: { early: { everyMs: '10s' } } } : {}).aggregate(count()).sink('out', { serde: json() });
  return p;
}
const topo = (options: { early?: boolean; windows?: boolean } = {}): Topology => compile(app(options).plan());
const stage = (t: Topology, name: string) => t.stages.find((s) => s.name === name)!;
const T0 = 1_800_000_000_000;
const active = (lastDataAt: number): TimeState => ({ ...INITIAL_TIME, since: T0, now: lastDataAt, lastDataAt, wm: 5, sentWm: 5 });

describe('which tasks the ticker may wake', () => {
  it('source stages whose marks matter, and stages that can hold processing-time timers', () => {
    expect(tickedStages(topo()).map((s) => s.name)).toEqual(['clicks']);
    expect(tickedStages(topo({ early: true })).map((s) => s.name)).toEqual(['clicks', 'by-user']);
    expect(tickedStages(topo({ windows: false }))).toEqual([]); // nothing downstream needs event time
  });

  it('one target per control partition, with the task it wakes', () => {
    expect(tickTargets(topo({ early: true })).map((t) => [t.stage.name, t.partition, t.tasks.map((x) => x.id)])).toEqual([
      ['clicks', 0, ['clicks.0']],
      ['clicks', 1, ['clicks.1']],
      ['by-user', 0, ['by-user.0']],
      ['by-user', 1, ['by-user.1']],
      ['by-user', 2, ['by-user.2']],
    ]);
  });
});

describe('when a task is due', () => {
  const t = topo({ early: true });
  it('a source task that never ran: now (its idle clock starts with its first tick)', () => {
    expect(dueAt(t, stage(t, 'clicks'), undefined)).toBe(MIN_WATERMARK);
    expect(dueAt(t, stage(t, 'by-user'), undefined)).toBeUndefined();
  });

  it('an active source task: idleTimeout after its last data, or after its first run if it never had data', () => {
    expect(dueAt(t, stage(t, 'clicks'), active(T0 + 5_000))).toBe(T0 + 35_000);
    expect(dueAt(t, stage(t, 'clicks'), { ...INITIAL_TIME, since: T0, now: T0 })).toBe(T0 + 30_000);
  });

  it('an idle source task: never, until data makes it active again', () => {
    expect(dueAt(t, stage(t, 'clicks'), { ...active(T0), idle: true, sentIdle: true })).toBeUndefined();
  });

  it('a task with a processing-time timer: at the timer', () => {
    expect(dueAt(t, stage(t, 'by-user'), { ...INITIAL_TIME, procDue: T0 + 10_000 })).toBe(T0 + 10_000);
    expect(dueAt(t, stage(t, 'by-user'), INITIAL_TIME)).toBeUndefined();
    expect(dueAt(t, stage(t, 'clicks'), { ...active(T0), procDue: T0 + 1_000 })).toBe(T0 + 1_000);
  });

  it("under marks: 'interval', a source task holding back a mark: when its interval ends", () => {
    const p = pipeline('due', { idleTimeout: '30s', marks: 'interval', watermarkInterval: '2s' });
    p.source('clicks', { serde: json<Click>(), eventTime: (c) => c.at, partitions: 2 }).keyBy((c) => c.user, { name: 'user', partitions: 2 }).window(tumbling('1m')).aggregate(count()).sink('out', { serde: json() });
    const ti = compile(p.plan());
    expect(dueAt(ti, stage(ti, 'clicks'), { ...active(T0), wm: 9, sentWm: 5, sentAt: T0 - 500 })).toBe(T0 + 1_500);
  });
});

describe('the ticks of a pass', () => {
  const t = topo({ early: true });
  it('go to the due control partitions only, carrying the pass time', () => {
    const now = T0 + 40_000;
    const times = new Map<string, TimeState>([
      ['clicks.0', active(T0 + 5_000)], // idle deadline T0 + 35 s: due
      ['clicks.1', active(T0 + 20_000)], // T0 + 50 s: not yet
      ['by-user.0', { ...INITIAL_TIME, procDue: now }],
      ['by-user.1', { ...INITIAL_TIME, procDue: now + 1 }],
      // by-user.2 never ran: nothing to do for it
    ]);
    const ticks = dueTicks(t, times, now).map((r) => [r.topic, r.partition, JSON.parse(r.value!.toString()) as unknown]);
    expect(ticks).toEqual([
      ['due.clicks.control', 0, { tick: now }],
      ['due.by-user.control', 0, { tick: now }],
    ]);
  });
});

class Recorder implements TickWriter {
  readonly written: OutgoingRecord[][] = [];
  closed = 0;
  async write(records: readonly OutgoingRecord[]): Promise<void> {
    this.written.push([...records]);
  }
  async close(): Promise<void> {
    this.closed += 1;
  }
}

const reader = (times: Map<string, TimeState>, log: string[][] = []): TaskTimesReader => ({
  readTimes: async (tasks) => {
    log.push(tasks.map((x) => x.id));
    return new Map([...times].filter(([id]) => tasks.some((x) => x.id === id)));
  },
});

describe('a ticker run', () => {
  it('reads the ticked tasks once per pass and writes nothing when nothing is due', async () => {
    const t = topo();
    const times = new Map([
      ['clicks.0', { ...active(T0), idle: true, sentIdle: true }],
      ['clicks.1', { ...active(T0), idle: true, sentIdle: true }],
    ]);
    const log: string[][] = [];
    const w = new Recorder();
    const report = await runTicker(reader(times, log), w, t, { now: () => T0 + 3_600_000 });
    expect(report).toEqual({ passes: 1, tasksRead: 2, ticks: 0 });
    expect(log).toEqual([['clicks.0', 'clicks.1']]);
    expect(w.written).toEqual([]);
    expect(w.closed).toBe(1);
  });

  it('ticks the due partitions; a pipeline without anything to wake reads nothing', async () => {
    const w = new Recorder();
    expect(await runTicker(reader(new Map()), w, topo(), { now: () => T0 })).toEqual({ passes: 1, tasksRead: 2, ticks: 2 });
    const log: string[][] = [];
    expect(await runTicker(reader(new Map(), log), new Recorder(), topo({ windows: false }), { now: () => T0 })).toEqual({ passes: 1, tasksRead: 0, ticks: 0 });
    expect(log).toEqual([]);
  });

  it('passes every interval through its duration', async () => {
    // A clock that moves 5 ms per reading (twice per pass): the run ends when the next pass would start past 35 ms.
    let t = 0;
    const now = (): number => (t += 5) - 5;
    const report = await runTicker(reader(new Map()), new Recorder(), topo(), { intervalMs: 1, durationMs: 35, now });
    expect(report.passes).toBe(4);
  });

  it('fails on a failed read unless told to go on', async () => {
    const broken: TaskTimesReader = { readTimes: async () => Promise.reject(new Error('throttled')) };
    await expect(runTicker(broken, new Recorder(), topo())).rejects.toThrow('throttled');
    const errors: unknown[] = [];
    let t = 0;
    const now = (): number => (t += 5) - 5;
    const report = await runTicker(broken, new Recorder(), topo(), { intervalMs: 1, durationMs: 35, now, onPassError: (e) => errors.push(e) });
    expect(report.passes).toBe(0);
    expect(errors).toHaveLength(4);
  });
});

describe('what a task publishes for the ticker', () => {
  it('its earliest processing-time timer, in the checkpoint after each batch', async () => {
    const h = stageHarness(app({ early: true }), 'by-user', { now: T0 });
    const [report] = await h.send([{ key: 'ann', value: { user: 'ann', at: T0 } }]);
    const partition = Number(report!.task.split('.')[1]);
    expect(h.checkpoint(partition).time.procDue).toBe(T0 + 10_000);
    h.advanceClock(10_000);
    await h.tick();
    // The early firing fired; no record arrived since, so no new early timer.
    expect(h.checkpoint(partition).time.procDue).toBeNull();
  });
});
