import { describe, expect, it } from 'vitest';
import { json } from '../../framework/index.js';
import { stageHarness } from '../../framework/testing/index.js';
import { accounts, fraud, payments, type Account, type EnrichedPayment, type Payment } from './pipeline.js';

const T0 = Date.UTC(2026, 2, 1, 9, 0);
const ann: Account = { holder: 'Ann', homeCountry: 'NL', limit: 100_000, status: 'active' };
const payment = (id: string, account: string): Payment => ({ id, account, session: `s-${id}`, amount: 5_000, country: 'NL', at: T0 });
const enrichedOut = (h: ReturnType<typeof stageHarness>) => h.outputs('fraud.score.in', json<EnrichedPayment>());

describe('enrich stage', () => {
  it('adds the account row a payment’s account has when the payment is processed', async () => {
    const h = stageHarness(fraud, 'enrich');
    await h.send([{ key: 'acc-1', value: ann }], { from: accounts });
    await h.send([{ key: 'acc-1', value: payment('p1', 'acc-1'), timestamp: T0 }], { from: payments });
    await h.send([{ key: 'acc-1', value: { ...ann, status: 'frozen' } }], { from: accounts });
    await h.send([{ key: 'acc-1', value: payment('p2', 'acc-1'), timestamp: T0 }], { from: payments });
    expect(enrichedOut(h).map((o) => [o.value.payment.id, o.value.account?.status])).toEqual([
      ['p1', 'active'],
      ['p2', 'frozen'],
    ]);
  });

  it('passes a payment of an unknown or closed account on with account: null (left join)', async () => {
    const h = stageHarness(fraud, 'enrich');
    await h.send([{ key: 'acc-1', value: ann }], { from: accounts });
    await h.send([{ key: 'acc-1', value: null }], { from: accounts }); // closed: a tombstone
    await h.send([{ key: 'acc-1', value: payment('p1', 'acc-1'), timestamp: T0 }, { key: 'acc-9', value: payment('p2', 'acc-9'), timestamp: T0 }], { from: payments });
    expect(enrichedOut(h).map((o) => [o.value.payment.id, o.value.account]).sort()).toEqual([
      ['p1', null],
      ['p2', null],
    ]);
  });

  it('repartitions by session, keeping the payment’s event time', async () => {
    const h = stageHarness(fraud, 'enrich');
    await h.send([{ key: 'acc-1', value: payment('p1', 'acc-1'), timestamp: T0 }], { from: payments });
    const [out] = h.kafka.readCommitted('fraud.score.in');
    expect(out!.key?.toString()).toBe('s-p1');
    expect(out!.headers.find((x) => x.name === 'sluice-et')?.value.toString()).toBe(String(T0));
  });

  it('keeps the table as queryable state `table-accounts`', async () => {
    const h = stageHarness(fraud, 'enrich');
    await h.send([{ key: 'acc-1', value: ann }], { from: accounts });
    expect(h.state('acc-1', 'table-accounts')).toEqual(ann);
  });
});
