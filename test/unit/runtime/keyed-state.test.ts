import { ChangelogTrimmed } from '../../../framework/commit/ports.js';
import type { CompactionPolicy } from '../../../framework/commit/checkpoint.js';
import { describe, expect, it } from 'vitest';
import type { KafkaRecord } from '../../../framework/record/record.js';
import { compile, encodeEvent, InvocationFailedError, json, listState, mapState, pipeline, reducingState, stageHandler, sum, valueState } from '../../../framework/index.js';
import type { KeyedProcessFunction, Pipeline, StateDescriptor } from '../../../framework/index.js';
import { MemoryCheckpointStore, MemoryKafka, MemoryTxnSink, MemoryTaskLog, stageHarness } from '../../../framework/testing/index.js';
import type { StageHarness } from '../../../framework/testing/index.js';

interface Order {
  readonly user: string;
  readonly page: string;
  readonly amount: number;
}

const orderSerde = json<Order>();
const order = (user: string, amount: number, page = '/'): Order => ({ user, page, amount });
const keyed = (o: Order) => ({ key: o.user, value: o });
const values = <T>(outputs: ReadonlyArray<{ value: T }>): T[] => outputs.map((o) => o.value);

/** A one-partition pipeline whose keyed stage `by-user` runs `process` and sinks what it emits to `out`. */
function byUser<O>(process: KeyedProcessFunction<string, Order, O>, state: readonly StateDescriptor[], commit?: 'checkpoint' | 'changelog') {
  const p = pipeline('shop', { partitions: 1, ...(commit ? { commit } : {}) });
  keyedOrders(p)
    .process<O>(process, { state })
    .sink('out', { serde: json<O>() });
  return p;
}

function keyedOrders(p: Pipeline) {
  return p.source('orders', { serde: orderSerde }).keyBy((o) => o.user, { name: 'user' });
}

/** Sends two batches, either to one warm container or with a container restart in between (state then comes from the store). */
async function twoBatches(h: StageHarness, restart: boolean, first: Order[], second: Order[]): Promise<void> {
  await h.send(first.map(keyed));
  if (restart) h.restartContainer();
  await h.send(second.map(keyed));
}

describe.each([
  ['in one warm container', false],
  ['across a container restart', true],
])('keyed state %s', (_, restart) => {
  it('ValueState keeps a value per key across batches', async () => {
    const visits = valueState<number>('visits');
    const p = byUser<string>((o, ctx) => {
      const n = (ctx.state(visits).get() ?? 0) + 1;
      ctx.state(visits).set(n);
      ctx.emit(`${ctx.key} ${n}`);
    }, [visits]);
    const h = stageHarness(p, 'by-user');
    await twoBatches(h, restart, [order('ann', 1), order('bob', 1), order('ann', 1)], [order('ann', 1), order('bob', 1)]);
    expect(values(h.outputs<string>('out'))).toEqual(['ann 1', 'bob 1', 'ann 2', 'ann 3', 'bob 2']);
    expect(h.state<number>('ann', visits)).toBe(3);
    expect(h.state<number>('bob', visits)).toBe(2);
  });

  it('ListState appends and replaces a list per key', async () => {
    const recent = listState<string>('recent');
    const p = byUser<string[]>((o, ctx) => {
      const list = ctx.state(recent);
      list.add(o.page);
      if (list.get().length > 2) list.update(list.get().slice(-2));
      ctx.emit([...list.get()]);
    }, [recent]);
    const h = stageHarness(p, 'by-user');
    await twoBatches(h, restart, [order('ann', 1, '/a'), order('ann', 1, '/b')], [order('ann', 1, '/c')]);
    expect(values(h.outputs<string[]>('out'))).toEqual([['/a'], ['/a', '/b'], ['/b', '/c']]);
    expect(h.state<string[]>('ann', recent)).toEqual(['/b', '/c']);
  });

  it('MapState puts, reads and removes fields per key', async () => {
    const perPage = mapState<number>('per-page');
    const p = byUser<Array<[string, number]>>((o, ctx) => {
      const m = ctx.state(perPage);
      if (o.amount === 0) m.remove(o.page);
      else m.put(o.page, (m.get(o.page) ?? 0) + o.amount);
      ctx.emit(m.entries());
    }, [perPage]);
    const h = stageHarness(p, 'by-user');
    await twoBatches(h, restart, [order('ann', 2, '/a'), order('ann', 3, '/b')], [order('ann', 4, '/a'), order('ann', 0, '/b')]);
    expect(values(h.outputs('out'))).toEqual([
      [['/a', 2]],
      [
        ['/a', 2],
        ['/b', 3],
      ],
      [
        ['/a', 6],
        ['/b', 3],
      ],
      [['/a', 6]],
    ]);
    expect(h.state('ann', perPage)).toEqual({ '/a': 6 });
  });

  it('ReducingState folds what is added per key', async () => {
    // `as StateDescriptor`: ReducingStateDescriptor<number> does not widen to StateDescriptor (its `reduce` is a property, so invariant).
    const largest = reducingState<number>('largest', (a, b) => Math.max(a, b));
    const p = byUser<number | undefined>((o, ctx) => {
      ctx.state(largest).add(o.amount);
      ctx.emit(ctx.state(largest).get());
    }, [largest as StateDescriptor]);
    const h = stageHarness(p, 'by-user');
    await twoBatches(h, restart, [order('ann', 5), order('ann', 3)], [order('ann', 9), order('ann', 1)]);
    expect(values(h.outputs('out'))).toEqual([5, 5, 9, 9]);
    expect(h.state<number>('ann', largest as StateDescriptor)).toBe(9);
  });

  it('a running aggregate emits each key’s updated result after every record', async () => {
    const p = pipeline('shop', { partitions: 1 });
    keyedOrders(p)
      .aggregate(sum((o) => o.amount), { name: 'spent' })
      .sink('spent', { serde: json() });
    const h = stageHarness(p, 'by-user');
    await twoBatches(h, restart, [order('ann', 5), order('bob', 1), order('ann', 2)], [order('ann', 10)]);
    expect(values(h.outputs('spent'))).toEqual([
      { key: 'ann', value: 5 },
      { key: 'bob', value: 1 },
      { key: 'ann', value: 7 },
      { key: 'ann', value: 17 },
    ]);
    expect(h.state<number>('ann', 'spent')).toBe(17);
  });
});

