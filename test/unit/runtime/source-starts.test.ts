/** SLUICE_SOURCE_STARTS, the deploy plugin's word to a source stage on where its triggers start. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../framework/errors.js';
import { encodeSourceStarts, SOURCE_STARTS_ENV, sourceStartsFromEnv } from '../../../framework/runtime/source-starts.js';

describe('SLUICE_SOURCE_STARTS', () => {
  it('round-trips every starting position', () => {
    const starts = { a: { startingPosition: 'TRIM_HORIZON' }, b: { startingPosition: 'LATEST' }, c: { startingPosition: 'AT_TIMESTAMP', startingPositionTimestamp: 1_764_547_200 } } as const;
    expect(sourceStartsFromEnv({ [SOURCE_STARTS_ENV]: encodeSourceStarts(starts) })).toEqual(starts);
  });

  it('absent or empty: nothing known', () => {
    expect(sourceStartsFromEnv({})).toEqual({});
    expect(sourceStartsFromEnv({ [SOURCE_STARTS_ENV]: '' })).toEqual({});
  });

  it.each([
    ['not JSON', '{orders'],
    ['an array', '[]'],
    ['an unknown position', '{"orders":{"startingPosition":"FIRST"}}'],
    ['AT_TIMESTAMP without its timestamp', '{"orders":{"startingPosition":"AT_TIMESTAMP"}}'],
  ])('%s: a ConfigError naming the variable', (_, value) => {
    let error: unknown;
    try {
      sourceStartsFromEnv({ [SOURCE_STARTS_ENV]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).place.field).toBe(SOURCE_STARTS_ENV);
  });
});
