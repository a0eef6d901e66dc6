// Timers of a keyed `process`: registered through ctx.timers, stored per task with the batch's
// other effects, fired through onTimer when the watermark (event time) or a tick (processing
// time) reaches them — once, whatever is redelivered.
import { describe, expect, it } from 'vitest';
import { json, pipeline, valueState } from '../../../framework/index.js';
import type { KeyedProcessFunction } from '../../../framework/index.js';
import type { KeyedProcessOptions } from '../../../framework/dsl/stream.js';
import { stageHarness } from '../../../framework/testing/index.js';
import type { StageHarness } from '../../../framework/testing/index.js';

interface Cmd {
  readonly user: string;
  readonly at: number;
  /** What the process function does with the record. */
  readonly op: 'event' | 'processing' | 'cancel' | 'throw';
  /** Timer time for `event`/`cancel`: event time; for `processing`: delay after processing time. */
  readonly time: number;
}

const cmd = (user: string, op: Cmd['op'], time: number, at = 0) => ({ key: user, value: { user, at, op, time }, timestamp: at });

const fired = valueState<number>('fired');

/** Registers, deletes or throws as each record says; onTimer emits `<key> <domain> <time>` and counts firings in state. */
const onCmd: KeyedProcessFunction<string, Cmd, string> = (c, ctx) => {
  if (c.op === 'event') ctx.timers.registerEventTimeTimer(c.time);
  if (c.op === 'processing') ctx.timers.registerProcessingTimeTimer(ctx.timers.processingTime + c.time);
  if (c.op === 'cancel') ctx.timers.deleteEventTimeTimer(c.time);
  if (c.op === 'throw') {
    ctx.timers.registerEventTimeTimer(c.time);
    throw new Error('bad command');
  }
};

const onTimer: KeyedProcessOptions<string, string>['onTimer'] = (time, ctx) => {
  ctx.state(fired).set((ctx.state(fired).get() ?? 0) + 1);
  ctx.emit(`${ctx.key} ${ctx.timeDomain} ${time}`);
};

/** Stage `by-user` of app `shop`: process(onCmd) with onTimer → sink `out`. */
function timers(): StageHarness {
  const p = pipeline('shop', { partitions: 1 });
  p.source('cmds', { serde: json<Cmd>(), eventTime: (c) => c.at })
    .keyBy((c) => c.user, { name: 'user' })
    .process(onCmd, { state: [fired], onTimer })
    .sink('out', { serde: json<string>() });
  return stageHarness(p, 'by-user');
}

const emitted = (h: StageHarness) => h.outputs<string>('out').map((o) => o.value);
const committedTimers = async (h: StageHarness, kind: 'event' | 'processing') => Promise.resolve(h.committedTimers(0, kind));

describe('an event-time timer', () => {
  it('fires through onTimer when the watermark reaches it', async () => {
    const h = timers();
    await h.send([cmd('ann', 'event', 15)]);
    await h.watermark(14);
    expect(emitted(h)).toEqual([]);
    await h.watermark(15);
    expect(emitted(h)).toEqual(['ann event 15']);
  });

  it('fires exactly once, however far the watermark moves on', async () => {
    const h = timers();
    await h.send([cmd('ann', 'event', 15)]);
    await h.watermark(20);
    await h.watermark(30);
    expect(emitted(h)).toEqual(['ann event 15']);
    expect(h.state('ann', fired)).toBe(1);
    expect(await committedTimers(h, 'event')).toEqual([]);
  });

  it('fires per key, in time order', async () => {
    const h = timers();
    await h.send([cmd('ann', 'event', 20), cmd('bob', 'event', 10), cmd('ann', 'event', 5)]);
    await h.watermark(30);
    expect(emitted(h)).toEqual(['ann event 5', 'bob event 10', 'ann event 20']);
  });

  it('registered twice for one time and key is one timer', async () => {
    const h = timers();
    await h.send([cmd('ann', 'event', 15)]);
    await h.send([cmd('ann', 'event', 15)]);
    await h.watermark(15);
    expect(emitted(h)).toEqual(['ann event 15']);
  });

  it('is kept with the key\'s state until it fires', async () => {
    const h = timers();
    await h.send([cmd('ann', 'event', 15)]);
    expect((await committedTimers(h, 'event')).map((t) => [t.kind, t.time, t.key.toString(), t.name])).toEqual([['event', 15, '"ann"', 'process-2']]);
  });

  it('already due when registered fires at the end of the same batch', async () => {
    const h = timers();
    await h.watermark(30);
    await h.send([cmd('ann', 'event', 15)]);
    expect(emitted(h)).toEqual(['ann event 15']);
  });
});

