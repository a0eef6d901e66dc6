import { describe, expect, it } from 'vitest';
import { MAX_TIMESTAMP_DELTA_MS, requestsOf, type Routed } from '../../../../framework/kafka/platformatic/batching.js';

const NOW = 1_800_000_000_000;

function routed(partition: number, timestamp?: number, bytes = 10, topic = 't'): Routed {
  return { partition, record: { topic, key: null, value: Buffer.alloc(bytes), headers: [], ...(timestamp !== undefined ? { timestamp } : {}) } };
}

const shape = (chunks: Routed[][]): Array<Array<[number, number | undefined]>> => chunks.map((c) => c.map((r) => [r.partition, r.record.timestamp]));

describe('requestsOf (how a platformatic send is cut into produce requests)', () => {
  it('keeps a send in one request when it is small and its timestamps are close', () => {
    expect(shape(requestsOf([routed(0, NOW), routed(1, NOW - 5), routed(0, NOW + 5)], 1_000, NOW))).toEqual([[[0, NOW], [1, NOW - 5], [0, NOW + 5]]]);
  });

  it('gives records without a timestamp the send time, as the library would', () => {
    expect(shape(requestsOf([routed(0)], 1_000, NOW))).toEqual([[[0, NOW]]]);
  });

  it('starts a new request when a timestamp is more than 2^31 - 1 ms from the first of its partition in the request', () => {
    const far = NOW - MAX_TIMESTAMP_DELTA_MS - 1;
    expect(shape(requestsOf([routed(0), routed(0, NOW - MAX_TIMESTAMP_DELTA_MS), routed(0, far), routed(0, far + 1)], 1_000, NOW))).toEqual([
      [[0, NOW], [0, NOW - MAX_TIMESTAMP_DELTA_MS]],
      [[0, far], [0, far + 1]],
    ]);
  });

  it('compares timestamps only within a partition', () => {
    const old = NOW - 10 * MAX_TIMESTAMP_DELTA_MS;
    expect(requestsOf([routed(0, NOW), routed(1, old), routed(0, NOW), routed(1, old)], 1_000, NOW)).toHaveLength(1);
  });

  it('starts a new request when the estimated size would pass maxBytes; a bigger record goes alone', () => {
    const sizes = requestsOf([routed(0, NOW, 40), routed(0, NOW, 40), routed(0, NOW, 500), routed(0, NOW, 10)], 160, NOW).map((c) => c.map((r) => r.record.value!.length));
    expect(sizes).toEqual([[40, 40], [500], [10]]);
  });
});
