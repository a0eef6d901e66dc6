import { describe, expect, it } from 'vitest';
import { KafkaJSProtocolError, type Admin } from 'kafkajs';
import { topicOffsets } from '../../../framework/kafka/topic-offsets.js';

const OFFSETS = [{ partition: 0, offset: '5', high: '5', low: '0' }];

/** An admin whose fetchTopicOffsets throws `failures` in turn, then answers; it counts metadata refreshes. */
function flakyAdmin(failures: unknown[]): { admin: Admin; calls: () => number; refreshes: () => number } {
  let calls = 0;
  let refreshes = 0;
  const admin = {
    fetchTopicOffsets: () => {
      const failure = failures[calls++];
      return failure === undefined ? Promise.resolve(OFFSETS) : Promise.reject(failure);
    },
    fetchTopicMetadata: () => {
      refreshes += 1;
      return Promise.resolve({ topics: [] });
    },
  } as unknown as Admin;
  return { admin, calls: () => calls, refreshes: () => refreshes };
}

const notLeader = () => new KafkaJSProtocolError({ message: 'This server is not the leader for that topic-partition', type: 'NOT_LEADER_FOR_PARTITION', code: 6, retriable: true } as unknown as Error);
const denied = () => new KafkaJSProtocolError({ message: 'Not authorized to access topics', type: 'TOPIC_AUTHORIZATION_FAILED', code: 29, retriable: false } as unknown as Error);

describe('topicOffsets', () => {
  it('retries what a just-created topic answers before its leader has it, refreshing metadata in between', async () => {
    const { admin, calls, refreshes } = flakyAdmin([notLeader(), notLeader()]);
    await expect(topicOffsets(admin, 't')).resolves.toEqual(OFFSETS);
    expect(calls()).toBe(3);
    expect(refreshes()).toBe(2);
  });

  it("retries kafkajs's empty-answer TypeError", async () => {
    const { admin, calls } = flakyAdmin([new TypeError("Cannot destructure property 'partitions' of undefined")]);
    await expect(topicOffsets(admin, 't')).resolves.toEqual(OFFSETS);
    expect(calls()).toBe(2);
  });

  it('throws a non-retriable error at once', async () => {
    const { admin, calls } = flakyAdmin([denied()]);
    await expect(topicOffsets(admin, 't')).rejects.toThrow('Not authorized');
    expect(calls()).toBe(1);
  });

  it('gives up after 8 attempts', async () => {
    const { admin, calls } = flakyAdmin(Array.from({ length: 8 }, notLeader));
    await expect(topicOffsets(admin, 't')).rejects.toThrow('not the leader');
    expect(calls()).toBe(8);
  }, 10_000);
});
