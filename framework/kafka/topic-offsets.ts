/**
 * A topic's low and high offsets per partition, through kafkajs's admin, retried where kafkajs
 * does not retry. The read is side-effect free, so doing it again is always safe.
 *
 * - kafkajs 2.2's `fetchTopicOffsets` asks for the high and the low offsets in two rounds and
 *   destructures the second answer without checking it; when a partition's leader moves or is not
 *   known yet between the two (a busy or restarting broker), the answer is empty and it throws a
 *   TypeError ("Cannot destructure property 'partitions'…"). Seen in the fault-injection suite on
 *   a loaded machine, it failed recovery's resolve.
 * - Its admin does not retry ListOffsets errors either: right after a topic is created, a
 *   partition whose leader has not yet taken it answers NOT_LEADER_OR_FOLLOWER (or
 *   LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION), which kafkajs marks retriable and throws.
 *   Seen in the benchmark's first read of a just-created topic; the metadata is refreshed before
 *   the next attempt so the request goes to the partition's current leader.
 */
import type { Admin } from 'kafkajs';

/** What fetchTopicOffsets returns. */
export type TopicOffsets = Awaited<ReturnType<Admin['fetchTopicOffsets']>>;

const ATTEMPTS = 8;

/** `admin.fetchTopicOffsets(topic)`, with kafkajs's empty-answer TypeError and retriable protocol errors retried. */
export async function topicOffsets(admin: Admin, topic: string): Promise<TopicOffsets> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await admin.fetchTopicOffsets(topic);
    } catch (error) {
      if (!isRetriableRead(error) || attempt >= ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      if (!(error instanceof TypeError)) await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
    }
  }
}

/** kafkajs's unchecked empty answer, or a protocol error kafkajs itself calls retriable. */
function isRetriableRead(error: unknown): boolean {
  if (error instanceof TypeError) return true;
  return typeof error === 'object' && error !== null && (error as { retriable?: unknown }).retriable === true;
}
