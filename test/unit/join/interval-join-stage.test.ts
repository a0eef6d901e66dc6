// Interval joins in the per-stage harness: both sides out of order, the watermark that empties the
// buffers (state bounded by event time), outer results emitted when no match can come, late records
// to the late topic with provenance, and exactly-once through crashes and cold starts.
import { describe, expect, it } from 'vitest';
import { json, pipeline } from '../../../framework/index.js';
import type { JoinResult, JoinType, KeyedStream } from '../../../framework/index.js';
import { stageHarness } from '../../../framework/testing/index.js';
import type { StageHarness } from '../../../framework/testing/index.js';
import { SimulatedCrash } from '../../../framework/commit/ports.js';
import { LATE_HEADERS } from '../../../framework/runtime/operators.js';

interface Click {
  readonly id: string;
  readonly ad: string;
  readonly at: number;
}
interface Impression {
  readonly id: string;
  readonly ad: string;
  readonly at: number;
}

/** clicks ⋈ impressions by ad: an impression from 10 ms before to 5 ms after the click. */
function attribution(type: JoinType = 'inner', fault?: Parameters<typeof stageHarness>[2]) {
  const p = pipeline('ads', { partitions: 1 });
  const clicks: KeyedStream<string, Click> = p.source('clicks', { serde: json<Click>(), eventTime: (c) => c.at }).keyBy((c) => c.ad, { name: 'ad' });
  const impressions: KeyedStream<string, Impression> = p.source('impressions', { serde: json<Impression>(), eventTime: (i) => i.at }).keyBy((i) => i.ad, { name: 'ad2' });
  clicks.intervalJoin(impressions, { lower: -10, upper: 5, type }).sink('out', { serde: json() });
  return { h: stageHarness(p, 'by-ad', fault), clicks, impressions };
}

const click = (id: string, at: number, ad = 'ad-1') => ({ key: ad, value: { id, ad, at }, timestamp: at });
const imp = click;
type Out = JoinResult<string, Click | null, Impression | null>;
const pairs = (h: StageHarness) => h.outputs<Out>('out').map((o) => `${o.value.left?.id ?? '-'}+${o.value.right?.id ?? '-'}@${o.timestamp}`);

