/**
 * The one-buffer Produce encoder writes exactly the bytes kafkajs's own encoder writes, for random
 * requests: transactional or not, several topics and partitions, Buffer, string and missing keys
 * and values, headers with repeated names, timestamps as strings or numbers or missing, deltas
 * beyond 32 bits; and a record kafkajs would reject is rejected the same way.
 */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import produceRequests from 'kafkajs/src/protocol/requests/produce/index.js';
import { encodeProduce, fixKafkajsProduceEncoding, type ProduceArgs, type ProduceMessage } from '../../../framework/kafka/produce-encoding.js';
import { prng } from '../../../functions/ysb/random.js';

const require = createRequire(import.meta.url);
/** kafkajs's own v3 request (v4 to v7 are it with another version number). */
const kafkajsV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (args: ProduceArgs) => { encode(): Promise<{ buffer: Buffer }> };

const NOW = 1_765_000_000_000;

function randomArgs(seed: number): ProduceArgs {
  const r = prng(seed);
  const int = (n: number): number => Math.floor(r() * n);
  const pick = <T,>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));
  const text = (n: number): string => Array.from({ length: n }, () => pick(['a', 'z', '0', 'é', '€', '😀', '-', ' '])).join('');
  const field = (): Buffer | string | null | undefined => pick([() => bytes(int(300)), () => text(int(40)), () => null, () => undefined, () => Buffer.alloc(0), () => ''])();
  const base = NOW - int(10_000_000);
  const timestamp = (): string | number | undefined =>
    pick([() => String(base + int(5_000)), () => base + int(5_000), () => undefined, () => String(base - 2 ** 33 + int(1000)), () => String(base + 2 ** 31 + int(1000))])();
  const message = (): ProduceMessage => {
    const headers: Record<string, Buffer | string | Array<Buffer | string>> = {};
    for (let h = int(5); h > 0; h -= 1) headers[pick(['sluice-src', 'sluice-seq', 'sluice-idx', 'x', text(8)])] = pick([() => bytes(int(20)), () => text(int(10)), () => [bytes(3), text(2)]])();
    const key = field();
    const value = field();
    const ts = timestamp();
    return { ...(key === undefined ? {} : { key }), value: value ?? null, ...(r() < 0.8 ? { headers } : {}), ...(ts === undefined ? {} : { timestamp: ts }) };
  };
  return {
    acks: pick([-1, 1, 0]),
    timeout: int(60_000),
    ...pick([{}, { transactionalId: null }, { transactionalId: `app.stage.${int(9)}` }, { transactionalId: '' }]),
    ...pick([{}, { producerId: String(int(1e9)), producerEpoch: int(3000) }, { producerId: -1, producerEpoch: 0 }]),
    topicData: Array.from({ length: 1 + int(3) }, (_, t) => ({
      topic: `topic-${t}-${text(3)}`,
      partitions: Array.from({ length: 1 + int(3) }, (_, p) => ({
        partition: p,
        ...(r() < 0.5 ? { firstSequence: int(1e6) } : {}),
        messages: Array.from({ length: 1 + int(40) }, message),
      })),
    })),
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

async function kafkajsBytes(args: ProduceArgs): Promise<Buffer> {
  vi.spyOn(Date, 'now').mockReturnValue(NOW);
  return (await kafkajsV3(args).encode()).buffer;
}

describe('encodeProduce', () => {
  it('writes the bytes kafkajs writes, for 300 random requests', async () => {
    for (let seed = 1; seed <= 300; seed += 1) {
      const args = randomArgs(seed);
      expect(encodeProduce(args, NOW).equals(await kafkajsBytes(args)), `seed ${seed}`).toBe(true);
    }
  });

  it('writes a Sluice-shaped batch (Buffer values, provenance headers, string timestamps) as kafkajs does', async () => {
    const messages: ProduceMessage[] = Array.from({ length: 1000 }, (_, i) => ({
      key: Buffer.from(`campaign-${i % 7}`),
      value: Buffer.from(JSON.stringify({ i, views: i * 3 })),
      headers: { 'sluice-src': Buffer.from('views.0'), 'sluice-seq': Buffer.from('42'), 'sluice-idx': Buffer.from(String(i)) },
      timestamp: String(NOW - 5_000 + (i % 97)),
    }));
    const args: ProduceArgs = { acks: -1, timeout: 30_000, transactionalId: 'app.views.0', producerId: '4711', producerEpoch: 3, topicData: [{ topic: 'app.counts.in', partitions: [{ partition: 2, firstSequence: 0, messages }] }] };
    expect(encodeProduce(args, NOW).equals(await kafkajsBytes(args))).toBe(true);
  });

  it('rejects a null header value as kafkajs does', async () => {
    const args: ProduceArgs = { acks: 1, timeout: 1000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: Buffer.from('v'), headers: { h: null } }] }] }] };
    await expect(kafkajsBytes(args)).rejects.toThrow(TypeError);
    expect(() => encodeProduce(args, NOW)).toThrow(TypeError);
  });
});

describe('fixKafkajsProduceEncoding', () => {
  it('serves Produce v3 to v7 by the one-buffer encoder with the version asked, and leaves compressed batches and older versions to kafkajs', async () => {
    fixKafkajsProduceEncoding();
    vi.spyOn(Date, 'now').mockReturnValue(NOW);
    const args = randomArgs(7);
    for (const version of [3, 4, 5, 6, 7]) {
      const { request, response } = produceRequests.protocol({ version })(args) as { request: { apiVersion: number; encode(): Promise<{ buffer: Buffer }> }; response: { parse: unknown } };
      expect(request.apiVersion).toBe(version);
      expect(typeof response.parse).toBe('function');
      expect((await request.encode()).buffer.equals(await kafkajsBytes(args))).toBe(true);
    }
    const gzip = produceRequests.protocol({ version: 3 })({ ...args, compression: 1 }) as { request: { encode(): Promise<{ buffer: Buffer }> } };
    const kafkajsGzip = kafkajsV3({ ...args, compression: 1 });
    expect((await gzip.request.encode()).buffer.equals((await kafkajsGzip.encode()).buffer)).toBe(true);
    expect((produceRequests.protocol({ version: 2 })(args) as { request: { apiVersion: number } }).request.apiVersion).toBe(2);
  });
});
