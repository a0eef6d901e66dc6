/**
 * The orders `npm start` writes to `__APP__-orders` (`sluice dev --feed`): two customers over two
 * 10-second windows, then one order per source partition 30 s later, which moves event time past
 * both windows so they close and their totals come out.
 */
import type { Order } from './pipeline.js';

/** 2026-01-01 12:00:00 UTC, a window boundary. */
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function order(orderId: string, customer: string, amount: number, at: number): { key: string; value: Order } {
  return { key: customer, value: { orderId, customer, amount, at } };
}

/** Records for the source topic; `partition` is optional (by default the key decides). */
export const sample = [
  order('o-1', 'alice', 3_000, T0 + 1_000),
  order('o-2', 'bob', 1_500, T0 + 2_000),
  order('o-3', 'alice', 2_000, T0 + 4_000),
  order('o-4', 'bob', 0, T0 + 5_000), // empty: the orders stage drops it
  order('o-5', 'alice', 500, T0 + 12_000),
  { ...order('o-6', 'carol', 100, T0 + 40_000), partition: 0 },
  { ...order('o-7', 'dave', 100, T0 + 40_000), partition: 1 },
];

