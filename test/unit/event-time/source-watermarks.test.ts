// Where watermarks start: a source task computes its partition's watermark from the event
// times it reads and writes marks, in its commit transaction, to every partition of the next
// stage's control topic. Each mark's fence is the last offset the task wrote to the matching
// data partition. Marks are throttled by `watermarkInterval`; ticks flush them and detect
// idle partitions.
import { describe, expect, it } from 'vitest';
import { count, json, pipeline } from '../../../framework/index.js';
import type { BacklogProbe, PipelineOptions, SourceOptions } from '../../../framework/index.js';
import type { FaultHook } from '../../../framework/commit/ports.js';
import { SimulatedCrash } from '../../../framework/commit/ports.js';
import { partitionForKey } from '../../../framework/record/partitioner.js';
import { stageHarness } from '../../../framework/testing/index.js';
import type { StageHarness } from '../../../framework/testing/index.js';
import { MIN_WATERMARK } from '../../../framework/time/control.js';
import type { TimeState } from '../../../framework/time/watermark.js';
import { tumbling } from '../../../framework/time/windows.js';

interface Click {
  readonly user: string;
  readonly at: number;
}

const CONTROL = 'shop.by-user.control';

/** A click read from `partition` of the source topic (unkeyed: the harness does not pick the partition). */
const click = (user: string, at: number, partition = 0) => ({ value: { user, at }, partition });

/**
 * The source stage `clicks` of app `shop` (`sourcePartitions` partitions): keyBy(user) into
 * `by-user` (2 partitions), which counts per user in tumbling windows, so it needs event time.
 */
function clicks(options: { sourcePartitions?: number; pipeline?: PipelineOptions; source?: Partial<SourceOptions<Click>>; fault?: FaultHook; backlog?: BacklogProbe } = {}): StageHarness {
  const p = pipeline('shop', options.pipeline);
  p.source('clicks', { serde: json<Click>(), eventTime: (c) => c.at, maxOutOfOrderness: 5, partitions: options.sourcePartitions ?? 1, ...options.source })
    .keyBy((c) => c.user, { name: 'user', partitions: 2 })
    .window(tumbling(10))
    .aggregate(count())
    .sink('out', { serde: json() });
  return stageHarness(p, 'clicks', { ...(options.fault ? { fault: options.fault } : {}), ...(options.backlog ? { backlog: options.backlog } : {}) });
}

/** The marks committed to `by-user`'s control topic, as [control partition, mark]. */
const marks = (h: StageHarness) => h.outputs(CONTROL).map((o) => [o.partition, o.value]);
const timeOf = (h: StageHarness, partition = 0): TimeState => h.checkpoint(partition).time;
/** The `by-user` input partition the key of `user` goes to. */
const partitionOf = (user: string) => partitionForKey(json<string>().serialize(user)!, 2);

// Two users whose keys land on different partitions of `by-user`.
const USERS = ['ann', 'bob', 'cy', 'dee', 'eve'];
const ON_0 = USERS.find((u) => partitionOf(u) === 0)!;
const ON_1 = USERS.find((u) => partitionOf(u) === 1)!;

describe('a source task', () => {
  it('has the watermark max event time seen − maxOutOfOrderness', async () => {
    const h = clicks();
    await h.send([click(ON_0, 100), click(ON_0, 130), click(ON_0, 120)]);
    expect(h.currentWatermark()).toBe(125);
  });

  it('keeps its watermark when older records arrive later', async () => {
    const h = clicks();
    await h.send([click(ON_0, 130)]);
    await h.send([click(ON_0, 100)]);
    expect(h.currentWatermark()).toBe(125);
  });

  it('keeps a watermark per input partition', async () => {
    const h = clicks({ sourcePartitions: 2 });
    await h.send([click(ON_0, 130, 0), click(ON_0, 50, 1)]);
    expect([h.currentWatermark(0), h.currentWatermark(1)]).toEqual([125, 45]);
  });

  it('with a custom watermark strategy, has the watermark the strategy computes from the max event time', async () => {
    const h = clicks({ source: { watermark: (max) => Math.floor(max / 100) * 100 - 1 } });
    await h.send([click(ON_0, 250), click(ON_0, 130)]);
    expect(h.currentWatermark()).toBe(199);
    expect(marks(h).map(([, m]) => m)).toEqual([
      { from: 'clicks.0', watermark: 199, fence: 1, idle: false },
      { from: 'clicks.0', watermark: 199, fence: -1, idle: false },
    ]);
  });
});

