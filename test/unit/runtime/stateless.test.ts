import { describe, expect, it } from 'vitest';
import { json, outputTag, pipeline } from '../../../framework/index.js';
import { stageHarness } from '../../../framework/testing/index.js';

interface Order {
  readonly id: string;
  readonly user: string;
  readonly amount: number;
  readonly items: readonly string[];
}

const orderSerde = json<Order>();
const order = (id: string, amount: number, items: string[] = ['pen'], user = 'ann'): Order => ({ id, user, amount, items });

function shop() {
  return pipeline('shop', { partitions: 1 });
}

const values = <T>(outputs: ReadonlyArray<{ value: T }>): T[] => outputs.map((o) => o.value);

describe('fused stateless operators', () => {
  it('run filter, map and flatMap in one stage, in order', async () => {
    const p = shop();
    p.source('orders', { serde: orderSerde })
      .filter((o) => o.amount > 0)
      .map((o) => ({ id: o.id, cents: o.amount * 100, items: o.items }))
      .flatMap((o) => o.items.map((item) => ({ order: o.id, item, cents: o.cents })))
      .sink('lines', { serde: json() });
    const h = stageHarness(p, 'orders');
    const [report] = await h.send([{ value: order('o1', 2, ['pen', 'ink']) }, { value: order('o2', 0) }, { value: order('o3', 5, ['pad']) }]);
    expect(values(h.outputs('lines'))).toEqual([
      { order: 'o1', item: 'pen', cents: 200 },
      { order: 'o1', item: 'ink', cents: 200 },
      { order: 'o3', item: 'pad', cents: 500 },
    ]);
    expect(report).toMatchObject({ task: 'orders.0', received: 3, processed: 3, outputs: 3, deadLetters: 0, seq: 1 });
  });

  it('let a flatMap drop a record by returning nothing', async () => {
    const p = shop();
    p.source('orders', { serde: orderSerde })
      .flatMap((o) => o.items)
      .sink('items', { serde: json<string>() });
    const h = stageHarness(p, 'orders');
    await h.send([{ value: order('o1', 1, []) }, { value: order('o2', 1, ['cup']) }]);
    expect(values(h.outputs('items'))).toEqual(['cup']);
  });

  it('hand functions the record context: event time and origin', async () => {
    const p = shop();
    p.source('orders', { serde: orderSerde, eventTime: (o) => o.amount * 1000 })
      .map((o, ctx) => ({ id: o.id, timestamp: ctx.timestamp, origin: ctx.origin }))
      .sink('seen', { serde: json() });
    const h = stageHarness(p, 'orders');
    await h.send([{ value: order('o1', 7) }, { value: order('o2', 9) }]);
    expect(values(h.outputs('seen'))).toEqual([
      { id: 'o1', timestamp: 7000, origin: { topic: 'orders', partition: 0, offset: 0 } },
      { id: 'o2', timestamp: 9000, origin: { topic: 'orders', partition: 0, offset: 1 } },
    ]);
    expect(h.outputs('seen').map((o) => o.timestamp)).toEqual([7000, 9000]);
  });
});

describe('mapAsync', () => {
  function delayed(concurrency: number) {
    const seen = { inFlight: 0, maxInFlight: 0 };
    const p = shop();
    p.source('orders', { serde: orderSerde })
      .mapAsync(
        async (o) => {
          seen.inFlight += 1;
          seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
          // Earlier records take longer, so they finish last.
          await new Promise((resolve) => setTimeout(resolve, 20 - o.amount));
          seen.inFlight -= 1;
          return o.id;
        },
        { concurrency },
      )
      .sink('ids', { serde: json<string>() });
    return { h: stageHarness(p, 'orders'), seen };
  }
  const tenOrders = Array.from({ length: 10 }, (_, i) => ({ value: order(`o${i}`, i) }));

  it('keeps input order when later records finish first', async () => {
    const { h } = delayed(4);
    await h.send(tenOrders);
    expect(values(h.outputs('ids'))).toEqual(['o0', 'o1', 'o2', 'o3', 'o4', 'o5', 'o6', 'o7', 'o8', 'o9']);
  });

  it('runs up to `concurrency` calls at once and never more', async () => {
    const { h, seen } = delayed(3);
    await h.send(tenOrders);
    expect(seen.maxInFlight).toBe(3);
  });

  it('runs one call at a time with concurrency 1', async () => {
    const { h, seen } = delayed(1);
    await h.send(tenOrders);
    expect(seen.maxInFlight).toBe(1);
  });
});

