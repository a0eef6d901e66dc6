/**
 * The __APP__ pipeline: per customer, the total of their orders in 10-second windows.
 *
 *   __APP__-orders ─▶ [orders] drop empty orders ─keyBy customer─▶ [totals] 10 s tumbling sums ─▶ __APP__-totals
 *
 * Two stages, so two Lambda functions (src/orders.ts, src/totals.ts): the `keyBy` is where one
 * stage ends and the next begins, because every order of a customer must reach the same task.
 */
import { json, pipeline, string, sum, tumbling } from 'sluice';

/** An order as the shop writes it to `__APP__-orders`. */
export interface Order {
  readonly orderId: string;
  readonly customer: string;
  /** Cents. */
  readonly amount: number;
  /** When it was placed (event time), epoch ms. */
  readonly at: number;
}

/** The pipeline; `npx sluice dev --pipeline src/pipeline.ts` runs it locally. */
export const app = pipeline('__APP__', { partitions: 2 });

app
  .source<Order>('__APP__-orders', { serde: json<Order>(), partitions: 2, eventTime: (o) => o.at, maxOutOfOrderness: '1s' })
  .filter((o) => o.amount > 0)
  .stage('orders')
  .keyBy((o) => o.customer, { name: 'customer', keySerde: string() })
  .stage('totals')
  .window(tumbling('10s'))
  .aggregate(sum((o: Order) => o.amount))
  .sink('__APP__-totals', { serde: json() });