describe('marks', () => {
  it('go to every partition of the downstream control topic, fenced by the last offset written to that data partition', async () => {
    expect([partitionOf(ON_0), partitionOf(ON_1)]).toEqual([0, 1]);
    const h = clicks();
    await h.send([click(ON_0, 100), click(ON_1, 101), click(ON_0, 102)]);
    expect(h.outputs('shop.by-user.in').map((o) => [o.partition, o.offset])).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
    ]);
    expect(marks(h)).toEqual([
      [0, { from: 'clicks.0', watermark: 97, fence: 1, idle: false }],
      [1, { from: 'clicks.0', watermark: 97, fence: 0, idle: false }],
    ]);
  });

  it('have fence -1 for a data partition the task never wrote to', async () => {
    const h = clicks();
    await h.send([click(ON_1, 100)]);
    expect(marks(h)).toEqual([
      [0, { from: 'clicks.0', watermark: 95, fence: -1, idle: false }],
      [1, { from: 'clicks.0', watermark: 95, fence: 0, idle: false }],
    ]);
  });

  it('are written in the batch’s transaction: invisible until it commits, then there exactly once', async () => {
    let crashed = false;
    const fault: FaultHook = (step, task, seq) => {
      // After the marks were sent, before the commit (a step of both protocols).
      if (step === 'after-send' && !crashed) {
        crashed = true;
        throw new SimulatedCrash(step, task.id, seq);
      }
    };
    const h = clicks({ fault });
    const batch = h.toKafkaRecords([click(ON_0, 100)]);
    await expect(h.deliver(batch)).rejects.toThrow(SimulatedCrash);
    expect(h.kafka.readUncommitted(CONTROL).map((r) => r.txn)).toEqual(['shop.clicks.0', 'shop.clicks.0']);
    expect(marks(h)).toEqual([]);
    h.restartContainer();
    await h.deliver(batch);
    expect(marks(h)).toEqual([
      [0, { from: 'clicks.0', watermark: 95, fence: 1, idle: false }],
      [1, { from: 'clicks.0', watermark: 95, fence: -1, idle: false }],
    ]);
  });

  it('are not repeated when a batch leaves the watermark where it was', async () => {
    const h = clicks();
    await h.send([click(ON_0, 100)]);
    h.advanceClock(60_000);
    await h.send([click(ON_0, 90)]);
    expect(marks(h).length).toBe(2);
  });
});

describe("watermarkInterval (marks: 'interval')", () => {
  it('throttles marks: a watermark change within the interval of the last mark sends none', async () => {
    const h = clicks({ pipeline: { watermarkInterval: '10s', marks: 'interval' } });
    await h.send([click(ON_0, 100)]);
    h.advanceClock(9_999);
    await h.send([click(ON_0, 200)]);
    expect(h.currentWatermark()).toBe(195);
    expect(marks(h)).toEqual([
      [0, { from: 'clicks.0', watermark: 95, fence: 0, idle: false }],
      [1, { from: 'clicks.0', watermark: 95, fence: -1, idle: false }],
    ]);
  });

  it('a tick after the interval flushes the throttled mark, fenced by everything written since', async () => {
    const h = clicks({ pipeline: { watermarkInterval: '10s', marks: 'interval' } });
    await h.send([click(ON_0, 100)]);
    await h.send([click(ON_0, 200), click(ON_1, 201)]);
    h.advanceClock(10_000);
    await h.tick();
    expect(marks(h)).toEqual([
      [0, { from: 'clicks.0', watermark: 95, fence: 0, idle: false }],
      [0, { from: 'clicks.0', watermark: 196, fence: 1, idle: false }],
      [1, { from: 'clicks.0', watermark: 95, fence: -1, idle: false }],
      [1, { from: 'clicks.0', watermark: 196, fence: 0, idle: false }],
    ]);
  });

  it('a tick before the interval is over flushes nothing', async () => {
    const h = clicks({ pipeline: { watermarkInterval: '10s', marks: 'interval' } });
    await h.send([click(ON_0, 100)]);
    await h.send([click(ON_0, 200)]);
    h.advanceClock(9_999);
    await h.tick();
    expect(marks(h).map(([, m]) => (m as { watermark: number }).watermark)).toEqual([95, 95]);
  });

  it('the next data batch after the interval sends the mark without a tick', async () => {
    const h = clicks({ pipeline: { watermarkInterval: '10s', marks: 'interval' } });
    await h.send([click(ON_0, 100)]);
    await h.send([click(ON_0, 200)]);
    h.advanceClock(10_000);
    await h.send([click(ON_0, 150)]);
    expect(marks(h).map(([p, m]) => [p, (m as { watermark: number }).watermark])).toEqual([
      [0, 95],
      [0, 195],
      [1, 95],
      [1, 195],
    ]);
  });
});

