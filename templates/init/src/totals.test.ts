import { describe, expect, it } from 'vitest';
import { json } from 'sluice';
import { stageHarness } from 'sluice/testing';
import { app, type Order } from './pipeline.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

/** An order as the orders stage hands it over: keyed by customer, stamped with its event time. */
function order(customer: string, amount: number, at: number) {
  const value: Order = { orderId: `${customer}-${at}`, customer, amount, at };
  return { key: customer, value, timestamp: at };
}

interface Total {
  readonly key: string;
  readonly window: { readonly start: number; readonly end: number };
  readonly value: number;
}

describe('totals stage', () => {
  it('sums each customer’s orders per 10 s window once event time passes the window', async () => {
    const h = stageHarness(app, 'totals');
    await h.send([order('alice', 3_000, T0 + 1_000), order('alice', 2_000, T0 + 4_000), order('alice', 500, T0 + 12_000)]);
    await h.watermark(T0 + 9_999);
    expect(h.outputs('__APP__-totals', json<Total>()).map((o) => o.value)).toEqual([
      { key: 'alice', window: { start: T0, end: T0 + 10_000 }, value: 5_000, firing: 'on-time' },
    ]);
  });
});