describe('deleteEventTimeTimer', () => {
  it('prevents a timer registered in an earlier batch from firing', async () => {
    const h = timers();
    await h.send([cmd('ann', 'event', 15)]);
    await h.send([cmd('ann', 'cancel', 15)]);
    await h.watermark(30);
    expect(emitted(h)).toEqual([]);
    expect(await committedTimers(h, 'event')).toEqual([]);
  });

  it('prevents a timer registered in the same batch from firing', async () => {
    const h = timers();
    await h.send([cmd('ann', 'event', 15), cmd('ann', 'cancel', 15)]);
    await h.watermark(30);
    expect(emitted(h)).toEqual([]);
  });

  it('removes only the timer of that key', async () => {
    const h = timers();
    await h.send([cmd('ann', 'event', 15), cmd('bob', 'event', 15), cmd('bob', 'cancel', 15)]);
    await h.watermark(30);
    expect(emitted(h)).toEqual(['ann event 15']);
  });
});

describe('a processing-time timer', () => {
  it('fires on the first tick after processing time reached it', async () => {
    const h = timers();
    const start = h.now;
    await h.send([cmd('ann', 'processing', 1_000)]);
    await h.tick();
    h.advanceClock(999);
    await h.tick();
    expect(emitted(h)).toEqual([]);
    h.advanceClock(1);
    await h.tick();
    expect(emitted(h)).toEqual([`ann processing ${start + 1_000}`]);
  });

  it('fires once', async () => {
    const h = timers();
    await h.send([cmd('ann', 'processing', 1_000)]);
    h.advanceClock(1_000);
    await h.tick();
    h.advanceClock(1_000);
    await h.tick();
    expect(emitted(h)).toHaveLength(1);
    expect(await committedTimers(h, 'processing')).toEqual([]);
  });

  it('is not fired by the watermark', async () => {
    const h = timers();
    await h.send([cmd('ann', 'processing', 1_000)]);
    await h.watermark(Number.MAX_SAFE_INTEGER - 1);
    expect(emitted(h)).toEqual([]);
  });
});

describe('a record that throws', () => {
  it('is dead-lettered and the timer it registered is rolled back', async () => {
    const h = timers();
    await h.send([cmd('ann', 'throw', 15), cmd('bob', 'event', 15)]);
    expect(h.deadLetters().map((d) => [d.offset, d.errorMessage])).toEqual([[0, 'process[fired]: bad command']]);
    expect((await committedTimers(h, 'event')).map((t) => t.key.toString())).toEqual(['"bob"']);
    await h.watermark(30);
    expect(emitted(h)).toEqual(['bob event 15']);
  });
});

describe('timers and state commit exactly once', () => {
  it('redelivering the data batch registers nothing twice', async () => {
    const h = timers();
    const batch = h.toKafkaRecords([cmd('ann', 'event', 15)]);
    await h.deliver(batch);
    const [again] = await h.deliver(batch);
    expect(again).toMatchObject({ duplicates: 1, processed: 0, seq: undefined });
    await h.watermark(30);
    expect(emitted(h)).toEqual(['ann event 15']);
  });

  it('redelivering the watermark fires nothing twice', async () => {
    const h = timers();
    await h.send([cmd('ann', 'event', 15)]);
    await h.watermark(30);
    const [again] = await h.watermark(30);
    expect(again).toMatchObject({ timersFired: 0, seq: undefined });
    expect(emitted(h)).toEqual(['ann event 15']);
    expect(h.state('ann', fired)).toBe(1);
  });

  it('in a restarted container, a redelivered watermark fires nothing twice', async () => {
    const h = timers();
    await h.send([cmd('ann', 'event', 15)]);
    await h.watermark(30);
    h.restartContainer();
    await h.watermark(30);
    expect(emitted(h)).toEqual(['ann event 15']);
    expect(h.state('ann', fired)).toBe(1);
  });
});