describe("marks on boundaries (the default)", () => {
  // by-user has tumbling 10 ms windows and no lateness: it can act only when its watermark reaches x9.
  it('are sent when the watermark crosses a point where a downstream window fires, with the watermark itself', async () => {
    const h = clicks();
    await h.send([click(ON_0, 100)]); // 95: the first watermark crosses every point below it
    await h.send([click(ON_0, 103)]); // 98: no window of by-user ends in (95, 98]
    await h.send([click(ON_0, 104)]); // 99: the window [90, 100) is complete
    await h.send([click(ON_0, 113)]); // 108
    await h.send([click(ON_0, 125)]); // 120: crosses 109 and 119 at once
    expect(marks(h).filter(([p]) => p === 0).map(([, m]) => (m as { watermark: number }).watermark)).toEqual([95, 99, 120]);
    expect(timeOf(h).wm).toBe(120);
  });

  it('a batch between points writes its checkpoint but no mark', async () => {
    const h = clicks();
    await h.send([click(ON_0, 100)]);
    const before = h.outputs(CONTROL).length;
    await h.send([click(ON_0, 102)]);
    expect(h.outputs(CONTROL).length).toBe(before);
    expect(timeOf(h)).toMatchObject({ wm: 97, sentWm: 95 });
  });

  it('a change of idleness is sent whatever the watermark', async () => {
    const h = clicks({ pipeline: { idleTimeout: '1s' } });
    await h.send([click(ON_0, 100)]);
    h.advanceClock(1_000);
    await h.tick();
    expect(marks(h).filter(([p]) => p === 0).map(([, m]) => m)).toEqual([
      { from: 'clicks.0', watermark: 95, fence: 0, idle: false },
      { from: 'clicks.0', watermark: 95, fence: 0, idle: true },
    ]);
  });
});

describe('idleness', () => {
  it('after idleTimeout without data, a tick marks the partition idle and sends an idle mark', async () => {
    const h = clicks({ pipeline: { idleTimeout: '30s' } });
    await h.send([click(ON_0, 100)]);
    h.advanceClock(29_999);
    await h.tick();
    expect(timeOf(h).idle).toBe(false);
    h.advanceClock(1);
    await h.tick();
    expect(timeOf(h)).toMatchObject({ idle: true, wm: 95 });
    expect(marks(h)).toEqual([
      [0, { from: 'clicks.0', watermark: 95, fence: 0, idle: false }],
      [0, { from: 'clicks.0', watermark: 95, fence: 0, idle: true }],
      [1, { from: 'clicks.0', watermark: 95, fence: -1, idle: false }],
      [1, { from: 'clicks.0', watermark: 95, fence: -1, idle: true }],
    ]);
  });

  it('data makes an idle partition active again, and an active mark says so', async () => {
    const h = clicks({ pipeline: { idleTimeout: '30s' } });
    await h.send([click(ON_0, 100)]);
    h.advanceClock(30_000);
    await h.tick();
    await h.send([click(ON_0, 110)]);
    expect(timeOf(h)).toMatchObject({ idle: false, wm: 105 });
    expect(marks(h).filter(([p]) => p === 0)).toEqual([
      [0, { from: 'clicks.0', watermark: 95, fence: 0, idle: false }],
      [0, { from: 'clicks.0', watermark: 95, fence: 0, idle: true }],
      [0, { from: 'clicks.0', watermark: 105, fence: 1, idle: false }],
    ]);
  });

  it('a partition that never had data is idle idleTimeout after the first tick it saw', async () => {
    const h = clicks({ pipeline: { idleTimeout: '30s' } });
    await h.tick();
    h.advanceClock(29_999);
    await h.tick();
    expect(h.outputs(CONTROL)).toEqual([]);
    h.advanceClock(1);
    await h.tick();
    expect(marks(h)).toEqual([
      [0, { from: 'clicks.0', watermark: MIN_WATERMARK, fence: -1, idle: true }],
      [1, { from: 'clicks.0', watermark: MIN_WATERMARK, fence: -1, idle: true }],
    ]);
  });

  describe('a partition whose trigger lags behind it', () => {
    /** A probe that says what `unread` says, and remembers what it was asked. */
    const probe = (unread: { now: boolean }) => {
      const asked: Array<{ task: string; from: number }> = [];
      const backlog: BacklogProbe = {
        unread: (task, from) => {
          asked.push({ task: task.id, from });
          return Promise.resolve(unread.now);
        },
      };
      return { backlog, asked };
    };

    it('is behind, not idle, while it holds records the task has not read; idle once they are read and it is quiet again', async () => {
      const unread = { now: true };
      const { backlog, asked } = probe(unread);
      const h = clicks({ pipeline: { idleTimeout: '30s' }, backlog });
      await h.send([click(ON_0, 100)]);
      h.advanceClock(29_999);
      await h.tick();
      expect(asked).toEqual([]); // before the deadline nothing is asked
      h.advanceClock(1);
      await h.tick();
      expect(asked).toEqual([{ task: 'clicks.0', from: 1 }]);
      expect(timeOf(h).idle).toBe(false);
      h.advanceClock(60_000);
      await h.tick();
      expect(timeOf(h).idle).toBe(false);
      expect(marks(h).filter(([p]) => p === 0).map(([, m]) => (m as { idle: boolean }).idle)).toEqual([false]);
      // The trigger catches up: the record it held back arrives, and it stays active for idleTimeout.
      await h.send([click(ON_0, 110)]);
      unread.now = false;
      h.advanceClock(29_999);
      await h.tick();
      expect(timeOf(h)).toMatchObject({ idle: false, wm: 105 });
      h.advanceClock(1);
      await h.tick();
      expect(timeOf(h)).toMatchObject({ idle: true, wm: 105 });
      expect(asked.at(-1)).toEqual({ task: 'clicks.0', from: 2 });
    });

    it('is idle at its deadline when the probe finds nothing unread (the probe does not hold it back)', async () => {
      const { backlog, asked } = probe({ now: false });
      const h = clicks({ pipeline: { idleTimeout: '30s' }, backlog });
      await h.send([click(ON_0, 100)]);
      h.advanceClock(30_000);
      await h.tick();
      expect(timeOf(h).idle).toBe(true);
      expect(asked).toHaveLength(1);
      // Idle already: later ticks ask nothing.
      h.advanceClock(30_000);
      await h.tick();
      expect(asked).toHaveLength(1);
    });

    it('a task that has read nothing yet asks from offset -1 (where its trigger starts is the probe’s to know)', async () => {
      const unread = { now: true };
      const { backlog, asked } = probe(unread);
      const h = clicks({ pipeline: { idleTimeout: '30s' }, backlog });
      await h.tick();
      h.advanceClock(30_000);
      await h.tick();
      expect(asked).toEqual([{ task: 'clicks.0', from: -1 }]);
      expect(timeOf(h).idle).toBe(false);
      unread.now = false;
      await h.tick();
      expect(timeOf(h).idle).toBe(true);
    });
  });

  it('an idle partition sends its idle mark once, not on every tick', async () => {
    const h = clicks({ pipeline: { idleTimeout: '30s' } });
    await h.send([click(ON_0, 100)]);
    for (let i = 0; i < 3; i += 1) {
      h.advanceClock(30_000);
      await h.tick();
    }
    expect(marks(h).filter(([p]) => p === 0).map(([, m]) => (m as { idle: boolean }).idle)).toEqual([false, true]);
  });
});