describe('process', () => {
  const large = outputTag<Order>('large');
  const empty = outputTag<{ id: string }>('empty');

  function withSideOutputs() {
    const p = shop();
    const main = p.source('orders', { serde: orderSerde }).process<string>((o, ctx) => {
      if (o.items.length === 0) ctx.output(empty, { id: o.id });
      else if (o.amount >= 1000) ctx.output(large, o);
      else for (const item of o.items) ctx.emit(item);
    });
    main.sink('items', { serde: json<string>() });
    main.sideOutput(large).sink('large-orders', { serde: orderSerde });
    main.sideOutput(empty).sink('empty-orders', { serde: json() });
    return stageHarness(p, 'orders');
  }

  it('emits any number of records downstream', async () => {
    const h = withSideOutputs();
    await h.send([{ value: order('o1', 3, ['pen', 'ink']) }, { value: order('o2', 2, ['cup']) }]);
    expect(values(h.outputs('items'))).toEqual(['pen', 'ink', 'cup']);
  });

  it('delivers side outputs to the streams that select their tag, and only there', async () => {
    const h = withSideOutputs();
    await h.send([{ value: order('o1', 3, ['pen']) }, { value: order('o2', 5000, ['car']) }, { value: order('o3', 1, []) }]);
    expect(values(h.outputs('items'))).toEqual(['pen']);
    expect(values(h.outputs('large-orders'))).toEqual([order('o2', 5000, ['car'])]);
    expect(values(h.outputs('empty-orders'))).toEqual([{ id: 'o3' }]);
  });

  it('awaits an async process function before the next record', async () => {
    const p = shop();
    const log: string[] = [];
    p.source('orders', { serde: orderSerde })
      .process<string>(async (o, ctx) => {
        log.push(`start ${o.id}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
        log.push(`end ${o.id}`);
        ctx.emit(o.id);
      })
      .sink('ids', { serde: json<string>() });
    const h = stageHarness(p, 'orders');
    await h.send([{ value: order('o1', 1) }, { value: order('o2', 1) }]);
    expect(log).toEqual(['start o1', 'end o1', 'start o2', 'end o2']);
    expect(values(h.outputs('ids'))).toEqual(['o1', 'o2']);
  });
});

describe('union within a stage', () => {
  it('merges branches of one source into one stream', async () => {
    const p = shop();
    const orders = p.source('orders', { serde: orderSerde });
    const big = orders.filter((o) => o.amount >= 100).map((o) => `big ${o.id}`);
    const vip = orders.filter((o) => o.user === 'vip').map((o) => `vip ${o.id}`);
    big.union(vip).sink('flags', { serde: json<string>() });
    const h = stageHarness(p, 'orders');
    await h.send([{ value: order('o1', 500) }, { value: order('o2', 5, [], 'vip') }, { value: order('o3', 700, [], 'vip') }, { value: order('o4', 1) }]);
    expect(values(h.outputs('flags'))).toEqual(['big o1', 'big o3', 'vip o2', 'vip o3']);
  });

  it('merges two source topics read by one stage', async () => {
    const p = shop();
    const web = p.source('web-orders', { serde: orderSerde });
    const shopFloor = p.source('store-orders', { serde: orderSerde });
    web.union(shopFloor).stage('orders').map((o) => o.id).sink('ids', { serde: json<string>() });
    const h = stageHarness(p, 'orders');
    await h.send([{ value: order('w1', 1) }], 'web-orders');
    await h.send([{ value: order('s1', 1) }], 'store-orders');
    expect(values(h.outputs('ids'))).toEqual(['w1', 's1']);
    expect(h.stage.inputs.map((i) => i.topic)).toEqual(['web-orders', 'store-orders']);
  });
});
