import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../framework/errors.js';
import type { Duration } from '../../../framework/time/duration.js';
import {
  countTrigger,
  earlyTimerAfterElement,
  eventTimeTrigger,
  fireOnElement,
  fireOnEventTime,
  fireOnProcessingTime,
  triggerEventTimer,
  windowTrigger,
} from '../../../framework/time/triggers.js';
import type { TriggerWindow } from '../../../framework/time/triggers.js';
import { globalWindow, tumbling } from '../../../framework/time/windows.js';

const NO_WATERMARK = Number.NEGATIVE_INFINITY;

/** Window [0, 10): maxTimestamp 9. */
function win(over: Partial<TriggerWindow> = {}): TriggerWindow {
  return { maxTimestamp: 9, global: false, fired: false, sinceFiring: 1, ...over };
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

describe('trigger values', () => {
  it('the event-time trigger is a plain value with early firings in ms', () => {
    expect(eventTimeTrigger()).toEqual({ kind: 'event-time' });
    expect(eventTimeTrigger({ early: { everyRecords: 100, everyMs: '5s' } })).toEqual({ kind: 'event-time', earlyEveryRecords: 100, earlyEveryMs: 5_000 });
  });

  it('the count trigger purges unless told not to', () => {
    expect(countTrigger(3)).toEqual({ kind: 'count', count: 3, purge: true });
    expect(countTrigger(3, { purge: false })).toEqual({ kind: 'count', count: 3, purge: false });
  });

  it('survive a JSON round trip', () => {
    const t = eventTimeTrigger({ early: { everyMs: '1m' } });
    expect(JSON.parse(JSON.stringify(t))).toEqual(t);
  });

  it('reject a count below 1', () => {
    expect(configError(() => countTrigger(0)).place).toEqual({ stage: undefined, field: 'window.trigger.count' });
  });

  it('reject early firings every 0 records or 0 ms', () => {
    expect(configError(() => eventTimeTrigger({ early: { everyRecords: 0 } })).place.field).toBe('trigger.early.everyRecords');
    expect(configError(() => eventTimeTrigger({ early: { everyMs: 0 } })).place.field).toBe('trigger.early.everyMs');
  });
});

describe('windowTrigger', () => {
  it('gives time windows the event-time trigger with the spec’s early firings', () => {
    expect(windowTrigger(tumbling(10), undefined)).toEqual({ kind: 'event-time' });
    expect(windowTrigger(tumbling(10), { early: { everyMs: 100 } })).toEqual({ kind: 'event-time', earlyEveryMs: 100 });
  });

  it('gives a global window its own trigger', () => {
    expect(windowTrigger(globalWindow(countTrigger(5)), undefined)).toEqual({ kind: 'count', count: 5, purge: true });
  });

  it('rejects a trigger option on a global window, naming the stage', () => {
    const e = configError(() => windowTrigger(globalWindow(countTrigger(5)), { early: { everyRecords: 2 } }, 'totals'));
    expect(e.place).toEqual({ stage: 'totals', field: 'trigger' });
  });

  it('names the stage and field of a bad early duration', () => {
    const e = configError(() => windowTrigger(tumbling(10), { early: { everyMs: '5x' as Duration } }, 'totals'));
    expect(e.place).toEqual({ stage: 'totals', field: 'trigger.early.everyMs' });
    expect(e.message).toMatch(/^trigger.early.everyMs: "5x" is not a duration \[stage=totals field=trigger.early.everyMs\]/);
  });
});

describe('event-time trigger', () => {
  const trigger = eventTimeTrigger();

  it('does not fire on an element before the watermark reaches the window end', () => {
    expect(fireOnElement(trigger, win(), 8)).toBeUndefined();
  });

  it('fires late, without purging, on an element added after the watermark reached the window end', () => {
    expect(fireOnElement(trigger, win({ fired: true }), 9)).toEqual({ firing: 'late', purge: false });
  });

  it('fires on time when event time reaches maxTimestamp', () => {
    expect(fireOnEventTime(trigger, win(), 8)).toBeUndefined();
    expect(fireOnEventTime(trigger, win(), 9)).toEqual({ firing: 'on-time', purge: false });
  });

  it('fires on time only once', () => {
    expect(fireOnEventTime(trigger, win({ fired: true }), 9)).toBeUndefined();
  });

  it('needs an event-time timer at maxTimestamp until it fired', () => {
    expect(triggerEventTimer(trigger, win())).toBe(9);
    expect(triggerEventTimer(trigger, win({ fired: true }))).toBeUndefined();
  });

  it('never fires the global window by event time', () => {
    const global = win({ maxTimestamp: Number.MAX_SAFE_INTEGER - 1, global: true });
    expect(fireOnEventTime(trigger, global, Number.MAX_SAFE_INTEGER)).toBeUndefined();
    expect(triggerEventTimer(trigger, global)).toBeUndefined();
  });
});

describe('early firings', () => {
  it('fire early when the records since the last firing reach everyRecords', () => {
    const trigger = eventTimeTrigger({ early: { everyRecords: 2 } });
    expect(fireOnElement(trigger, win({ sinceFiring: 1 }), NO_WATERMARK)).toBeUndefined();
    expect(fireOnElement(trigger, win({ sinceFiring: 2 }), NO_WATERMARK)).toEqual({ firing: 'early', purge: false });
  });

  it('arm a processing-time timer at the next multiple of everyMs', () => {
    const trigger = eventTimeTrigger({ early: { everyMs: 100 } });
    expect(earlyTimerAfterElement(trigger, win(), null, NO_WATERMARK, 250)).toBe(300);
    expect(earlyTimerAfterElement(trigger, win(), null, NO_WATERMARK, 300)).toBe(400);
  });

  it('keep a pending processing-time timer', () => {
    const trigger = eventTimeTrigger({ early: { everyMs: 100 } });
    expect(earlyTimerAfterElement(trigger, win(), 300, NO_WATERMARK, 380)).toBe(300);
  });

  it('arm no timer once the window fired, after the watermark passed its end, or with nothing new', () => {
    const trigger = eventTimeTrigger({ early: { everyMs: 100 } });
    expect(earlyTimerAfterElement(trigger, win({ fired: true }), null, NO_WATERMARK, 250)).toBeNull();
    expect(earlyTimerAfterElement(trigger, win(), null, 9, 250)).toBeNull();
    expect(earlyTimerAfterElement(trigger, win({ sinceFiring: 0 }), null, NO_WATERMARK, 250)).toBeNull();
    expect(earlyTimerAfterElement(eventTimeTrigger(), win(), null, NO_WATERMARK, 250)).toBeNull();
  });

  it('fire early when the processing-time timer is due and records arrived since the last firing', () => {
    const trigger = eventTimeTrigger({ early: { everyMs: 100 } });
    expect(fireOnProcessingTime(trigger, win({ sinceFiring: 2 }), NO_WATERMARK)).toEqual({ firing: 'early', purge: false });
    expect(fireOnProcessingTime(trigger, win({ sinceFiring: 0 }), NO_WATERMARK)).toBeUndefined();
  });

  it('stop once the window fired on time or the watermark passed its end', () => {
    const trigger = eventTimeTrigger({ early: { everyRecords: 1, everyMs: 100 } });
    expect(fireOnProcessingTime(trigger, win({ fired: true }), NO_WATERMARK)).toBeUndefined();
    expect(fireOnProcessingTime(trigger, win(), 9)).toBeUndefined();
    expect(fireOnElement(trigger, win({ fired: true }), 5)).toBeUndefined();
  });
});

describe('count trigger', () => {
  it('fires and purges when the window holds `count` records', () => {
    const g = win({ maxTimestamp: Number.MAX_SAFE_INTEGER - 1, global: true });
    expect(fireOnElement(countTrigger(3), { ...g, sinceFiring: 2 }, NO_WATERMARK)).toBeUndefined();
    expect(fireOnElement(countTrigger(3), { ...g, sinceFiring: 3 }, NO_WATERMARK)).toEqual({ firing: 'on-time', purge: true });
  });

  it('fires without purging when told not to', () => {
    expect(fireOnElement(countTrigger(2, { purge: false }), win({ global: true, sinceFiring: 2 }), NO_WATERMARK)).toEqual({ firing: 'on-time', purge: false });
  });

  it('needs no timers', () => {
    expect(triggerEventTimer(countTrigger(3), win())).toBeUndefined();
    expect(earlyTimerAfterElement(countTrigger(3), win(), null, NO_WATERMARK, 250)).toBeNull();
  });
});
