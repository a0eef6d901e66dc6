import { createRequire } from 'node:module';
import { Partitioners } from 'kafkajs';
import type { PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../framework/errors.js';
import { murmur2, partitionForKey } from '../../../framework/record/partitioner.js';

// kafkajs's own hash, to check that external producers agree with us key for key.
const kafkajsMurmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;

describe('murmur2', () => {
  // The cases of org.apache.kafka.common.utils.UtilsTest#testMurmur2 in the Java client.
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('hashes %j to %i, as the Java client does', (key, hash) => {
    expect(murmur2(Buffer.from(key))).toBe(hash);
  });

  it('hashes the empty key as the Java client does', () => {
    expect(murmur2(Buffer.alloc(0))).toBe(kafkajsMurmur2(Buffer.alloc(0)));
  });

  it('agrees with kafkajs on 5,000 random binary keys of every tail length', () => {
    const random = mulberry32(0x6b61666b);
    for (let i = 0; i < 5000; i++) {
      const key = Buffer.from(Array.from({ length: i % 67 }, () => Math.floor(random() * 256)));
      expect(murmur2(key)).toBe(kafkajsMurmur2(key));
    }
  });
});

describe('partitionForKey', () => {
  it('picks the partition Kafka picks for the Java test keys', () => {
    // toPositive(h) % 12, computed from the hashes above.
    expect(['21', 'foobar', 'abc'].map((k) => partitionForKey(Buffer.from(k), 12))).toEqual([
      (-973932308 & 0x7fffffff) % 12,
      (-790332482 & 0x7fffffff) % 12,
      479470107 % 12,
    ]);
  });

  it("agrees with kafkajs's DefaultPartitioner on 5,000 random keys", () => {
    const random = mulberry32(42);
    const partitioner = Partitioners.DefaultPartitioner();
    for (const numPartitions of [1, 3, 7, 12, 64]) {
      const partitionMetadata = Array.from({ length: numPartitions }, (_, partitionId): PartitionMetadata => ({
        partitionErrorCode: 0,
        partitionId,
        leader: 0,
        replicas: [0],
        isr: [0],
      }));
      for (let i = 0; i < 1000; i++) {
        const key = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 40) }, () => Math.floor(random() * 256)));
        expect(partitionForKey(key, numPartitions)).toBe(partitioner({ topic: 't', partitionMetadata, message: { key, value: null } }));
      }
    }
  });

  it('rejects a partition count that is not a positive integer', () => {
    expect(() => partitionForKey(Buffer.from('k'), 0)).toThrow(ConfigError);
    expect(() => partitionForKey(Buffer.from('k'), 2.5)).toThrow('numPartitions must be a positive integer, got 2.5');
  });
});

/** Small seeded PRNG so random tests are reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
