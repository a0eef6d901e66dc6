import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../framework/errors.js';
import { parseDuration } from '../../../framework/time/duration.js';
import type { Duration } from '../../../framework/time/duration.js';

describe('parseDuration', () => {
  it('takes a number as milliseconds', () => {
    expect(parseDuration(250, 'wmInterval')).toBe(250);
    expect(parseDuration(0, 'wmInterval')).toBe(0);
  });

  it.each([
    ['500ms', 500],
    ['2s', 2_000],
    ['1.5s', 1_500],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['1.1s', 1_100],
  ] as const)('reads %s as %i ms', (text, ms) => {
    expect(parseDuration(text, 'window')).toBe(ms);
  });

  it.each([
    ['a negative number', -1],
    ['a fractional number of ms', 1.5],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['a negative string', '-1s'],
    ['a fraction of a millisecond', '0.5ms'],
    ['an unknown unit', '3w'],
    ['a missing unit', '10'],
    ['spaces', ' 10s'],
    ['an exponent', '1e3ms'],
  ] as const)('rejects %s', (_what, d) => {
    expect(() => parseDuration(d as Duration, 'maxOutOfOrderness')).toThrow(ConfigError);
  });

  it('names the field and shows the accepted forms', () => {
    let error: unknown;
    try {
      parseDuration('3w' as Duration, 'maxOutOfOrderness');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).place).toEqual({ field: 'maxOutOfOrderness' });
    expect((error as ConfigError).message).toBe(
      'maxOutOfOrderness: "3w" is not a duration [field=maxOutOfOrderness]' +
        " — use a whole number of milliseconds or a string like '500ms', '10s', '1.5m', '1h', '7d'",
    );
  });

  it('rejects a value of the wrong type coming from untyped config', () => {
    expect(() => parseDuration({} as unknown as Duration, 'idleTimeout')).toThrow('idleTimeout: [object Object] is not a duration');
  });
});
