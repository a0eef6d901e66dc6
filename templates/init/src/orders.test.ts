import { describe, expect, it } from 'vitest';
import { json } from 'sluice';
import { stageHarness } from 'sluice/testing';
import { app, type Order } from './pipeline.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function order(customer: string, amount: number, at = T0): Order {
  return { orderId: `${customer}-${at}`, customer, amount, at };
}

describe('orders stage', () => {
  it('passes orders with an amount on to the totals stage, keyed by customer', async () => {
    const h = stageHarness(app, 'orders');
    await h.send([{ value: order('alice', 3_000) }, { value: order('bob', 0) }, { value: order('bob', 1_500) }]);
    const repartitioned = h.outputs('__APP__.totals.in', json<Order>());
    expect(repartitioned.map((r) => [r.key?.toString(), r.value.amount]).sort()).toEqual([
      ['alice', 3_000],
      ['bob', 1_500],
    ]);
  });
});
