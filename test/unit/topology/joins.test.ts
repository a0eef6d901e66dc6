// How the compiler places joins: both sides in one task (co-partitioning), a repartition inserted
// only where a side cannot reach the join's stage otherwise, and a ConfigError naming the stage and
// field when the sides cannot be made to agree.
import { describe, expect, it } from 'vitest';
import { compile, ConfigError, describe as describeTopology, globalWindow, countTrigger, json, pipeline, string, tumbling } from '../../../framework/index.js';
import type { KeyByNode } from '../../../framework/dsl/plan.js';
import type { Topology } from '../../../framework/index.js';
import { stageHarness } from '../../../framework/testing/index.js';

interface Ev {
  readonly k: string;
  readonly at: number;
}

const stageNames = (t: Topology) => t.stages.map((s) => s.name);
const stageOf = (t: Topology, name: string) => t.stages.find((s) => s.name === name)!;
const keyBy = (t: Topology, id: number) => t.nodes.get(id) as KeyByNode;
const joinNode = (t: Topology) => [...t.nodes.values()].find((n) => n.kind === 'join')!;

function configError(build: () => unknown): ConfigError {
  try {
    build();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('co-partitioning', () => {
  it('joins two keyBy sides in the stage they both write, with no repartition added', () => {
    const p = pipeline('j', { partitions: 3 });
    const a = p.source('a', { serde: json<Ev>() }).keyBy((e) => e.k, { name: 'k' });
    const b = p.source('b', { serde: json<Ev>() }).keyBy((e) => e.k, { name: 'k2' });
    a.intervalJoin(b, { lower: '-1s', upper: '+1s' }).sink('out', { serde: json() });
    const t = compile(p.plan());
    expect(stageNames(t)).toEqual(['a', 'b', 'by-k']);
    expect(t.nodes.size).toBe(p.plan().nodes.length);
    expect(stageOf(t, 'by-k').inputs).toMatchObject([{ topic: 'j.by-k.in', partitions: 3, writers: [1, 3] }]);
  });

  it('inserts a repartition for a table read from its own topic, keyed with the stream side’s key serde', () => {
    const p = pipeline('j', { partitions: 3 });
    const accounts = p.table<string, { owner: string }>('accounts', { keySerde: json<string>(), serde: json<{ owner: string }>(), partitions: 6 });
    p.source('pay', { serde: json<Ev>() }).keyBy((e) => e.k, { name: 'k', keySerde: string() }).join(accounts).sink('out', { serde: json() });
    const t = compile(p.plan());
    const inserted = keyBy(t, 5);
    expect(inserted).toMatchObject({ kind: 'keyBy', input: 0, keepKey: true, changelog: true, partitions: 3 });
    expect(inserted.keySerde.name).toBe('string');
    expect(stageOf(t, 'accounts').outputs).toMatchObject([{ kind: 'repartition', topic: 'j.by-k.in', toStage: 'by-k' }]);
    expect(describeTopology(t)).toContain('runs     source(accounts) → repartition(table changes)');
  });

  it('writes the table’s key again with the join’s key serde, so both sides route a key to one task', async () => {
    const p = pipeline('j', { partitions: 3 });
    const accounts = p.table<string, { owner: string }>('accounts', { keySerde: json<string>(), serde: json<{ owner: string }>(), partitions: 6 });
    p.source('pay', { serde: json<Ev>() }).keyBy((e) => e.k, { name: 'k', keySerde: string() }).join(accounts).sink('out', { serde: json() });
    const h = stageHarness(p, 'accounts');
    await h.send([{ key: 'acc-1', value: { owner: 'ann' } }]);
    expect(h.kafka.readCommitted('j.by-k.in').map((r) => r.key?.toString())).toEqual(['acc-1']);
  });

  it('repartitions a keyed source joined with a keyBy stream (a stage reads one topic)', () => {
    const p = pipeline('j', { partitions: 2 });
    const orders = p.keyedSource('orders', { serde: json<Ev>(), keySerde: string(), partitions: 2 });
    const pays = p.source('pays', { serde: json<Ev>(), partitions: 2 }).keyBy((e) => e.k, { name: 'k', keySerde: string() });
    pays.intervalJoin(orders, { lower: 0, upper: 10 }).sink('out', { serde: json() });
    const t = compile(p.plan());
    expect(keyBy(t, 5)).toMatchObject({ input: 0, keepKey: true });
    expect(keyBy(t, 5).changelog).toBeUndefined();
    expect(joinNode(t)).toMatchObject({ left: 2, right: 5 });
  });

  it('runs a join of two streams of one keyed source in that source’s stage (no repartition)', () => {
    const p = pipeline('j', { partitions: 2 });
    const s = p.keyedSource('s', { serde: json<Ev>(), keySerde: string(), partitions: 2 });
    s.filter((e) => e.at > 0).intervalJoin(s.filter((e) => e.at < 0), { lower: 0, upper: 10 }).sink('out', { serde: json() });
    const t = compile(p.plan());
    expect(stageNames(t)).toEqual(['s']);
    expect(stageOf(t, 's').state.map((d) => d.name)).toEqual(['join-3']);
  });

  it('fuses a join with the stage a keyed side is computed in when that stage reads internal topics only', () => {
    const p = pipeline('j', { partitions: 2 });
    const a = p.source('a', { serde: json<Ev>() }).keyBy((e) => e.k, { name: 'k' }).map((e) => ({ ...e, side: 'a' }));
    const b = p.source('b', { serde: json<Ev>() }).keyBy((e) => e.k, { name: 'k2' });
    a.intervalJoin(b, { lower: 0, upper: 1 }).sink('out', { serde: json() });
    const t = compile(p.plan());
    expect(stageNames(t)).toEqual(['a', 'by-k', 'b']);
    expect(stageOf(t, 'by-k').nodes).toEqual([2, 5, 6]);
  });

  it('fails when the two keyBy sides write keys with different serdes, naming the stage and the field', () => {
    const p = pipeline('j', { partitions: 2 });
    const a = p.source('a', { serde: json<Ev>() }).keyBy((e) => e.k, { name: 'k', keySerde: string() });
    const b = p.source('b', { serde: json<Ev>() }).keyBy((e) => e.k, { name: 'k2' });
    a.intervalJoin(b, { lower: 0, upper: 1 }).sink('out', { serde: json() });
    const e = configError(() => compile(p.plan()));
    expect(e.place).toMatchObject({ stage: 'by-k', field: 'keySerde' });
    expect(e.message).toContain('not co-partitioned');
  });

  it('fails when the sides ask for different partition counts', () => {
    const p = pipeline('j');
    const a = p.source('a', { serde: json<Ev>(), partitions: 1 }).keyBy((e) => e.k, { name: 'k', partitions: 4 });
    const b = p.source('b', { serde: json<Ev>(), partitions: 1 }).keyBy((e) => e.k, { name: 'k2', partitions: 8 });
    a.intervalJoin(b, { lower: 0, upper: 1 }).sink('out', { serde: json() });
    const e = configError(() => compile(p.plan()));
    expect(e.place).toMatchObject({ stage: 'by-k', field: 'partitions' });
    expect(e.hint).toContain('same keyBy');
  });

  it('fails when a side would be repartitioned into the stage it is computed in', () => {
    const p = pipeline('j', { partitions: 2 });
    const k = p.source('a', { serde: json<Ev>() }).keyBy((e) => e.k, { name: 'k' });
    const again = k.map((e) => e).keyBy((e) => e.k, { name: 'again' });
    k.intervalJoin(again, { lower: 0, upper: 1 }).sink('out', { serde: json() });
    expect(configError(() => compile(p.plan())).message).toContain('would write its own input');
  });

  it('fails on a table joined twice in one stage under one name, and says how to name the second', () => {
    const p = pipeline('j', { partitions: 2 });
    const t = p.table<string, number>('t', { keySerde: json<string>(), serde: json<number>() });
    const s = p.source('a', { serde: json<Ev>() }).keyBy((e) => e.k, { name: 'k' });
    s.join(t).join(t).sink('out', { serde: json() });
    expect(configError(() => compile(p.plan())).hint).toContain('{ name }');
  });
});

describe('join specs', () => {
  it('rejects an interval whose lower bound is after its upper bound, at build time', () => {
    const p = pipeline('j', { partitions: 2 });
    const a = p.source('a', { serde: json<Ev>() }).keyBy((e) => e.k, { name: 'k' });
    a.intervalJoin(a.map((e) => e), { lower: '+5m', upper: '-5m' }).sink('out', { serde: json() });
    expect(configError(() => compile(p.plan())).place).toMatchObject({ stage: 'by-k', field: 'lower' });
  });

  it('rejects a bound that is not a duration where it is written', () => {
    const p = pipeline('j', { partitions: 2 });
    const a = p.source('a', { serde: json<Ev>() }).keyBy((e) => e.k, { name: 'k' });
    expect(configError(() => a.intervalJoin(a, { lower: '-5 minutes' as '-5m', upper: '0s' })).place).toMatchObject({ field: 'intervalJoin.lower' });
  });

  it('rejects a window join on a global window', () => {
    const p = pipeline('j', { partitions: 2 });
    const a = p.source('a', { serde: json<Ev>() }).keyBy((e) => e.k, { name: 'k' });
    const b = p.source('b', { serde: json<Ev>() }).keyBy((e) => e.k, { name: 'k2' });
    a.windowJoin(b, globalWindow(countTrigger(2))).sink('out', { serde: json() });
    expect(configError(() => compile(p.plan())).place).toMatchObject({ field: 'window' });
  });

  it('rejects joining streams of two pipelines', () => {
    const a = pipeline('one', { partitions: 1 }).source('a', { serde: json<Ev>() }).keyBy((e) => e.k);
    const b = pipeline('two', { partitions: 1 }).source('b', { serde: json<Ev>() }).keyBy((e) => e.k);
    expect(() => a.intervalJoin(b, { lower: 0, upper: 1 })).toThrow(ConfigError);
  });
});

describe('event time around joins', () => {
  function fraud(): Topology {
    const p = pipeline('f', { partitions: 2 });
    const accounts = p.table<string, { c: string }>('accounts', { keySerde: string(), serde: json<{ c: string }>() });
    const logins = p.source('logins', { serde: json<Ev>(), eventTime: (e) => e.at }).keyBy((e) => e.k, { name: 'session', keySerde: string() });
    p.source('pay', { serde: json<Ev>(), eventTime: (e) => e.at })
      .keyBy((e) => e.k, { name: 'account', keySerde: string() })
      .join(accounts)
      .map((r) => r.left)
      .keyBy((e) => e.k, { name: 'session', keySerde: string() })
      .intervalJoin(logins, { lower: '-1m', upper: 0 })
      .sink('out', { serde: json() });
    return compile(p.plan());
  }

  it('leaves a stage that only writes a table’s changes out of the downstream watermark', () => {
    const t = fraud();
    expect([...stageOf(t, 'by-account').upstream].sort()).toEqual(['accounts', 'pay']);
    expect(stageOf(t, 'by-account').upstreamTasks).toEqual(['pay.0', 'pay.1']);
  });

  it('needs event time in interval and window join stages, not in stream-table join stages', () => {
    const t = fraud();
    expect(stageOf(t, 'by-account').eventTime).toBe(false);
    expect(stageOf(t, 'by-session').eventTime).toBe(true);
    expect(stageOf(t, 'by-session').outputs.filter((o) => o.kind === 'late').map((o) => o.topic)).toEqual(['f.by-session.late']);
  });

  it('a window join stage has window timers from its state, like a window', async () => {
    const p = pipeline('w', { partitions: 1 });
    const a = p.source('a', { serde: json<Ev>(), eventTime: (e) => e.at }).keyBy((e) => e.k, { name: 'k' });
    const b = p.source('b', { serde: json<Ev>(), eventTime: (e) => e.at }).keyBy((e) => e.k, { name: 'k2' });
    a.windowJoin(b, tumbling(10)).sink('out', { serde: json() });
    const h = stageHarness(p, 'by-k');
    await h.send([{ key: 'x', value: { k: 'x', at: 3 }, timestamp: 3 }], { from: a });
    expect(h.committedTimers().map((x) => [x.kind, x.time, x.name])).toEqual([['event', 9, 'join-4']]);
  });
});
