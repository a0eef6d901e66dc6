import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../framework/record/partitioner.js';
import { stageHarness } from '../../framework/testing/index.js';
import { fraud, type Payment } from './pipeline.js';

const T0 = Date.UTC(2026, 2, 1, 9, 0);
const payment = (id: string, account: string, at = T0): Payment => ({ id, account, session: `s-${id}`, amount: 5_000, country: 'NL', at });

describe('payments stage', () => {
  it('repartitions payments by account (plain string keys, murmur2 like every keyBy)', async () => {
    const h = stageHarness(fraud, 'payments');
    await h.send([{ value: payment('p1', 'acc-1') }, { value: payment('p2', 'acc-2') }]);
    const out = h.kafka.readCommitted('fraud.enrich.in');
    expect(out.map((r) => [r.key?.toString(), r.partition]).sort()).toEqual([
      ['acc-1', partitionForKey(Buffer.from('acc-1'), 4)],
      ['acc-2', partitionForKey(Buffer.from('acc-2'), 4)],
    ]);
  });

  it('tells enrich its watermark (event time minus 5 s) so score can close join windows', async () => {
    const h = stageHarness(fraud, 'payments');
    await h.send([{ value: payment('p1', 'acc-1', T0) }]);
    expect(h.currentWatermark(0)).toBe(T0 - 5_000);
    expect(h.kafka.readCommitted('fraud.enrich.control').length).toBeGreaterThan(0);
  });
});