describe('interval join stage', () => {
  it('joins out-of-order records of both sides, each pair once, at the later record’s time', async () => {
    const { h, clicks, impressions } = attribution();
    await h.send([click('c2', 120), click('c1', 100)], { from: clicks });
    await h.send([imp('i2', 118), imp('i1', 95), imp('i0', 80)], { from: impressions });
    await h.send([click('c3', 97)], { from: clicks });
    expect(pairs(h).sort()).toEqual(['c1+i1@100', 'c2+i2@120', 'c3+i1@97'].sort());
  });

  it('drops each record from state once the watermark shows no partner can come (state bounded by event time)', async () => {
    const { h, clicks, impressions } = attribution();
    await h.send([click('c1', 100)], { from: clicks }); // waits for impressions up to 105
    await h.send([imp('i1', 100)], { from: impressions }); // waits for clicks up to 110
    expect(h.state('ad-1', 'join-4')).toEqual({ l: [{ t: 100, v: { id: 'c1', ad: 'ad-1', at: 100 } }], r: [{ t: 100, v: { id: 'i1', ad: 'ad-1', at: 100 } }] });
    expect(h.committedTimers().map((t) => t.time)).toEqual([105, 110]);
    await h.watermark(105);
    expect(h.state<{ l: unknown[]; r: unknown[] }>('ad-1', 'join-4')).toEqual({ l: [], r: [{ t: 100, v: { id: 'i1', ad: 'ad-1', at: 100 } }] });
    await h.watermark(110);
    expect(h.state('ad-1', 'join-4')).toBeUndefined();
    expect(h.committedTimers()).toEqual([]);
  });

  it('sends a record at or behind the watermark to the late topic with its provenance, and joins nothing with it', async () => {
    const { h, clicks, impressions } = attribution();
    await h.send([imp('i1', 200)], { from: impressions });
    await h.watermark(150);
    await h.send([click('c-late', 150), click('c-ok', 195)], { from: clicks });
    expect(pairs(h)).toEqual(['c-ok+i1@200']);
    const late = h.lateRecords<Click>();
    expect(late.map((r) => r.value.id)).toEqual(['c-late']);
    expect(late[0]!.topic).toBe('ads.by-ad.late');
    const headers = h.kafka.readCommitted('ads.by-ad.late')[0]!.headers;
    const header = (n: string) => headers.find((x) => x.name === n)?.value.toString();
    expect(header(LATE_HEADERS.topic)).toBe('ads.by-ad.in');
    expect(header(LATE_HEADERS.watermark)).toBe('150');
  });

  it('left: emits a click without impression once the watermark passes its interval, at that time', async () => {
    const { h, clicks, impressions } = attribution('left');
    await h.send([click('c1', 100), click('c2', 300)], { from: clicks });
    await h.send([imp('i2', 298)], { from: impressions });
    await h.watermark(104);
    expect(pairs(h)).toEqual(['c2+i2@300']);
    await h.watermark(105);
    expect(pairs(h)).toEqual(['c2+i2@300', 'c1+-@105']);
    await h.watermark(1_000);
    expect(pairs(h)).toEqual(['c2+i2@300', 'c1+-@105']);
  });

  it('outer: emits unmatched impressions too, once no click can reach them', async () => {
    const { h, clicks, impressions } = attribution('outer');
    await h.send([imp('lonely', 100)], { from: impressions });
    await h.send([click('c1', 500)], { from: clicks });
    await h.watermark(1_000);
    expect(pairs(h).sort()).toEqual(['-+lonely@110', 'c1+-@505'].sort());
  });

  it('fires the cleanup of many keys in one watermark advance, in time order', async () => {
    const { h, clicks } = attribution('left');
    await h.send([click('b', 130, 'ad-2'), click('a', 120, 'ad-1'), click('c', 110, 'ad-3')], { from: clicks });
    await h.watermark(1_000);
    expect(pairs(h)).toEqual(['c+-@115', 'a+-@125', 'b+-@135']);
  });

  it('is exactly-once through a crash after the Kafka commit and a redelivered batch', async () => {
    let crashAt: string | undefined;
    const { h, clicks, impressions } = attribution('left', {
      fault: (step) => {
        if (step === crashAt) {
          crashAt = undefined;
          throw new SimulatedCrash(step, 'by-ad', 0);
        }
      },
    });
    await h.send([click('c1', 100), click('c2', 100)], { from: clicks });
    const batch = h.toKafkaRecords([imp('i1', 101)], { from: impressions });
    crashAt = 'after-kafka-commit'; // the outputs are committed, the checkpoint is not confirmed
    await expect(h.deliver(batch)).rejects.toBeInstanceOf(SimulatedCrash);
    h.restartContainer();
    await h.deliver(batch);
    await h.watermark(200);
    expect(pairs(h).sort()).toEqual(['c1+i1@101', 'c2+i1@101']);
    expect(h.state('ad-1', 'join-4')).toBeUndefined();
  });

  it('rebuilds its buffers and timers from committed state on a cold start', async () => {
    const { h, clicks, impressions } = attribution('left');
    await h.send([click('c1', 100)], { from: clicks });
    h.restartContainer();
    await h.send([imp('i1', 104)], { from: impressions });
    h.restartContainer();
    await h.watermark(500);
    expect(pairs(h)).toEqual(['c1+i1@104']);
    expect(h.state('ad-1', 'join-4')).toBeUndefined();
  });

  it('dead-letters a record whose key is missing without touching the join state', async () => {
    const { h, clicks } = attribution();
    await h.send([{ value: { id: 'c', ad: 'x', at: 5 } }], { from: clicks });
    expect(h.deadLetters().map((d) => d.errorMessage)).toEqual([expect.stringContaining('no key')]);
  });
});

describe('a self-join', () => {
  it('sees each record once as a left and once as a right record', async () => {
    const p = pipeline('self', { partitions: 1 });
    const s = p.source('s', { serde: json<Click>(), eventTime: (c) => c.at }).keyBy((c) => c.ad, { name: 'ad' });
    s.intervalJoin(s, { lower: 0, upper: 10 }).map((r) => `${r.left.id}<${r.right.id}`).sink('out', { serde: json() });
    const h = stageHarness(p, 'by-ad');
    await h.send([click('a', 100), click('b', 105)]);
    expect(h.outputs('out').map((o) => o.value).sort()).toEqual(['a<a', 'a<b', 'b<b']);
  });
});
