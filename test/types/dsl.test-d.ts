/**
 * The DSL's types are its first line of defence: a record type flows through every step,
 * so a wrong field, a mismatched serde or an undeclared output is a compile error, not a
 * dead letter at run time. Each `@ts-expect-error` below is a mistake that must not compile.
 */
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { count, json, listState, mapState, outputTag, pipeline, string, sum, valueState } from '../../framework/index.js';
import type { KeyedResult, KeyedStream, ListState, MapState, Serde, Stream, ValueState } from '../../framework/index.js';

interface Click {
  readonly user: string;
  readonly page: string;
  readonly agent: string;
  readonly at: number;
}
interface HumanClick extends Click {
  readonly human: true;
}
interface Enriched extends HumanClick {
  readonly section: string;
}
interface Visit {
  readonly user: string;
  readonly section: string;
}

const isHuman = (c: Click): c is HumanClick => !c.agent.includes('bot');

function app() {
  return pipeline('types', { partitions: 4 });
}

describe('a record type flows through a stateless chain', () => {
  const clicks = app().source<Click>('clicks', { serde: json<Click>() });

  it('source<T> gives Stream<T>', () => {
    expectTypeOf(clicks).toEqualTypeOf<Stream<Click>>();
  });

  it('a type-guard filter narrows the record type', () => {
    expectTypeOf(clicks.filter(isHuman)).toEqualTypeOf<Stream<HumanClick>>();
  });

  it('a boolean filter keeps the record type', () => {
    expectTypeOf(clicks.filter((c) => c.at > 0)).toEqualTypeOf<Stream<Click>>();
  });

  it('map, flatMap and mapAsync give the type their function returns', () => {
    const enriched = clicks.filter(isHuman).mapAsync(async (c): Promise<Enriched> => ({ ...c, section: 'docs' }), { concurrency: 4 });
    expectTypeOf(enriched).toEqualTypeOf<Stream<Enriched>>();
    expectTypeOf(clicks.map((c) => c.page.length)).toEqualTypeOf<Stream<number>>();
    expectTypeOf(clicks.flatMap((c) => c.page.split('/'))).toEqualTypeOf<Stream<string>>();
  });

  it('functions see the record type and the record context', () => {
    clicks.map((c, ctx) => {
      expectTypeOf(c).toEqualTypeOf<Click>();
      expectTypeOf(ctx.timestamp).toEqualTypeOf<number>();
      expectTypeOf(ctx.origin.offset).toEqualTypeOf<number>();
      return c;
    });
  });

  it('reading a field the record does not have is a compile error', () => {
    // @ts-expect-error Click has no `url`
    clicks.map((c) => c.url);
    // @ts-expect-error `human` exists only after the type-guard filter
    clicks.map((c) => c.human);
    clicks.filter(isHuman).map((c) => c.human);
  });

  it('a json({ schema }) source takes its record type from the schema', () => {
    const Schema = z.object({ user: z.string(), n: z.number() });
    const s = app().source('events', { serde: json({ schema: Schema }) });
    expectTypeOf(s).toEqualTypeOf<Stream<{ user: string; n: number }>>();
    // @ts-expect-error the schema has no `page`
    s.map((e) => e.page);
  });
});

describe('sinks', () => {
  const clicks = app().source<Click>('clicks', { serde: json<Click>() });

  it('accept a serde of the stream type', () => {
    clicks.sink('out', { serde: json<Click>() });
    clicks.map((c) => c.page).sink('pages', { serde: string() });
  });

  it('reject a serde of another record type', () => {
    // @ts-expect-error a Serde<string> cannot write Click records
    clicks.sink('out', { serde: string() });
    // @ts-expect-error a Serde<Visit> cannot write Click records
    clicks.sink('out', { serde: json<Visit>() });
  });

  it('type the record key function with the stream type', () => {
    clicks.sink('out', { serde: json<Click>(), key: (c) => c.user, keySerde: string() });
    // @ts-expect-error the key serde must write what the key function returns
    clicks.sink('out', { serde: json<Click>(), key: (c) => c.at, keySerde: string() });
  });

  it('of a keyed stream take a key serde of the key type', () => {
    const keyed = clicks.keyBy((c) => c.user);
    keyed.sink('out', { serde: json<Click>(), keySerde: string() });
    // @ts-expect-error the key is a string, not a number
    keyed.sink('out', { serde: json<Click>(), keySerde: json<number>() });
  });
});

