/**
 * The YSB event generator: a deterministic stream of ad events (same options, same events) with
 * a chosen rate, duration, key skew and out-of-orderness, written to Kafka with an idempotent
 * producer in batches. It feeds the oracle as it writes, so it returns the exact counts the
 * pipeline must produce without keeping the events.
 *
 * Event i has the nominal time start + ⌊i·1000/rate⌋ and the event time nominal − jitter, with
 * jitter uniform in [0, maxJitterMs]. Events go round-robin over the partitions in nominal order,
 * so within a partition the event time runs at most maxJitterMs behind the largest seen so far.
 * With maxJitterMs ≤ the pipeline's maxOutOfOrderness (the default) no record is ever behind its
 * partition's watermark, so none is late and the oracle is exact; a larger jitter makes late
 * records possible (they go to the late topic, and the oracle's check counts them there).
 *
 * A stream that stops leaves its last windows open: nothing moves event time past them. So the
 * generator ends (unless `closeWindows: false`) with one end-of-stream event per partition — a
 * click, which the pipeline does not count — whose event time is past the last window plus the
 * allowed lateness and out-of-orderness, as a live stream's next events would be. Every window
 * then fires. (Idleness cannot do this: when every source partition is idle the watermark holds.)
 */
import type { Kafka } from 'kafkajs';
import { CAMPAIGNS } from './campaigns.js';
import { YsbOracle, windowStartOf } from './oracle.js';
import type { AdEvent } from './pipeline.js';
import { AD_TYPES, ALLOWED_LATENESS_MS, EVENT_TYPES, MAX_OUT_OF_ORDERNESS_MS, WINDOW_MS } from './pipeline.js';
import { idFrom, intBelow, prng } from './random.js';

/** What to generate. */
export interface GeneratorOptions {
  /** Seed of the event stream; default 1. */
  readonly seed?: number;
  /** Events per second of (nominal) event time; default 1,000. */
  readonly rate?: number;
  /** Length of the stream in event time, ms; default 10 s. */
  readonly durationMs?: number;
  /** Nominal time of the first event (epoch ms); `runGenerator` defaults to now. */
  readonly startTime?: number;
  /** Zipf exponent of campaign popularity: 0 = uniform, 1 = classic Zipf; default 1. */
  readonly skew?: number;
  /** Out-of-orderness: the most an event time lags its nominal time, ms; default 1 s. */
  readonly maxJitterMs?: number;
  /** Partitions of the topic (events go round-robin); default 2. */
  readonly partitions?: number;
  /** End with one end-of-stream event per partition that closes every window; default true. */
  readonly closeWindows?: boolean;
}

/** One generated record: the event and the partition it goes to. */
export interface GeneratedEvent {
  readonly partition: number;
  readonly event: AdEvent;
  /** When a live stream writes it (epoch ms); its event time is at most this. */
  readonly nominal: number;
  /** The closing events at the end of the stream (not counted by the pipeline). */
  readonly endOfStream: boolean;
}

/** user_id of the end-of-stream events. */
export const END_OF_STREAM_USER = 'sluice-end-of-stream';

const USERS = 1_000;
const PAGES = 100;

/** The events of a stream, in order of nominal time (then the end-of-stream events). Pure. */
export function* generateEvents(options: GeneratorOptions & { readonly startTime: number }): Generator<GeneratedEvent> {
  const o = resolve(options);
  const next = prng(o.seed);
  const users = Array.from({ length: USERS }, () => idFrom(next));
  const pages = Array.from({ length: PAGES }, () => idFrom(next));
  const cdf = zipfCdf(CAMPAIGNS.length, o.skew);
  const total = Math.floor((o.durationMs * o.rate) / 1000);
  let lastTime = o.startTime;
  let nominal = o.startTime;
  for (let i = 0; i < total; i += 1) {
    nominal = o.startTime + Math.floor((i * 1000) / o.rate);
    const campaign = CAMPAIGNS[pick(cdf, next())]!;
    const event: AdEvent = {
      user_id: users[intBelow(next, USERS)]!,
      page_id: pages[intBelow(next, PAGES)]!,
      ad_id: campaign.ad_ids[intBelow(next, campaign.ad_ids.length)]!,
      ad_type: AD_TYPES[intBelow(next, AD_TYPES.length)]!,
      event_type: EVENT_TYPES[intBelow(next, EVENT_TYPES.length)]!,
      event_time: Math.max(0, nominal - intBelow(next, o.maxJitterMs + 1)),
      ip_address: `${1 + intBelow(next, 254)}.${intBelow(next, 256)}.${intBelow(next, 256)}.${1 + intBelow(next, 254)}`,
    };
    lastTime = Math.max(lastTime, event.event_time);
    yield { partition: i % o.partitions, event, nominal, endOfStream: false };
  }
  if (!o.closeWindows) return;
  const closeAt = endOfStreamTime(lastTime);
  for (let p = 0; p < o.partitions; p += 1) {
    const ad = CAMPAIGNS[0]!.ad_ids[0]!;
    const event: AdEvent = { user_id: END_OF_STREAM_USER, page_id: END_OF_STREAM_USER, ad_id: ad, ad_type: 'banner', event_type: 'click', event_time: closeAt, ip_address: '0.0.0.0' };
    yield { partition: p, event, nominal, endOfStream: true };
  }
}

/** Event time of the end-of-stream events: the source watermark they cause passes the last window's end plus the allowed lateness. */
export function endOfStreamTime(lastEventTime: number): number {
  const lastWindowEnd = windowStartOf(lastEventTime, WINDOW_MS) + WINDOW_MS;
  return lastWindowEnd + ALLOWED_LATENESS_MS + MAX_OUT_OF_ORDERNESS_MS;
}

