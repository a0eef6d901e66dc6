import { describe, expect, it } from 'vitest';
import type { Plan, PlanNode } from '../../../framework/dsl/plan.js';
import { ConfigError } from '../../../framework/errors.js';
import { compile, count, describe as describeTopology, describeJson, json, pipeline, valueState } from '../../../framework/index.js';
import type { PipelineOptions, Stage, Topology } from '../../../framework/index.js';

interface Order {
  readonly id: string;
  readonly user: string;
  readonly amount: number;
}
interface Refund {
  readonly order: string;
  readonly user: string;
  readonly amount: number;
}

const orderSerde = json<Order>();
const refundSerde = json<Refund>();

function shop(options: PipelineOptions = { partitions: 4 }) {
  return pipeline('shop', options);
}

function stageNamed(topology: Topology, name: string): Stage {
  const stage = topology.stages.find((s) => s.name === name);
  if (!stage) throw new Error(`no stage ${name}; stages: ${topology.stages.map((s) => s.name).join(', ')}`);
  return stage;
}

/** The operators of a stage, as `describe()` labels them. */
function operatorsOf(topology: Topology, name: string): string[] {
  return describeJson(topology).stages.find((s) => s.name === name)!.operators.slice();
}

function configError(build: () => unknown): ConfigError {
  try {
    build();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('stage cutting and fusion', () => {
  it('fuses stateless operators into the stage of their input and ends it at keyBy', () => {
    const p = shop();
    p.source('orders', { serde: orderSerde })
      .filter((o) => o.amount > 0)
      .map((o) => ({ ...o, amount: o.amount * 100 }))
      .flatMap((o) => [o, o])
      .mapAsync(async (o) => o)
      .keyBy((o) => o.user)
      .aggregate(count())
      .sink('counts', { serde: json() });
    const t = compile(p.plan());
    expect(t.stages.map((s) => s.name)).toEqual(['orders', 'keyed-1']);
    expect(operatorsOf(t, 'orders')).toEqual(['source(orders)', 'filter', 'map', 'flatMap', 'mapAsync(8)', 'keyBy']);
  });

  it('puts the consumers of a keyBy in the next stage', () => {
    const p = shop();
    p.source('orders', { serde: orderSerde })
      .keyBy((o) => o.user)
      .map((o) => o.amount)
      .process<number>((v, ctx) => ctx.emit(v), { state: [valueState<number>('total')] })
      .filter((v) => v > 0)
      .sink('totals', { serde: json<number>() });
    const t = compile(p.plan());
    expect(operatorsOf(t, 'keyed-1')).toEqual(['map', 'process[total]', 'filter', 'sink(totals)']);
    expect(stageNamed(t, 'keyed-1').keyed).toBe(true);
    expect(stageNamed(t, 'orders').keyed).toBe(false);
  });

  it('keeps branches that fan out from one stream in one stage', () => {
    const p = shop();
    const orders = p.source('orders', { serde: orderSerde });
    orders.filter((o) => o.amount > 100).sink('big-orders', { serde: orderSerde });
    orders.filter((o) => o.amount <= 100).sink('small-orders', { serde: orderSerde });
    const t = compile(p.plan());
    expect(t.stages.map((s) => s.name)).toEqual(['orders']);
    expect(stageNamed(t, 'orders').outputs).toEqual([
      { kind: 'sink', node: 2, topic: 'big-orders', toStage: undefined },
      { kind: 'sink', node: 4, topic: 'small-orders', toStage: undefined },
    ]);
  });

  it('cuts one stage per keyBy and links them upstream and downstream', () => {
    const p = shop();
    p.source('orders', { serde: orderSerde })
      .keyBy((o) => o.user, { name: 'user' })
      .process<Order>((o, ctx) => ctx.emit(o))
      .keyBy((o) => o.id, { name: 'order' })
      .aggregate(count())
      .sink('counts', { serde: json() });
    const t = compile(p.plan());
    expect(t.stages.map((s) => [s.name, s.upstream, s.downstream])).toEqual([
      ['orders', [], ['by-user']],
      ['by-user', ['orders'], ['by-order']],
      ['by-order', ['by-user'], []],
    ]);
    expect(stageNamed(t, 'by-user').outputs).toEqual([{ kind: 'repartition', node: 3, topic: 'shop.by-order.in', toStage: 'by-order' }]);
  });

  it('treats a keyed source as a keyed stage without a repartition', () => {
    const p = shop();
    p.keyedSource('orders-by-user', { serde: orderSerde, keySerde: json<string>() })
      .aggregate(count())
      .sink('counts', { serde: json() });
    const t = compile(p.plan());
    expect(t.stages.map((s) => [s.name, s.keyed, s.inputs.map((i) => i.kind)])).toEqual([['orders-by-user', true, ['source']]]);
  });
});

describe('stage names', () => {
  it('names a source stage after its topic', () => {
    const p = shop();
    p.source('Orders.V2', { serde: orderSerde }).sink('out', { serde: orderSerde });
    expect(compile(p.plan()).stages.map((s) => s.name)).toEqual(['orders-v2']);
  });

  it('names a keyed stage by-<name> for a named keyBy', () => {
    const p = shop();
    p.source('orders', { serde: orderSerde })
      .keyBy((o) => o.user, { name: 'user' })
      .aggregate(count())
      .sink('counts', { serde: json() });
    expect(compile(p.plan()).stages.map((s) => s.name)).toEqual(['orders', 'by-user']);
  });

  it('numbers unnamed keyed stages keyed-1, keyed-2 in dataflow order', () => {
    const p = shop();
    p.source('orders', { serde: orderSerde })
      .keyBy((o) => o.user)
      .process<Order>((o, ctx) => ctx.emit(o))
      .keyBy((o) => o.id)
      .aggregate(count())
      .sink('counts', { serde: json() });
    expect(compile(p.plan()).stages.map((s) => s.name)).toEqual(['orders', 'keyed-1', 'keyed-2']);
  });

  it('gives the same names every time the same pipeline is compiled', () => {
    const build = () => {
      const p = shop();
      p.source('orders', { serde: orderSerde })
        .keyBy((o) => o.user)
        .aggregate(count())
        .sink('counts', { serde: json() });
      return compile(p.plan()).stages.map((s) => s.name);
    };
    expect(build()).toEqual(build());
  });

  it('.stage() on a Stream names its stage', () => {
    const p = shop();
    p.source('orders', { serde: orderSerde })
      .filter((o) => o.amount > 0)
      .stage('validate')
      .keyBy((o) => o.user)
      .aggregate(count())
      .sink('counts', { serde: json() });
    expect(compile(p.plan()).stages.map((s) => s.name)).toEqual(['validate', 'keyed-1']);
  });

  it('.stage() on a KeyedStream names the keyed stage, not the one writing it', () => {
    const p = shop();
    p.source('orders', { serde: orderSerde })
      .keyBy((o) => o.user, { name: 'user' })
      .stage('totals')
      .aggregate(count())
      .sink('counts', { serde: json() });
    const t = compile(p.plan());
    expect(t.stages.map((s) => s.name)).toEqual(['orders', 'totals']);
    expect(stageNamed(t, 'totals').inputs.map((i) => i.topic)).toEqual(['shop.totals.in']);
  });

  it('.stage() on a stream computed in a keyed stage names that stage', () => {
    const p = shop();
    p.source('orders', { serde: orderSerde })
      .keyBy((o) => o.user)
      .aggregate(count())
      .stage('counting')
      .sink('counts', { serde: json() });
    expect(compile(p.plan()).stages.map((s) => s.name)).toEqual(['orders', 'counting']);
  });
});

describe('topics', () => {
  function twoStages(): Topology {
    const p = shop({ partitions: 4 });
    p.source('orders', { serde: orderSerde, partitions: 8 })
      .keyBy((o) => o.user, { name: 'user' })
      .aggregate(count())
      .sink('counts', { serde: json() });
    return compile(p.plan());
  }

  it('names internal, control, dead-letter and progress topics <app>.<stage>.in|control|dlq and <app>.progress', () => {
    const t = twoStages();
    expect(t.stages.map((s) => [s.name, s.inputs.map((i) => i.topic), s.controlTopic, s.deadLetterTopic])).toEqual([
      ['orders', ['orders'], 'shop.orders.control', 'shop.orders.dlq'],
      ['by-user', ['shop.by-user.in'], 'shop.by-user.control', 'shop.by-user.dlq'],
    ]);
    expect(t.progressTopic).toBe('shop.progress');
  });

  it('sizes control topics like the stage input, dead-letter topics at 1 and the progress topic at the widest input', () => {
    expect(twoStages().topics).toEqual([
      { name: 'orders', partitions: 8, role: 'source', managed: false },
      { name: 'shop.orders.control', partitions: 8, role: 'control', managed: true },
      { name: 'shop.orders.dlq', partitions: 1, role: 'dead-letter', managed: true },
      { name: 'shop.orders.dlq-replays', partitions: 1, role: 'dead-letter', managed: true },
      { name: 'shop.orders.changelog', partitions: 8, role: 'changelog', managed: true },
      { name: 'shop.by-user.in', partitions: 4, role: 'internal', managed: true },
      { name: 'shop.by-user.control', partitions: 4, role: 'control', managed: true },
      { name: 'shop.by-user.dlq', partitions: 1, role: 'dead-letter', managed: true },
      { name: 'shop.by-user.dlq-replays', partitions: 1, role: 'dead-letter', managed: true },
      { name: 'shop.by-user.changelog', partitions: 4, role: 'changelog', managed: true },
      { name: 'counts', partitions: 4, role: 'sink', managed: false },
      { name: 'shop.progress', partitions: 8, role: 'progress', managed: true },
    ]);
  });

  it('takes the internal topic partitions from keyBy over the pipeline default', () => {
    const p = shop({ partitions: 4 });
    p.source('orders', { serde: orderSerde })
      .keyBy((o) => o.user, { partitions: 12 })
      .aggregate(count())
      .sink('counts', { serde: json() });
    const t = compile(p.plan());
    expect(t.topics.filter((x) => x.name.startsWith('shop.keyed-1.')).map((x) => [x.name, x.partitions])).toEqual([
      ['shop.keyed-1.in', 12],
      ['shop.keyed-1.control', 12],
      ['shop.keyed-1.dlq', 1],
      ['shop.keyed-1.dlq-replays', 1],
      ['shop.keyed-1.changelog', 12],
    ]);
  });
});

describe('union', () => {
  function unionOfKeyed(): Topology {
    const p = shop();
    const orders = p.source('orders', { serde: orderSerde }).keyBy((o) => o.user);
    const refunds = p
      .source('refunds', { serde: refundSerde })
      .map((r): Order => ({ id: r.order, user: r.user, amount: -r.amount }))
      .keyBy((o) => o.user);
    orders.union(refunds).aggregate(count()).sink('counts', { serde: json() });
    return compile(p.plan());
  }

  it('puts a union of keyed streams in one stage that reads one internal topic', () => {
    const t = unionOfKeyed();
    expect(t.stages.map((s) => s.name)).toEqual(['orders', 'refunds', 'keyed-1']);
    expect(stageNamed(t, 'keyed-1').inputs.map((i) => [i.topic, i.kind])).toEqual([['shop.keyed-1.in', 'internal']]);
  });

  it('lists both keyBy nodes as writers of that topic', () => {
    const t = unionOfKeyed();
    const keyBys = [...t.nodes.values()].filter((n) => n.kind === 'keyBy').map((n) => n.id);
    const input = stageNamed(t, 'keyed-1').inputs[0]!;
    expect(keyBys).toEqual([1, 4]);
    expect(input.writers).toEqual([1, 4]);
    expect(input.entry).toBe(1);
    expect(stageNamed(t, 'keyed-1').upstream).toEqual(['orders', 'refunds']);
  });

  it('keeps a union of unkeyed streams of one source in that source stage', () => {
    const p = shop();
    const orders = p.source('orders', { serde: orderSerde });
    orders
      .filter((o) => o.amount > 100)
      .union(orders.filter((o) => o.user === 'vip'))
      .sink('interesting', { serde: orderSerde });
    const t = compile(p.plan());
    expect(t.stages.map((s) => s.name)).toEqual(['orders']);
    expect(operatorsOf(t, 'orders')).toEqual(['source(orders)', 'filter', 'filter', 'union', 'sink(interesting)']);
  });
});

describe('validation', () => {
  it('rejects two stages with one name', () => {
    const p = shop();
    p.source('orders', { serde: orderSerde }).stage('ingest').sink('a', { serde: orderSerde });
    p.source('refunds', { serde: refundSerde }).stage('ingest').sink('b', { serde: refundSerde });
    const e = configError(() => compile(p.plan()));
    expect(e.message).toBe('two stages are named "ingest" [stage=ingest field=stage] — stage names must be unique');
  });

  it('rejects one stage with two names', () => {
    const p = shop();
    p.source('orders', { serde: orderSerde })
      .stage('ingest')
      .map((o) => o)
      .stage('validate')
      .sink('out', { serde: orderSerde });
    const e = configError(() => compile(p.plan()));
    expect(e.message).toBe('one stage was given two names: "ingest" and "validate" [stage=ingest] — call .stage() once per stage');
  });

  it('rejects a stage name that cannot be a function name', () => {
    const p = shop();
    p.source('orders', { serde: orderSerde }).stage('Ingest Orders').sink('out', { serde: orderSerde });
    const e = configError(() => compile(p.plan()));
    expect(e.place).toEqual({ stage: 'Ingest Orders', field: 'stage' });
    expect(e.message).toMatch(/^stage name "Ingest Orders" is not valid /);
  });

  it('rejects a source without a partition count when the pipeline has no default', () => {
    const p = shop({});
    p.source('orders', { serde: orderSerde }).sink('out', { serde: orderSerde });
    const e = configError(() => compile(p.plan()));
    expect(e.message).toBe(
      'partition count missing for source topic "orders" [stage=orders topic=orders field=partitions] — set source(topic, { partitions }) or pipeline(name, { partitions })',
    );
  });

  it('rejects a keyBy without a partition count when the pipeline has no default', () => {
    const p = shop({});
    p.source('orders', { serde: orderSerde, partitions: 3 })
      .keyBy((o) => o.user, { name: 'user' })
      .aggregate(count())
      .sink('counts', { serde: json() });
    const e = configError(() => compile(p.plan()));
    expect(e.message).toBe(
      'partition count missing for the input topic of stage "by-user" [stage=by-user field=partitions] — set keyBy(..., { partitions }) or pipeline(name, { partitions })',
    );
  });

  it('rejects keyed state in a stage that is not keyed', () => {
    // The DSL's types only offer state after keyBy, so build the bad plan by hand.
    const p = shop();
    p.source('orders', { serde: orderSerde })
      .process<Order>((o, ctx) => ctx.emit(o))
      .sink('out', { serde: orderSerde });
    const plan = p.plan();
    const nodes = plan.nodes.map((n): PlanNode => (n.kind === 'process' ? { ...n, keyed: true, state: [valueState('seen')] } : n));
    const bad: Plan = { ...plan, nodes };
    const e = configError(() => compile(bad));
    expect(e.message).toBe('keyed state used in stage "orders", which is not keyed [stage=orders] — keyBy the stream before process/aggregate with state');
  });

  it('rejects two state declarations with one name in a stage', () => {
    const p = shop();
    const byUser = p.source('orders', { serde: orderSerde }).keyBy((o) => o.user, { name: 'user' });
    byUser.process<Order>((o, ctx) => ctx.emit(o), { state: [valueState<number>('seen')] }).sink('a', { serde: orderSerde });
    byUser.process<Order>((o, ctx) => ctx.emit(o), { state: [valueState<number>('seen')] }).sink('b', { serde: orderSerde });
    const e = configError(() => compile(p.plan()));
    expect(e.message).toBe('state "seen" is declared twice in stage "by-user" [stage=by-user field=seen] — state names must be unique within a stage');
  });

  it('rejects a stage that writes nothing', () => {
    const p = shop();
    p.source('orders', { serde: orderSerde }).map((o) => o.amount);
    const e = configError(() => compile(p.plan()));
    expect(e.message).toBe('stage "orders" writes nothing [stage=orders] — end every branch with sink() or keyBy()');
  });

  it('rejects a keyBy whose keyed stream nobody reads', () => {
    const p = shop();
    const orders = p.source('orders', { serde: orderSerde });
    orders.sink('copy', { serde: orderSerde });
    orders.keyBy((o) => o.user, { name: 'user' });
    const e = configError(() => compile(p.plan()));
    expect(e.message).toBe('keyBy(user) leads nowhere [field=keyBy] — consume the keyed stream (process, aggregate, sink) or remove the keyBy');
  });

  it('rejects a stage that mixes a source topic with a keyBy input', () => {
    const p = shop();
    const totals = p
      .source('orders', { serde: orderSerde })
      .keyBy((o) => o.user)
      .process<Order>((o, ctx) => ctx.emit(o));
    const refunds = p.source('refunds', { serde: refundSerde }).map((r): Order => ({ id: r.order, user: r.user, amount: -r.amount }));
    totals.union(refunds).sink('ledger', { serde: orderSerde });
    const e = configError(() => compile(p.plan()));
    expect(e.message).toBe(
      'stage "keyed-1" mixes source topic(s) "refunds" with a keyBy input [stage=keyed-1] — keyBy the source stream too, then union the keyed streams',
    );
  });

  it('rejects a sink to an internal topic of the pipeline', () => {
    const p = shop();
    const keyed = p.source('orders', { serde: orderSerde }).keyBy((o) => o.user, { name: 'user' });
    keyed.aggregate(count()).sink('shop.by-user.in', { serde: json() });
    const e = configError(() => compile(p.plan()));
    expect(e.message).toBe(
      'stage "by-user" sinks to "shop.by-user.in", which is an internal topic of this pipeline [stage=by-user topic=shop.by-user.in] — sink to a topic the pipeline does not read or manage',
    );
  });

  it('rejects a sink to the pipeline source topic, a dead-letter topic or the progress topic', () => {
    for (const [topic, role] of [
      ['orders', 'a source'],
      ['shop.orders.dlq', 'a dead-letter'],
      ['shop.orders.control', 'a control'],
      ['shop.progress', 'a progress'],
    ] as const) {
      const p = shop();
      p.source('orders', { serde: orderSerde }).sink(topic, { serde: orderSerde });
      const e = configError(() => compile(p.plan()));
      expect(e.message).toBe(
        `stage "orders" sinks to "${topic}", which is ${role} topic of this pipeline [stage=orders topic=${topic}] — sink to a topic the pipeline does not read or manage`,
      );
    }
  });

  it('rejects a transaction timeout that does not exceed the function timeout', () => {
    const p = shop({ partitions: 4, functionTimeout: '5m', transactionTimeout: '5m' });
    p.source('orders', { serde: orderSerde }).sink('out', { serde: orderSerde });
    const e = configError(() => compile(p.plan()));
    expect(e.message).toBe(
      'transactionTimeout (300000 ms) must exceed functionTimeout (300000 ms) [field=transactionTimeout] — a Kafka transaction must outlive the invocation that opened it, or the broker aborts it mid-commit',
    );
  });

  it('accepts a transaction timeout equal to the function timeout in at-least-once mode (no transaction)', () => {
    const p = shop({ partitions: 4, mode: 'at-least-once', functionTimeout: '5m', transactionTimeout: '5m' });
    p.source('orders', { serde: orderSerde }).sink('out', { serde: orderSerde });
    expect(compile(p.plan()).settings.mode).toBe('at-least-once');
  });

  it('rejects a function timeout above the 14 minutes Lambda allows for Kafka triggers', () => {
    const p = shop({ partitions: 4, functionTimeout: '15m' });
    p.source('orders', { serde: orderSerde }).sink('out', { serde: orderSerde });
    const e = configError(() => compile(p.plan()));
    expect(e.message).toBe('functionTimeout 900000 ms is out of range [field=functionTimeout] — Lambda allows at most 14 minutes for Kafka triggers');
  });

  it('accepts a function timeout of exactly 14 minutes', () => {
    const p = shop({ partitions: 4, functionTimeout: '14m' });
    p.source('orders', { serde: orderSerde }).sink('out', { serde: orderSerde });
    expect(compile(p.plan()).settings).toMatchObject({ functionTimeoutMs: 840_000, transactionTimeoutMs: 900_000 });
  });
});

describe('describe() and describeJson()', () => {
  function twoStages(): Topology {
    const p = shop({ partitions: 4 });
    p.source('orders', { serde: orderSerde, partitions: 8 })
      .filter((o) => o.amount > 0)
      .map((o) => ({ ...o, amount: Math.round(o.amount) }))
      .keyBy((o) => o.user, { name: 'user' })
      .aggregate(count())
      .sink('order-counts', { serde: json() });
    return compile(p.plan());
  }

  it('describes a two-stage pipeline as text', () => {
    expect(describeTopology(twoStages())).toBe(
      [
        'pipeline shop (exactly-once), 2 stage(s)',
        '',
        'stage orders',
        '  reads    orders ×8',
        '  runs     source(orders) → filter → map → keyBy(user)',
        '  writes   shop.by-user.in (→ by-user)',
        '  control  shop.orders.control',
        '  dlq      shop.orders.dlq',
        '',
        'stage by-user [keyed]',
        '  reads    shop.by-user.in ×4',
        '  runs     aggregate(count) → sink(order-counts)',
        '  writes   order-counts',
        '  state    agg-count:aggregating',
        '  control  shop.by-user.control',
        '  dlq      shop.by-user.dlq',
        '',
        'topics',
        '  orders                                   ×8    source (external)',
        '  shop.orders.control                      ×8    control',
        '  shop.orders.dlq                          ×1    dead-letter',
        '  shop.orders.dlq-replays                  ×1    dead-letter',
        '  shop.orders.changelog                    ×8    changelog',
        '  shop.by-user.in                          ×4    internal',
        '  shop.by-user.control                     ×4    control',
        '  shop.by-user.dlq                         ×1    dead-letter',
        '  shop.by-user.dlq-replays                 ×1    dead-letter',
        '  shop.by-user.changelog                   ×4    changelog',
        '  order-counts                             ×4    sink (external)',
        '  shop.progress                            ×8    progress',
      ].join('\n'),
    );
  });

  it('describes a two-stage pipeline as JSON', () => {
    expect(describeJson(twoStages())).toEqual({
      app: 'shop',
      mode: 'exactly-once',
      stages: [
        {
          name: 'orders',
          keyed: false,
          inputs: [{ topic: 'orders', partitions: 8, kind: 'source' }],
          operators: ['source(orders)', 'filter', 'map', 'keyBy(user)'],
          outputs: [{ kind: 'repartition', topic: 'shop.by-user.in', toStage: 'by-user' }],
          state: [],
          controlTopic: 'shop.orders.control',
          deadLetterTopic: 'shop.orders.dlq',
        },
        {
          name: 'by-user',
          keyed: true,
          inputs: [{ topic: 'shop.by-user.in', partitions: 4, kind: 'internal' }],
          operators: ['aggregate(count)', 'sink(order-counts)'],
          outputs: [{ kind: 'sink', topic: 'order-counts' }],
          state: ['agg-count:aggregating'],
          controlTopic: 'shop.by-user.control',
          deadLetterTopic: 'shop.by-user.dlq',
        },
      ],
      topics: [
        { name: 'orders', partitions: 8, role: 'source', managed: false },
        { name: 'shop.orders.control', partitions: 8, role: 'control', managed: true },
        { name: 'shop.orders.dlq', partitions: 1, role: 'dead-letter', managed: true },
        { name: 'shop.orders.dlq-replays', partitions: 1, role: 'dead-letter', managed: true },
        { name: 'shop.orders.changelog', partitions: 8, role: 'changelog', managed: true },
        { name: 'shop.by-user.in', partitions: 4, role: 'internal', managed: true },
        { name: 'shop.by-user.control', partitions: 4, role: 'control', managed: true },
        { name: 'shop.by-user.dlq', partitions: 1, role: 'dead-letter', managed: true },
        { name: 'shop.by-user.dlq-replays', partitions: 1, role: 'dead-letter', managed: true },
        { name: 'shop.by-user.changelog', partitions: 4, role: 'changelog', managed: true },
        { name: 'order-counts', partitions: 4, role: 'sink', managed: false },
        { name: 'shop.progress', partitions: 8, role: 'progress', managed: true },
      ],
    });
  });

  it('is plain data that survives JSON', () => {
    const d = describeJson(twoStages());
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });
});
