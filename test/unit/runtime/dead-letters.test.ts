import { EMPTY_CHECKPOINT } from '../../../framework/commit/checkpoint.js';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RecordFailedError } from '../../../framework/runtime/record-failed.js';
import { json, pipeline, valueState } from '../../../framework/index.js';
import type { PipelineOptions } from '../../../framework/index.js';
import { stageHarness } from '../../../framework/testing/index.js';

const Order = z.object({ id: z.string(), user: z.string(), amount: z.number() });
type Order = z.infer<typeof Order>;

/** A user function's own error, to check the class name travels to the dead-letter topic. */
class PricingError extends Error {
  override readonly name = 'PricingError';
}

const good = (id: string, amount = 1): { value: Order } => ({ value: { id, user: 'ann', amount } });
const values = <T>(outputs: ReadonlyArray<{ value: T }>): T[] => outputs.map((o) => o.value);

/** Orders (schema-checked, event time from `amount`) → price (throws on negative amounts) → `priced`. */
function pricing(options: PipelineOptions = {}) {
  const p = pipeline('shop', { partitions: 1, ...options });
  p.source('orders', {
    serde: json({ schema: Order }),
    eventTime: (o) => {
      if (o.id === 'no-time') throw new Error('order has no time');
      return 1_000;
    },
  })
    .map((o) => {
      if (o.amount < 0) throw new PricingError(`negative amount ${o.amount}`);
      return { id: o.id, cents: o.amount * 100 };
    })
    .sink('priced', { serde: json() });
  return stageHarness(p, 'orders');
}

describe('poison records go to the dead-letter topic while the rest of the batch goes on', () => {
  it('a record that is not JSON', async () => {
    const h = pricing();
    await h.send([good('o1'), { raw: Buffer.from('{"id": oops') }, good('o3')]);
    expect(values(h.outputs('priced'))).toEqual([
      { id: 'o1', cents: 100 },
      { id: 'o3', cents: 100 },
    ]);
    const [dead] = h.deadLetters();
    expect(h.deadLetters()).toHaveLength(1);
    expect(dead).toMatchObject({ value: Buffer.from('{"id": oops'), stage: 'orders', topic: 'orders', partition: 0, offset: 1, errorClass: 'SerdeError' });
    expect(dead!.errorMessage).toMatch(/^deserialize: json: bytes are not valid JSON: .+ \[topic=orders partition=0 offset=1\] — check what the producer writes to this topic$/);
  });

  it('a record the zod schema rejects, naming the field', async () => {
    const h = pricing();
    await h.send([good('o1'), { value: { id: 'o2', user: 'ann', amount: 'ten' } as unknown as Order }, good('o3')]);
    expect(values(h.outputs('priced'))).toEqual([
      { id: 'o1', cents: 100 },
      { id: 'o3', cents: 100 },
    ]);
    expect(h.deadLetters()).toEqual([
      {
        value: Buffer.from('{"id":"o2","user":"ann","amount":"ten"}'),
        stage: 'orders',
        topic: 'orders',
        partition: 0,
        offset: 1,
        errorClass: 'SerdeError',
        errorMessage:
          'deserialize: json: value does not match the schema: amount: Invalid input: expected number, received string [topic=orders partition=0 offset=1 field=amount] — fix the producer, or widen the schema if the data is right',
      },
    ]);
  });

  it('a record whose user function throws', async () => {
    const h = pricing();
    await h.send([good('o1'), good('o2', -5), good('o3')]);
    expect(values(h.outputs('priced'))).toEqual([
      { id: 'o1', cents: 100 },
      { id: 'o3', cents: 100 },
    ]);
    expect(h.deadLetters()).toEqual([
      { value: Buffer.from('{"id":"o2","user":"ann","amount":-5}'), stage: 'orders', topic: 'orders', partition: 0, offset: 1, errorClass: 'PricingError', errorMessage: 'map: negative amount -5' },
    ]);
  });

  it('a record whose eventTime function throws', async () => {
    const h = pricing();
    await h.send([good('o1'), good('no-time'), good('o3')]);
    expect(values(h.outputs('priced'))).toEqual([
      { id: 'o1', cents: 100 },
      { id: 'o3', cents: 100 },
    ]);
    expect(h.deadLetters().map((d) => [d.offset, d.errorClass, d.errorMessage])).toEqual([[1, 'Error', 'eventTime: order has no time']]);
  });

  it('several poison records of one batch, each with its own offset and reason', async () => {
    const h = pricing();
    const [report] = await h.send([{ raw: Buffer.from('x') }, good('o1'), good('o2', -1), good('no-time')]);
    expect(h.deadLetters().map((d) => [d.offset, d.errorClass])).toEqual([
      [0, 'SerdeError'],
      [3, 'Error'],
      [2, 'PricingError'],
    ]);
    expect(report).toMatchObject({ processed: 4, outputs: 1, deadLetters: 3, seq: 1 });
  });

  it('commits the batch past its poison records, so they are not read again', async () => {
    const h = pricing();
    await h.send([good('o1'), { raw: Buffer.from('x') }]);
    expect(h.checkpoint()).toMatchObject({ committedSeq: 1, nextOffset: 2 });
  });

  function countingThatThrowsOnNegative() {
    const seen = valueState<number>('seen');
    const p = pipeline('shop', { partitions: 1 });
    p.source('orders', { serde: json({ schema: Order }) })
      .keyBy((o) => o.user, { name: 'user' })
      .process<number>(
        (o, ctx) => {
          ctx.state(seen).set((ctx.state(seen).get() ?? 0) + 1);
          ctx.emit(ctx.state(seen).get()!);
          if (o.amount < 0) throw new PricingError('negative');
        },
        { state: [seen] },
      )
      .sink('out', { serde: json<number>() });
    return { h: stageHarness(p, 'by-user'), seen };
  }

  it('a keyed process that throws: what it emitted is dropped', async () => {
    const { h } = countingThatThrowsOnNegative();
    await h.send([{ key: 'ann', ...good('o1') }, { key: 'ann', ...good('o2', -1) }]);
    expect(values(h.outputs('out'))).toEqual([1]);
    expect(h.deadLetters().map((d) => [d.offset, d.errorClass, d.errorMessage])).toEqual([[1, 'PricingError', 'process[seen]: negative']]);
  });

  it('a keyed process that throws: what it wrote to state is rolled back', async () => {
    const { h, seen } = countingThatThrowsOnNegative();
    await h.send([{ key: 'ann', ...good('o1') }, { key: 'ann', ...good('o2', -1) }, { key: 'ann', ...good('o3') }]);
    expect(values(h.outputs('out'))).toEqual([1, 2]);
    expect(h.state('ann', seen)).toBe(2);
  });
});

