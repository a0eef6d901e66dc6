import { describe, expect, it } from 'vitest';
import { stageHarness } from '../../framework/testing/index.js';
import { fraud, type Account } from './pipeline.js';

const ann: Account = { holder: 'Ann', homeCountry: 'NL', limit: 100_000, status: 'active' };

describe('accounts stage', () => {
  it('forwards each account change to enrich keyed by account, tombstones as tombstones', async () => {
    const h = stageHarness(fraud, 'accounts');
    await h.send([
      { key: 'acc-1', value: ann },
      { key: 'acc-1', value: null },
    ]);
    expect(h.kafka.readCommitted('fraud.enrich.in').map((r) => [r.key?.toString(), r.value === null ? null : (JSON.parse(r.value.toString()) as Account).holder])).toEqual([
      ['acc-1', 'Ann'],
      ['acc-1', null],
    ]);
  });

  it('takes no part in event time downstream: it sends no watermark marks', async () => {
    const h = stageHarness(fraud, 'accounts');
    await h.send([{ key: 'acc-1', value: ann }]);
    expect(h.kafka.readCommitted('fraud.enrich.control')).toEqual([]);
  });

  it('dead-letters a record without a key (a table row needs one)', async () => {
    const h = stageHarness(fraud, 'accounts');
    await h.send([{ value: ann }]);
    expect(h.deadLetters().map((d) => d.errorMessage)).toEqual([expect.stringContaining('no key')]);
  });
});
