import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../framework/errors.js';
import type { Duration } from '../../../framework/time/duration.js';
import { countTrigger, eventTimeTrigger } from '../../../framework/time/triggers.js';
import { assignWindows, GLOBAL_WINDOW, globalWindow, maxTimestamp, session, sliding, tumbling, validateAssigner } from '../../../framework/time/windows.js';
import type { WindowAssigner } from '../../../framework/time/windows.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('tumbling windows', () => {
  it('put an element in the one window of `size` aligned to the epoch', () => {
    expect(assignWindows(tumbling(10), 0)).toEqual([{ start: 0, end: 10 }]);
    expect(assignWindows(tumbling(10), 9)).toEqual([{ start: 0, end: 10 }]);
    expect(assignWindows(tumbling(10), 10)).toEqual([{ start: 10, end: 20 }]);
  });

  it('align negative timestamps downwards', () => {
    expect(assignWindows(tumbling(10), -1)).toEqual([{ start: -10, end: 0 }]);
    expect(assignWindows(tumbling(10), -10)).toEqual([{ start: -10, end: 0 }]);
    expect(assignWindows(tumbling(10), -11)).toEqual([{ start: -20, end: -10 }]);
  });

  it('shift the grid by the offset', () => {
    const t = Date.UTC(2026, 0, 2, 1, 0); // 01:00 is before the 02:00 boundary
    expect(assignWindows(tumbling('1d', { offset: '2h' }), t)).toEqual([{ start: Date.UTC(2026, 0, 1, 2, 0), end: Date.UTC(2026, 0, 2, 2, 0) }]);
    expect(assignWindows(tumbling(10, { offset: 3 }), 2)).toEqual([{ start: -7, end: 3 }]);
    expect(assignWindows(tumbling(10, { offset: 3 }), 3)).toEqual([{ start: 3, end: 13 }]);
  });

  it('are a plain value with sizes in ms', () => {
    expect(tumbling('1d', { offset: '2h' })).toEqual({ kind: 'tumbling', sizeMs: DAY, offsetMs: 2 * HOUR });
  });
});

describe('sliding windows', () => {
  it('put an element in size/slide windows, by ascending start', () => {
    expect(assignWindows(sliding(10, 5), 7)).toEqual([
      { start: 0, end: 10 },
      { start: 5, end: 15 },
    ]);
  });

  it('put an element in ⌈size/slide⌉ or ⌊size/slide⌋ windows when the slide does not divide the size', () => {
    expect(assignWindows(sliding(10, 4), 9)).toEqual([
      { start: 0, end: 10 },
      { start: 4, end: 14 },
      { start: 8, end: 18 },
    ]);
    expect(assignWindows(sliding(10, 4), 2)).toEqual([
      { start: -4, end: 6 },
      { start: 0, end: 10 },
    ]);
  });

  it('align to the offset for negative timestamps too', () => {
    expect(assignWindows(sliding(10, 5, { offset: 2 }), -1)).toEqual([
      { start: -8, end: 2 },
      { start: -3, end: 7 },
    ]);
  });

  it('with slide = size are tumbling windows', () => {
    expect(assignWindows(sliding(10, 10), 13)).toEqual(assignWindows(tumbling(10), 13));
  });

  it('are a plain value with sizes in ms', () => {
    expect(JSON.parse(JSON.stringify(sliding('1m', '10s')))).toEqual({ kind: 'sliding', sizeMs: 60_000, slideMs: 10_000, offsetMs: 0 });
  });
});

describe('session windows', () => {
  it('give an element its own window [t, t + gap) before merging', () => {
    expect(assignWindows(session('30s'), 5)).toEqual([{ start: 5, end: 30_005 }]);
  });
});

describe('global windows', () => {
  it('put every element in the one global window', () => {
    expect(assignWindows(globalWindow(countTrigger(3)), -5)).toEqual([GLOBAL_WINDOW]);
    expect(GLOBAL_WINDOW).toEqual({ start: Number.MIN_SAFE_INTEGER, end: Number.MAX_SAFE_INTEGER });
  });

  it('carry their trigger as a plain value', () => {
    expect(JSON.parse(JSON.stringify(globalWindow(countTrigger(3))))).toEqual({ kind: 'global', trigger: { kind: 'count', count: 3, purge: true } });
  });

  it('reject an event-time trigger without early firings, which would never fire', () => {
    const e = configError(() => globalWindow(eventTimeTrigger()));
    expect(e.place).toEqual({ stage: undefined, field: 'window.trigger' });
    expect(e.message).toMatch(/^window.trigger: an event-time trigger without early firings never fires a global window/);
  });
});

describe('window bounds', () => {
  it('end one millisecond before `end`: maxTimestamp', () => {
    expect(maxTimestamp({ start: 0, end: 10 })).toBe(9);
  });

  it('need a whole number of milliseconds as event time', () => {
    expect(() => assignWindows(tumbling(10), 1.5)).toThrow(new RangeError('event time 1.5 is not a whole number of milliseconds'));
    expect(() => assignWindows(tumbling(10), NaN)).toThrow(RangeError);
  });
});

describe('assigner configuration', () => {
  it('rejects a zero size, naming the field', () => {
    const e = configError(() => tumbling(0));
    expect(e.place.field).toBe('window.size');
    expect(e.message).toBe("window.size: must be at least 1ms, got 0 [field=window.size] — give a positive duration such as '1m'");
  });

  it('rejects a size that is not a duration', () => {
    expect(configError(() => tumbling('3w' as Duration)).place).toEqual({ field: 'window.size' });
  });

  it('rejects an offset not below the size', () => {
    const e = configError(() => tumbling(10, { offset: 10 }));
    expect(e.place.field).toBe('window.offset');
    expect(e.message).toBe(
      'window.offset: 10ms must be at least 0 and less than the size (10ms) [field=window.offset] — an offset works modulo the size: for a negative offset -x use size - x',
    );
  });

  it('rejects a zero slide', () => {
    expect(configError(() => sliding(10, 0)).place.field).toBe('window.slide');
  });

  it('rejects a slide longer than the size, since records between windows would be in none', () => {
    const e = configError(() => sliding('1m', '2m'));
    expect(e.place.field).toBe('window.slide');
    expect(e.message).toBe(
      'window.slide: a slide of 120000ms is longer than the window size (60000ms), so records between windows would belong to none [field=window.slide]' +
        ' — use a slide no longer than the size (equal is a tumbling window); to sample, filter the records instead',
    );
  });

  it('rejects a sliding offset not below the slide', () => {
    expect(configError(() => sliding(10, 5, { offset: 5 })).place.field).toBe('window.offset');
  });

  it('rejects a zero session gap', () => {
    expect(configError(() => session(0)).place.field).toBe('window.gap');
  });

  it('names the stage when validating an assigner built elsewhere', () => {
    const e = configError(() => validateAssigner({ kind: 'tumbling', sizeMs: -5, offsetMs: 0 }, 'counts'));
    expect(e.place).toEqual({ stage: 'counts', field: 'window.size' });
  });

  it('rejects an unknown kind', () => {
    expect(configError(() => validateAssigner({ kind: 'hopping' } as unknown as WindowAssigner, 'counts')).place).toEqual({ stage: 'counts', field: 'window' });
  });
});
