// Stream-table joins in the per-stage harness: a table's upserts and tombstones become the join
// stage's keyed state; each stream record meets the row its key has when the record is processed
// (processing order); inner drops records without a row, left keeps them with right: null.
import { describe, expect, it } from 'vitest';
import { count, json, pipeline, string } from '../../../framework/index.js';
import type { JoinResult, KeyedStream, Table } from '../../../framework/index.js';
import { stageHarness } from '../../../framework/testing/index.js';
import type { StageHarness } from '../../../framework/testing/index.js';
import { SimulatedCrash } from '../../../framework/commit/ports.js';

interface Payment {
  readonly id: string;
  readonly account: string;
  readonly amount: number;
}
interface Account {
  readonly owner: string;
  readonly country: string;
}

/** payments ─keyBy account─▶ [by-account] ⋈ accounts table ─▶ out; the table read from `accounts`. */
function enrich(type: 'inner' | 'left') {
  const p = pipeline('bank', { partitions: 2 });
  const accounts: Table<string, Account> = p.table<string, Account>('accounts', { keySerde: string(), serde: json<Account>(), partitions: 2 });
  const payments: KeyedStream<string, Payment> = p.source('payments', { serde: json<Payment>(), partitions: 2 }).keyBy((x) => x.account, { name: 'account', keySerde: string() });
  payments.join(accounts, { type }).sink('out', { serde: json<JoinResult<string, Payment, Account | null>>() });
  return { p, accounts, payments, h: stageHarness(p, 'by-account') };
}

const pay = (id: string, account: string, amount = 10) => ({ key: account, value: { id, account, amount } });
const row = (account: string, owner: string | null, country = 'NL') => ({ key: account, value: owner === null ? null : { owner, country } });
const out = (h: StageHarness) => h.outputs<JoinResult<string, Payment, Account | null>>('out').map((o) => [o.value.left.id, o.value.right?.owner ?? null]);

describe('stream-table join', () => {
  it('joins each record with the row its key has when the record is processed', async () => {
    const { h, accounts, payments } = enrich('inner');
    await h.send([row('acc-1', 'ann')], { from: accounts });
    await h.send([pay('p1', 'acc-1')], { from: payments });
    await h.send([row('acc-1', 'bob')], { from: accounts });
    await h.send([pay('p2', 'acc-1')], { from: payments });
    expect(out(h)).toEqual([
      ['p1', 'ann'],
      ['p2', 'bob'],
    ]);
    expect(h.outputs<JoinResult<string, Payment, Account>>('out')[0]!.value).toEqual({ key: 'acc-1', left: { id: 'p1', account: 'acc-1', amount: 10 }, right: { owner: 'ann', country: 'NL' } });
  });

  it('is not temporal: a record processed before its row arrives does not wait for it, and a later row never revisits it', async () => {
    const { h, accounts, payments } = enrich('inner');
    await h.send([pay('early', 'acc-1')], { from: payments });
    await h.send([row('acc-1', 'ann')], { from: accounts });
    expect(out(h)).toEqual([]);
  });

  it('inner drops records whose key has no row; left keeps them with right: null', async () => {
    for (const [type, expected] of [
      ['inner', [['p1', 'ann']]],
      ['left', [['p1', 'ann'], ['p2', null]]],
    ] as const) {
      const { h, accounts, payments } = enrich(type);
      await h.send([row('acc-1', 'ann')], { from: accounts });
      await h.send([pay('p1', 'acc-1'), pay('p2', 'acc-2')], { from: payments });
      expect(out(h).sort()).toEqual(expected);
    }
  });

  it('treats a tombstone (null value) as a delete of the row', async () => {
    const { h, accounts, payments } = enrich('left');
    await h.send([row('acc-1', 'ann')], { from: accounts });
    expect(h.state('acc-1', 'table-accounts')).toEqual({ owner: 'ann', country: 'NL' });
    await h.send([row('acc-1', null)], { from: accounts });
    expect(h.state('acc-1', 'table-accounts')).toBeUndefined();
    await h.send([pay('p1', 'acc-1')], { from: payments });
    expect(out(h)).toEqual([['p1', null]]);
  });

  it('emits nothing for table updates, and orders updates and records of one key as the stage reads them', async () => {
    const { h, accounts, payments } = enrich('left');
    // One batch, interleaved: the table's row changes between the two payments.
    const records = [...h.toKafkaRecords([row('acc-1', 'ann')], { from: accounts }), ...h.toKafkaRecords([pay('p1', 'acc-1')], { from: payments }), ...h.toKafkaRecords([row('acc-1', 'bob')], { from: accounts }), ...h.toKafkaRecords([pay('p2', 'acc-1')], { from: payments })];
    await h.deliver(records.sort((a, b) => a.offset - b.offset));
    expect(out(h)).toEqual([
      ['p1', 'ann'],
      ['p2', 'bob'],
    ]);
  });

  it('commits the table state with the batch: a crash before the commit leaves neither the row nor the output', async () => {
    let crash = true;
    const { p, accounts, payments } = enrich('left');
    const h = stageHarness(p, 'by-account', {
      fault: (step) => {
        if (crash && step === 'after-send') throw new SimulatedCrash(step, 'by-account', 1);
      },
    });
    const batch = [...h.toKafkaRecords([row('acc-1', 'ann')], { from: accounts }), ...h.toKafkaRecords([pay('p1', 'acc-1')], { from: payments })].sort((a, b) => a.offset - b.offset);
    await expect(h.deliver(batch)).rejects.toBeInstanceOf(SimulatedCrash);
    expect(h.state('acc-1', 'table-accounts')).toBeUndefined();
    expect(out(h)).toEqual([]);
    crash = false;
    h.restartContainer();
    await h.deliver(batch); // Lambda redelivers the batch to a new container
    await h.deliver(batch); // and once more: nothing twice
    expect(out(h)).toEqual([['p1', 'ann']]);
    expect(h.state('acc-1', 'table-accounts')).toEqual({ owner: 'ann', country: 'NL' });
  });

  it('rebuilds the table from committed state on a cold start', async () => {
    const { h, accounts, payments } = enrich('inner');
    await h.send([row('acc-1', 'ann'), row('acc-2', 'cy')], { from: accounts });
    h.restartContainer();
    await h.send([pay('p1', 'acc-1'), pay('p2', 'acc-2')], { from: payments });
    expect(out(h).sort()).toEqual([
      ['p1', 'ann'],
      ['p2', 'cy'],
    ]);
  });
});