describe('keyed state', () => {
  it('keeps keys apart: one key never sees another key’s state', async () => {
    const visits = valueState<number>('visits');
    const p = byUser<number>((o, ctx) => {
      ctx.state(visits).set((ctx.state(visits).get() ?? 0) + 1);
      ctx.emit(ctx.state(visits).get()!);
    }, [visits]);
    const h = stageHarness(p, 'by-user');
    await h.send([order('ann', 1), order('bob', 1), order('cy', 1)].map(keyed));
    expect(values(h.outputs('out'))).toEqual([1, 1, 1]);
  });

  it('clears a value so it reads as absent', async () => {
    const last = valueState<string>('last');
    const p = byUser<string | null>((o, ctx) => {
      const before = ctx.state(last).get() ?? null;
      if (o.amount === 0) ctx.state(last).clear();
      else ctx.state(last).set(o.page);
      ctx.emit(before);
    }, [last]);
    const h = stageHarness(p, 'by-user');
    await h.send([order('ann', 1, '/a'), order('ann', 0)].map(keyed));
    expect(h.state('ann', last)).toBeUndefined();
    await h.send([order('ann', 1, '/b')].map(keyed));
    expect(values(h.outputs('out'))).toEqual([null, '/a', null]);
  });
});

describe('state TTL', () => {
  const last = valueState<string>('last', { ttl: '10m' });
  function lastPage() {
    const p = byUser<string | null>((o, ctx) => {
      ctx.emit(ctx.state(last).get() ?? null);
      ctx.state(last).set(o.page);
    }, [last]);
    return stageHarness(p, 'by-user');
  }

  it('reads a value within its ttl', async () => {
    const h = lastPage();
    await h.send([keyed(order('ann', 1, '/a'))]);
    h.advanceClock(10 * 60_000 - 1);
    await h.send([keyed(order('ann', 1, '/b'))]);
    expect(values(h.outputs('out'))).toEqual([null, '/a']);
  });

  it('reads a value past its ttl as absent, in a warm container', async () => {
    const h = lastPage();
    await h.send([keyed(order('ann', 1, '/a'))]);
    h.advanceClock(10 * 60_000);
    await h.send([keyed(order('ann', 1, '/b'))]);
    expect(values(h.outputs('out'))).toEqual([null, null]);
  });

  it('reads a value past its ttl as absent, from the store', async () => {
    const h = lastPage();
    await h.send([keyed(order('ann', 1, '/a'))]);
    h.restartContainer();
    h.advanceClock(10 * 60_000);
    await h.send([keyed(order('ann', 1, '/b'))]);
    expect(values(h.outputs('out'))).toEqual([null, null]);
  });

  it('shows an expired value as absent to outside readers', async () => {
    const h = lastPage();
    await h.send([keyed(order('ann', 1, '/a'))]);
    expect(h.state('ann', last)).toBe('/a');
    h.advanceClock(10 * 60_000);
    expect(h.state('ann', last)).toBeUndefined();
  });

  it('restarts the ttl on every write', async () => {
    const h = lastPage();
    await h.send([keyed(order('ann', 1, '/a'))]);
    h.advanceClock(6 * 60_000);
    await h.send([keyed(order('ann', 1, '/b'))]);
    h.advanceClock(6 * 60_000);
    await h.send([keyed(order('ann', 1, '/c'))]);
    expect(values(h.outputs('out'))).toEqual([null, '/a', '/b']);
  });
});

