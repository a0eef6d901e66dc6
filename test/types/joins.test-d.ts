/**
 * Joins carry types through the DSL: both sides share the key type, a result's sides are nullable
 * exactly where the join type can leave them unmatched, and tables only come from keyed things.
 * Each `@ts-expect-error` below is a mistake that must not compile.
 */
import { describe, expectTypeOf, it } from 'vitest';
import { count, json, pipeline, string, tumbling } from '../../framework/index.js';
import type { JoinResult, KeyedStream, Table, WindowJoinResult } from '../../framework/index.js';

interface Payment {
  readonly id: string;
  readonly account: string;
  readonly amount: number;
  readonly at: number;
}
interface Account {
  readonly owner: string;
  readonly limit: number;
}
interface Login {
  readonly account: string;
  readonly country: string;
  readonly at: number;
}

function app() {
  const p = pipeline('jtypes', { partitions: 2 });
  const payments = p.source<Payment>('payments', { serde: json<Payment>() }).keyBy((x) => x.account, { keySerde: string() });
  const logins = p.source<Login>('logins', { serde: json<Login>() }).keyBy((l) => l.account, { keySerde: string() });
  const accounts = p.table<string, Account>('accounts', { keySerde: string(), serde: json<Account>() });
  return { p, payments, logins, accounts };
}

describe('tables', () => {
  it('pipeline.table<K, V> gives Table<K, V>', () => {
    expectTypeOf(app().accounts).toEqualTypeOf<Table<string, Account>>();
  });

  it('keyed.toTable() drops null from the row type (a null value is a tombstone)', () => {
    const { p } = app();
    const rows = p.source<Account | null>('rows', { serde: json<Account | null>() }).keyBy(() => 'k');
    expectTypeOf(rows.toTable()).toEqualTypeOf<Table<string, Account>>();
  });

  it('an aggregate’s results are a table of its result type; other streams have no toTable', () => {
    const { payments, logins } = app();
    expectTypeOf(payments.aggregate(count()).toTable()).toEqualTypeOf<Table<string, number>>();
    // @ts-expect-error a stream of logins is not keyed results: make it keyed first
    logins.map((l) => l).process<Login>((l, ctx) => ctx.emit(l)).toTable();
  });
});

describe('stream-table joins', () => {
  it('inner join results have the row; left join results may not', () => {
    const { payments, accounts } = app();
    expectTypeOf(payments.join(accounts)).toEqualTypeOf<KeyedStream<string, JoinResult<string, Payment, Account>>>();
    expectTypeOf(payments.join(accounts, { type: 'left' })).toEqualTypeOf<KeyedStream<string, JoinResult<string, Payment, Account | null>>>();
    payments.join(accounts).map((r) => r.right.limit - r.left.amount);
    // @ts-expect-error a left join's row may be null
    payments.join(accounts, { type: 'left' }).map((r) => r.right.limit);
  });

  it('the table must be keyed like the stream', () => {
    const { p, payments } = app();
    const byNumber = p.table<number, Account>('by-number', { keySerde: json<number>(), serde: json<Account>() });
    // @ts-expect-error keys of type number cannot meet keys of type string
    payments.join(byNumber);
  });

  it('a stream-table join is inner or left only', () => {
    const { payments, accounts } = app();
    // @ts-expect-error the table has no records of its own to emit unmatched
    payments.join(accounts, { type: 'outer' });
  });
});

describe('interval and window joins', () => {
  it('inner results have both sides; left, right and outer make the unmatched side nullable', () => {
    const { payments, logins } = app();
    const bounds = { lower: '-10m', upper: '+1m' } as const;
    expectTypeOf(payments.intervalJoin(logins, bounds)).toEqualTypeOf<KeyedStream<string, JoinResult<string, Payment, Login>>>();
    expectTypeOf(payments.intervalJoin(logins, { ...bounds, type: 'left' })).toEqualTypeOf<KeyedStream<string, JoinResult<string, Payment, Login | null>>>();
    expectTypeOf(payments.intervalJoin(logins, { ...bounds, type: 'right' })).toEqualTypeOf<KeyedStream<string, JoinResult<string, Payment | null, Login>>>();
    expectTypeOf(payments.intervalJoin(logins, { ...bounds, type: 'outer' })).toEqualTypeOf<KeyedStream<string, JoinResult<string, Payment | null, Login | null>>>();
    // @ts-expect-error an outer join's left side may be null
    payments.intervalJoin(logins, { ...bounds, type: 'outer' }).map((r) => r.left.amount);
  });

  it('bounds are signed durations', () => {
    const { payments, logins } = app();
    payments.intervalJoin(logins, { lower: -5_000, upper: '+10m' });
    // @ts-expect-error not a duration
    payments.intervalJoin(logins, { lower: 'five minutes', upper: '+10m' });
  });

  it('window join results carry the window and the firing', () => {
    const { payments, logins } = app();
    const joined = payments.windowJoin(logins, tumbling('1m'), { type: 'left' });
    expectTypeOf(joined).toEqualTypeOf<KeyedStream<string, WindowJoinResult<string, Payment, Login | null>>>();
    joined.map((r) => [r.window.start, r.firing, r.key.length]);
  });

  it('both sides must have the same key type', () => {
    const { p, payments } = app();
    const byNumber = p.source<Login>('n', { serde: json<Login>() }).keyBy((l) => l.at);
    // @ts-expect-error keys of type number cannot meet keys of type string
    payments.intervalJoin(byNumber, { lower: 0, upper: 0 });
  });
});
