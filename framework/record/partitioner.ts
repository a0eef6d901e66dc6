/**
 * Kafka's default partitioner for keyed records: `toPositive(murmur2(key)) % numPartitions`,
 * bit for bit as the Java client's `Utils.murmur2` (and kafkajs's DefaultPartitioner), so a
 * record keyed by Sluice and one keyed by any external producer land on the same partition.
 */
import { ConfigError } from '../errors.js';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 hash of the key bytes, as the signed 32-bit int Java returns. */
export function murmur2(key: Buffer): number {
  const length = key.length;
  let h = SEED ^ length;
  const tail = length & ~3;
  // Java reads each 4-byte block little-endian; Math.imul is Java's wrapping int multiply.
  for (let i = 0; i < tail; i += 4) {
    let k = key.readInt32LE(i);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest === 3) h ^= key.readUInt8(tail + 2) << 16;
  if (rest >= 2) h ^= key.readUInt8(tail + 1) << 8;
  if (rest >= 1) h = Math.imul(h ^ key.readUInt8(tail), M);
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Kafka's default partitioner picks for a non-null key. */
export function partitionForKey(key: Buffer, numPartitions: number): number {
  if (!Number.isInteger(numPartitions) || numPartitions < 1 || numPartitions > 0x7fffffff) {
    throw new ConfigError(`numPartitions must be a positive integer, got ${numPartitions}`, { field: 'numPartitions' });
  }
  // Java's Utils.toPositive: clear the sign bit (not Math.abs, which differs for negatives).
  return (murmur2(key) & 0x7fffffff) % numPartitions;
}