describe('a source stage whose downstream needs no event time', () => {
  it('writes no marks', async () => {
    const p = pipeline('shop');
    p.source('clicks', { serde: json<Click>(), eventTime: (c) => c.at, partitions: 1 })
      .keyBy((c) => c.user, { name: 'user', partitions: 2 })
      .map((c) => c.at)
      .sink('out', { serde: json<number>() });
    const h = stageHarness(p, 'clicks');
    await h.send([click('ann', 100)]);
    expect(h.currentWatermark()).toBe(100);
    expect(h.outputs(CONTROL)).toEqual([]);
  });
});

describe('a keyed source stage with windows', () => {
  /** `clicks` is already keyed by user: the source stage itself counts per user in tumbling windows. */
  function keyedClicks(): StageHarness {
    const p = pipeline('shop');
    p.keyedSource('clicks', { serde: json<Click>(), keySerde: json<string>(), eventTime: (c) => c.at, maxOutOfOrderness: 2, partitions: 1 })
      .window(tumbling(10))
      .aggregate(count())
      .sink('out', { serde: json() });
    return stageHarness(p, 'clicks');
  }

  it('fires its windows from its own watermark, after the batch that advanced it', async () => {
    const h = keyedClicks();
    await h.send([{ key: 'ann', value: { user: 'ann', at: 1 } }, { key: 'ann', value: { user: 'ann', at: 11 } }]);
    expect(h.currentWatermark()).toBe(9);
    expect(h.outputs('out').map((o) => o.value)).toEqual([{ key: 'ann', window: { start: 0, end: 10 }, value: 1, firing: 'on-time' }]);
  });

  it('treats a record below its own watermark as late', async () => {
    const h = keyedClicks();
    await h.send([{ key: 'ann', value: { user: 'ann', at: 11 } }]);
    await h.send([{ key: 'ann', value: { user: 'ann', at: 8 } }]);
    expect(h.lateRecords().map((r) => r.value)).toEqual([{ user: 'ann', at: 8 }]);
  });
});