describe("onError: 'fail'", () => {
  async function failure(send: () => Promise<unknown>): Promise<RecordFailedError> {
    try {
      await send();
    } catch (e) {
      if (e instanceof RecordFailedError) return e;
      throw e;
    }
    throw new Error('expected a RecordFailedError');
  }

  it('throws RecordFailedError naming the stage, partition and offset of a throwing function', async () => {
    const h = pricing({ onError: 'fail' });
    const e = await failure(() => h.send([good('o1'), good('o2', -5), good('o3')]));
    expect(e.code).toBe('SLUICE_RECORD_FAILED');
    expect(e.place).toEqual({ stage: 'orders', topic: 'orders', partition: 0, offset: 1 });
    expect(e.message).toBe(
      'map failed: negative amount -5 [stage=orders topic=orders partition=0 offset=1] — fix the function or the record; with onError: "dead-letter" the record would go to the dead-letter topic instead',
    );
    expect(e.cause).toBeInstanceOf(PricingError);
  });

  it('throws RecordFailedError for a record that cannot be read', async () => {
    const h = pricing({ onError: 'fail' });
    const e = await failure(() => h.send([good('o1'), { raw: Buffer.from('nope') }]));
    expect(e.place).toEqual({ stage: 'orders', topic: 'orders', partition: 0, offset: 1 });
    expect(e.message).toMatch(/^deserialize failed: json: bytes are not valid JSON/);
  });

  it('commits nothing: no outputs, no dead letters, no checkpoint', async () => {
    const h = pricing({ onError: 'fail' });
    await failure(() => h.send([good('o1'), good('o2', -5)]));
    expect(h.kafka.readUncommitted('priced')).toEqual([]);
    expect(h.kafka.readUncommitted('shop.orders.dlq')).toEqual([]);
    expect(h.kafka.readUncommitted('shop.progress')).toEqual([]);
    expect(h.checkpoint()).toEqual(EMPTY_CHECKPOINT);
  });
});