describe('warm state cache', () => {
  const visits = valueState<number>('visits');
  function counting(commit?: 'checkpoint' | 'changelog') {
    return byUser<number>((o, ctx) => {
      ctx.state(visits).set((ctx.state(visits).get() ?? 0) + 1);
      ctx.emit(ctx.state(visits).get()!);
    }, [visits], commit);
  }

  it('is rebuilt from the snapshot and changelog after a container restart, and kept warm otherwise (changelog protocol)', async () => {
    const h = stageHarness(counting('changelog'), 'by-user');
    await h.send([keyed(order('ann', 1))]);
    await h.send([keyed(order('ann', 1))]);
    h.restartContainer();
    await h.send([keyed(order('ann', 1))]);
    expect(values(h.outputs('out'))).toEqual([1, 2, 3]);
    // One cold start: the checkpoint read once (its snapshot is still empty); warm batches read no store.
    expect(h.store.requests.readCheckpoint).toBe(2);
  });

  it('is rebuilt from the store after a container restart (checkpoint protocol: loads counted)', async () => {
    const h = stageHarness(counting('checkpoint'), 'by-user');
    await h.send([keyed(order('ann', 1))]);
    h.restartContainer();
    await h.send([keyed(order('ann', 1))]);
    expect(values(h.outputs('out'))).toEqual([1, 2]);
    expect(h.store.requests.load).toBe(2);
  });

  it('is reused while this container wrote the checkpoint last (checkpoint protocol: loads counted)', async () => {
    const h = stageHarness(counting('checkpoint'), 'by-user');
    await h.send([keyed(order('ann', 1))]);
    await h.send([keyed(order('ann', 1))]);
    expect(values(h.outputs('out'))).toEqual([1, 2]);
    expect(h.store.requests.load).toBe(1);
  });

  /** Two containers of one stage: each has its own producers and warm caches; Kafka and the store are shared. */
  function twoContainers(mode: 'exactly-once' | 'at-least-once', compaction?: CompactionPolicy) {
    const p = pipeline('shop', { partitions: 1, mode });
    keyedOrders(p)
      .process<number>(
        (o, ctx) => {
          ctx.state(visits).set((ctx.state(visits).get() ?? 0) + 1);
          ctx.emit(ctx.state(visits).get()!);
        },
        { state: [visits] },
      )
      .sink('out', { serde: json<number>() });
    const topology = compile(p.plan());
    const partitions = new Map(topology.topics.map((t) => [t.name, t.partitions]));
    const kafka = new MemoryKafka((t) => partitions.get(t) ?? 1);
    const store = new MemoryCheckpointStore();
    const container = () => stageHandler(topology, 'by-user', { ports: { store, sink: new MemoryTxnSink(kafka), log: new MemoryTaskLog(kafka) }, ...(compaction ? { compaction } : {}) });
    let offset = 0;
    const eventOf = (user: string) => {
      const record: KafkaRecord = {
        topic: 'shop.by-user.in',
        partition: 0,
        offset: offset++,
        timestamp: 1,
        timestampType: 'CREATE_TIME',
        key: Buffer.from(JSON.stringify(user)),
        value: orderSerde.serialize(order(user, 1)),
        headers: [],
      };
      return encodeEvent({ source: 'self-managed', bootstrapServers: ['kafka:9092'], batches: [{ topic: record.topic, partition: 0, records: [record] }] });
    };
    const committed = () => kafka.readCommitted('out').map((r) => JSON.parse(r.value!.toString()) as number);
    return { a: container(), b: container(), eventOf, committed, kafka };
  }

  it('starts cold when the changelog it would catch up from was trimmed by newer snapshots (changelog protocol)', async () => {
    // A snapshot after every batch: each compaction trims the changelog before the previous snapshot.
    const { a, b, eventOf, committed, kafka } = twoContainers('exactly-once', { everyBatches: 1, minBytes: 1 });
    await invoke(a, eventOf('ann'));
    for (let i = 0; i < 4; i += 1) await invoke(b, eventOf('ann'));
    expect(() => kafka.readPartition('shop.by-user.changelog', 0, 0)).toThrow(ChangelogTrimmed);
    // No retry: the batch itself notices and loads the snapshot (a failure here would be Lambda's retry's to fix).
    await a(eventOf('ann'));
    expect(committed()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  /** Invokes like Lambda: a failed invocation is retried with the same event. */
  async function invoke(handler: (event: unknown) => Promise<unknown>, event: unknown): Promise<void> {
    try {
      await handler(event);
    } catch (e) {
      if (!(e instanceof InvocationFailedError)) throw e;
      await handler(event);
    }
  }

  it('is dropped when another container wrote the checkpoint in between', async () => {
    // At-least-once has no producer fencing: the checkpoint version is all that tells container A its cache is stale.
    const { a, b, eventOf, committed } = twoContainers('at-least-once');
    await a(eventOf('ann'));
    await b(eventOf('ann'));
    await a(eventOf('ann'));
    expect(committed()).toEqual([1, 2, 3]);
  });

  it('gives the right state when a container comes back after another one took over (exactly-once)', async () => {
    const { a, b, eventOf, committed } = twoContainers('exactly-once');
    await invoke(a, eventOf('ann'));
    await invoke(b, eventOf('ann'));
    await invoke(a, eventOf('ann'));
    expect(committed()).toEqual([1, 2, 3]);
  });
});

describe('undeclared state', () => {
  const declared = valueState<number>('declared');
  const undeclared = valueState<number>('undeclared');

  it('dead-letters the record with UndeclaredStateError and processes the rest', async () => {
    const p = byUser<string>((o, ctx) => {
      if (o.amount === 0) ctx.state(undeclared).get();
      ctx.emit(o.page);
    }, [declared]);
    const h = stageHarness(p, 'by-user');
    await h.send([order('ann', 1, '/a'), order('ann', 0, '/b'), order('ann', 1, '/c')].map(keyed));
    expect(values(h.outputs('out'))).toEqual(['/a', '/c']);
    expect(h.deadLetters().map((d) => [d.offset, d.errorClass, d.errorMessage])).toEqual([
      [1, 'UndeclaredStateError', 'process[declared]: state "undeclared" is used but not declared [stage=by-user field=undeclared] — list it in process(fn, { state: [...] })'],
    ]);
  });

  it('is reported as UndeclaredStateError when the process declares no state at all', async () => {
    const p = byUser<string>((o, ctx) => {
      ctx.state(undeclared).get();
      ctx.emit(o.page);
    }, []);
    const h = stageHarness(p, 'by-user');
    await h.send([keyed(order('ann', 1))]);
    expect(h.deadLetters().map((d) => d.errorClass)).toEqual(['UndeclaredStateError']);
  });

  it('does not stop a keyed process that uses no state', async () => {
    const p = byUser<string>((o, ctx) => ctx.emit(`${ctx.key}:${o.page}`), []);
    const h = stageHarness(p, 'by-user');
    await h.send([keyed(order('ann', 1, '/a'))]);
    expect(values(h.outputs('out'))).toEqual(['ann:/a']);
    expect(h.deadLetters()).toEqual([]);
  });
});

describe('event time of repartitioned records', () => {
  it('comes from the sluice-et header (internal topics use LogAppendTime), else from the Kafka timestamp', async () => {
    const p = byUser<number>((o, ctx) => ctx.emit(ctx.timestamp), []);
    const h = stageHarness(p, 'by-user');
    await h.send([
      { value: order('ann', 1), key: 'ann', timestamp: 9_999_999, headers: [{ name: 'sluice-et', value: Buffer.from('1234') }] },
      { value: order('ann', 2), key: 'ann', timestamp: 5_678 },
    ]);
    expect(values(h.outputs<number>('out'))).toEqual([1234, 5678]);
  });
});