describe('keyBy and keyed streams', () => {
  const clicks = app().source<Click>('clicks', { serde: json<Click>() });
  const byUser = clicks.keyBy((c) => c.user, { name: 'user', keySerde: string() });

  it('keyBy gives KeyedStream<K, T>', () => {
    expectTypeOf(byUser).toEqualTypeOf<KeyedStream<string, Click>>();
    expectTypeOf(clicks.keyBy((c) => c.at)).toEqualTypeOf<KeyedStream<number, Click>>();
  });

  it('the key serde must write the key type', () => {
    // @ts-expect-error the key is a number, string() writes strings
    clicks.keyBy((c) => c.at, { keySerde: string() });
  });

  it('a keyed source is keyed from the start', () => {
    const keyed = app().keyedSource<string, Click>('clicks-by-user', { serde: json<Click>(), keySerde: string() });
    expectTypeOf(keyed).toEqualTypeOf<KeyedStream<string, Click>>();
  });

  it('keyed map and filter keep the key', () => {
    expectTypeOf(byUser.map((c) => c.at)).toEqualTypeOf<KeyedStream<string, number>>();
    expectTypeOf(byUser.filter(isHuman)).toEqualTypeOf<KeyedStream<string, HumanClick>>();
  });

  it('process sees the key type and hands out typed state', () => {
    const visits = valueState<number>('visits');
    const pages = listState<string>('pages');
    const bySection = mapState<number>('by-section');
    const out = byUser.process<Visit>(
      (c, ctx) => {
        expectTypeOf(c).toEqualTypeOf<Click>();
        expectTypeOf(ctx.key).toEqualTypeOf<string>();
        expectTypeOf(ctx.state(visits)).toEqualTypeOf<ValueState<number>>();
        expectTypeOf(ctx.state(visits).get()).toEqualTypeOf<number | undefined>();
        expectTypeOf(ctx.state(pages)).toEqualTypeOf<ListState<string>>();
        expectTypeOf(ctx.state(bySection)).toEqualTypeOf<MapState<number>>();
        // @ts-expect-error a ValueState<number> holds numbers
        ctx.state(visits).set('one');
        ctx.emit({ user: ctx.key, section: c.page });
      },
      { state: [visits, pages, bySection] },
    );
    expectTypeOf(out).toEqualTypeOf<Stream<Visit>>();
  });

  it('the key of a number-keyed stream is a number', () => {
    clicks
      .keyBy((c) => c.at)
      .process<number>((_c, ctx) => {
        expectTypeOf(ctx.key).toEqualTypeOf<number>();
        ctx.emit(ctx.key);
      });
  });

  it('emit accepts only the declared output type', () => {
    byUser.process<Visit>((c, ctx) => {
      ctx.emit({ user: c.user, section: 'docs' });
      // @ts-expect-error a Click is not a Visit
      ctx.emit(c);
      // @ts-expect-error `section` is missing
      ctx.emit({ user: c.user });
    });
    clicks.process<string>((c, ctx) => {
      ctx.emit(c.page);
      // @ts-expect-error the output type is string
      ctx.emit(c.at);
    });
  });

  it('aggregate(count()) gives Stream<KeyedResult<K, number>>', () => {
    expectTypeOf(byUser.aggregate(count())).toEqualTypeOf<Stream<KeyedResult<string, number>>>();
    expectTypeOf(clicks.keyBy((c) => c.at).aggregate(count())).toEqualTypeOf<Stream<KeyedResult<number, number>>>();
  });

  it('aggregate functions read the record type', () => {
    expectTypeOf(byUser.aggregate(sum((c) => c.at))).toEqualTypeOf<Stream<KeyedResult<string, number>>>();
    // @ts-expect-error Click has no `price`
    byUser.aggregate(sum((c) => c.price));
  });

  it('then flows on as a plain stream to a typed sink', () => {
    byUser.aggregate(count()).sink('counts', { serde: json<KeyedResult<string, number>>() });
    // @ts-expect-error the results are KeyedResult<string, number>, not Click
    byUser.aggregate(count()).sink('counts', { serde: json<Click>() });
  });
});

describe('union', () => {
  const p = app();
  const clicks = p.source<Click>('clicks', { serde: json<Click>() });
  const more = p.source<Click>('more-clicks', { serde: json<Click>() });
  const visits = p.source<Visit>('visits', { serde: json<Visit>() });

  it('merges streams of the same record type', () => {
    expectTypeOf(clicks.union(more)).toEqualTypeOf<Stream<Click>>();
  });

  it('rejects a stream of another record type', () => {
    // @ts-expect-error Visit is not Click
    clicks.union(visits);
  });

  it('rejects a stream of a narrower or wider record type', () => {
    const human = clicks.filter(isHuman);
    // @ts-expect-error a Stream<HumanClick> would then carry plain Clicks
    human.union(more);
    // @ts-expect-error the types must be the same, not merely related
    clicks.union(human);
  });

  it('merges keyed streams with the same key and record types', () => {
    const a = clicks.keyBy((c) => c.user);
    const b = more.keyBy((c) => c.user);
    expectTypeOf(a.union(b)).toEqualTypeOf<KeyedStream<string, Click>>();
  });

  it('rejects keyed streams with another key type', () => {
    const byUser = clicks.keyBy((c) => c.user);
    const byTime = more.keyBy((c) => c.at);
    // @ts-expect-error string keys and number keys do not share a topic
    byUser.union(byTime);
  });

  it('rejects keyed streams with another record type', () => {
    const a = clicks.keyBy((c) => c.user);
    const b = visits.keyBy((v) => v.user);
    // @ts-expect-error Visit is not Click
    a.union(b);
  });
});

describe('side outputs', () => {
  const unknownPage = outputTag<Click>('unknown-page');
  const errors = outputTag<{ reason: string }>('errors');

  it('sideOutput(tag) gives a stream of the tag type', () => {
    const main = app()
      .source<Click>('clicks', { serde: json<Click>() })
      .process<Visit>((c, ctx) => {
        ctx.output(unknownPage, c);
        ctx.output(errors, { reason: 'x' });
        ctx.emit({ user: c.user, section: 'docs' });
      });
    expectTypeOf(main).toEqualTypeOf<Stream<Visit>>();
    expectTypeOf(main.sideOutput(unknownPage)).toEqualTypeOf<Stream<Click>>();
    expectTypeOf(main.sideOutput(errors)).toEqualTypeOf<Stream<{ reason: string }>>();
  });

  it('output accepts only the tag type', () => {
    app()
      .source<Click>('clicks', { serde: json<Click>() })
      .process<Visit>((c, ctx) => {
        // @ts-expect-error the tag carries Clicks
        ctx.output(unknownPage, { user: c.user, section: 'docs' });
      });
  });
});

describe('serdes', () => {
  it('json<T>() is a Serde<T> and json({ nullable: true }) a Serde<T | null>', () => {
    expectTypeOf(json<Click>()).toEqualTypeOf<Serde<Click>>();
    expectTypeOf(json<Click>({ nullable: true })).toEqualTypeOf<Serde<Click | null>>();
  });
});
