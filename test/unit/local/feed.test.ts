import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../framework/errors.js';
import { feedRecords } from '../../../framework/local/feed.js';

describe('sluice dev --feed', () => {
  it('takes a feed as an array of records', async () => {
    expect(await feedRecords([{ value: { a: 1 }, key: 'k' }], 'sample.ts#sample')).toEqual([{ value: { a: 1 }, key: 'k' }]);
  });

  it('calls a feed function, also an async one, for its records', async () => {
    expect(await feedRecords(async () => [{ value: 1 }], 'sample.ts#feed')).toEqual([{ value: 1 }]);
  });

  it('rejects an export that is not a list of records with a value, naming it', async () => {
    await expect(feedRecords({ value: 1 }, 'sample.ts#sample')).rejects.toThrow(ConfigError);
    await expect(feedRecords([{ key: 'k' }], 'sample.ts#sample')).rejects.toThrow(/sample.ts#sample is not a feed/);
  });
});