/** Options of a run against Kafka. */
export interface RunGeneratorOptions extends GeneratorOptions {
  /** Write each event when the clock reaches its nominal time (a live stream); default false (as fast as possible). */
  readonly realtime?: boolean;
  /** Records per produce request; default 500. */
  readonly batchSize?: number;
  /** Called after every produce request with the events written so far. */
  readonly onProgress?: (written: number) => void;
  /** Stops early (e.g. Ctrl-C): what was written so far is what the result describes. */
  readonly signal?: AbortSignal;
  /** How an event becomes record bytes; default JSON text (the benchmark's Avro variant passes an Avro writer). */
  readonly encode?: (event: AdEvent) => string | Buffer;
}

/** What a run wrote: counts, event-time range and the oracle's expected window counts. */
export interface GeneratorResult {
  readonly topic: string;
  /** Events written, not counting the end-of-stream events. */
  readonly events: number;
  readonly views: number;
  readonly endOfStream: number;
  readonly perPartition: readonly number[];
  /** Smallest and largest event time of the events (not the end-of-stream ones). */
  readonly firstEventTime: number;
  readonly lastEventTime: number;
  /** Event time of the end-of-stream events, if written. */
  readonly closedAt: number | undefined;
  /** Wall-clock time the run took, ms. */
  readonly elapsedMs: number;
  readonly oracle: YsbOracle;
}

/** Writes a generated stream to `topic` with an idempotent producer; resolves once every record is acknowledged. */
export async function runGenerator(kafka: Kafka, topic: string, options: RunGeneratorOptions = {}): Promise<GeneratorResult> {
  const startTime = options.startTime ?? Date.now();
  const o = resolve({ ...options, startTime });
  const batchSize = options.batchSize ?? 500;
  const encode = options.encode ?? ((e: AdEvent): string => JSON.stringify(e));
  const oracle = new YsbOracle(WINDOW_MS);
  const perPartition = Array.from({ length: o.partitions }, () => 0);
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let endOfStream = 0;
  let closedAt: number | undefined;
  let written = 0;
  const began = Date.now();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    let batch: Array<{ partition: number; value: string | Buffer }> = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      await producer.send({ topic, acks: -1, messages: batch });
      written += batch.length;
      batch = [];
      options.onProgress?.(written);
    };
    for (const g of generateEvents({ ...o, startTime })) {
      if (options.signal?.aborted) break;
      if (options.realtime) {
        // A live stream: an event is written once the clock reaches its nominal time.
        for (let wait = g.nominal - Date.now(); wait > 0 && !options.signal?.aborted; wait = g.nominal - Date.now()) {
          await flush();
          await sleep(Math.min(wait, 200));
        }
      }
      batch.push({ partition: g.partition, value: encode(g.event) });
      if (g.endOfStream) {
        endOfStream += 1;
        closedAt = g.event.event_time;
      } else {
        oracle.add(g.event);
        perPartition[g.partition] = (perPartition[g.partition] ?? 0) + 1;
        first = Math.min(first, g.event.event_time);
        last = Math.max(last, g.event.event_time);
      }
      if (batch.length >= batchSize) await flush();
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  return {
    topic,
    events: oracle.events,
    views: oracle.views,
    endOfStream,
    perPartition,
    firstEventTime: first,
    lastEventTime: last,
    closedAt,
    elapsedMs: Date.now() - began,
    oracle,
  };
}

type Resolved = Required<Omit<GeneratorOptions, 'startTime'>> & { readonly startTime: number };

function resolve(options: GeneratorOptions & { readonly startTime: number }): Resolved {
  const o: Resolved = {
    seed: options.seed ?? 1,
    rate: options.rate ?? 1_000,
    durationMs: options.durationMs ?? 10_000,
    startTime: options.startTime,
    skew: options.skew ?? 1,
    maxJitterMs: options.maxJitterMs ?? 1_000,
    partitions: options.partitions ?? 2,
    closeWindows: options.closeWindows ?? true,
  };
  const check = (ok: boolean, what: string): void => {
    if (!ok) throw new RangeError(`generator: ${what}`);
  };
  check(Number.isFinite(o.rate) && o.rate > 0, `rate must be positive, got ${o.rate}`);
  check(Number.isSafeInteger(o.durationMs) && o.durationMs >= 0, `durationMs must be a whole number ≥ 0, got ${o.durationMs}`);
  check(Number.isSafeInteger(o.startTime) && o.startTime >= 0, `startTime must be epoch ms, got ${o.startTime}`);
  check(Number.isFinite(o.skew) && o.skew >= 0, `skew must be ≥ 0, got ${o.skew}`);
  check(Number.isSafeInteger(o.maxJitterMs) && o.maxJitterMs >= 0, `maxJitterMs must be a whole number ≥ 0, got ${o.maxJitterMs}`);
  check(Number.isInteger(o.partitions) && o.partitions >= 1, `partitions must be a positive integer, got ${o.partitions}`);
  return o;
}

/** Cumulative weights of ranks 0..n-1 under Zipf(s): rank k has weight 1/(k+1)^s. */
function zipfCdf(n: number, s: number): number[] {
  const weights = Array.from({ length: n }, (_, k) => 1 / (k + 1) ** s);
  const sum = weights.reduce((a, b) => a + b, 0);
  let acc = 0;
  return weights.map((w) => (acc += w / sum));
}

/** The first rank whose cumulative weight exceeds u (binary search). */
function pick(cdf: readonly number[], u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (u < cdf[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