describe('the table stage', () => {
  it('forwards upserts and tombstones keyed as read, as table changes (null values stay tombstones)', async () => {
    const { p } = enrich('inner');
    const h = stageHarness(p, 'accounts');
    await h.send([row('acc-1', 'ann'), row('acc-1', null)]);
    const changes = h.kafka.readCommitted('bank.by-account.in');
    expect(changes.map((r) => [r.key?.toString(), r.value === null ? null : (JSON.parse(r.value.toString()) as Account).owner])).toEqual([
      ['acc-1', 'ann'],
      ['acc-1', null],
    ]);
  });
});

describe('tables from streams', () => {
  it('keyed.toTable(): each record is the key’s new row', async () => {
    const p = pipeline('t', { partitions: 1 });
    const profiles = p.source('profiles', { serde: json<{ user: string; name: string }>() }).keyBy((x) => x.user, { name: 'user' });
    const clicks = p.source('clicks', { serde: json<{ user: string; page: string }>() }).keyBy((x) => x.user, { name: 'user2' });
    clicks.join(profiles.toTable({ name: 'profiles' })).map((r) => `${r.right.name}:${r.left.page}`).sink('out', { serde: json() });
    const h = stageHarness(p, 'by-user');
    await h.send([{ key: 'u1', value: { user: 'u1', name: 'Ann' } }], { from: profiles });
    await h.send([{ key: 'u1', value: { user: 'u1', page: '/a' } }], { from: clicks });
    expect(h.outputs('out').map((o) => o.value)).toEqual(['Ann:/a']);
    expect(h.stage.state.map((d) => d.name)).toEqual(['table-profiles']);
  });

  it('aggregate(...).toTable(): a running aggregate is a table, joined where the stream is keyed alike', async () => {
    const p = pipeline('t', { partitions: 1 });
    const orders = p.source('orders', { serde: json<{ user: string }>() }).keyBy((x) => x.user, { name: 'user' });
    const counts = orders.aggregate(count()).toTable({ name: 'order-counts' });
    const visits = p.source('visits', { serde: json<{ user: string; page: string }>() }).keyBy((x) => x.user, { name: 'user' });
    visits.join(counts, { type: 'left' }).map((r) => `${r.left.page}:${r.right ?? 0}`).sink('out', { serde: json() });
    // Both keyBys write one stage: the aggregate and the join run side by side in it, no extra hop.
    const h = stageHarness(p, 'by-user');
    await h.send([{ key: 'u1', value: { user: 'u1', page: '/a' } }], { from: visits });
    await h.send([{ key: 'u1', value: { user: 'u1' } }, { key: 'u1', value: { user: 'u1' } }], { from: orders });
    await h.send([{ key: 'u1', value: { user: 'u1', page: '/b' } }], { from: visits });
    expect(h.outputs('out').map((o) => o.value)).toEqual(['/a:0', '/b:2']);
  });
});
