/**
 * A topic's low and high offsets per partition, through kafkajs's admin. kafkajs 2.2's
 * `fetchTopicOffsets` asks for the high and the low offsets in two rounds and destructures the
 * second answer without checking it; when a partition's leader moves or is not known yet between
 * the two (a busy or restarting broker), the answer is empty and it throws a TypeError ("Cannot
 * destructure property 'partitions'…") that it does not retry. Seen in the fault-injection suite
 * on a loaded machine, it failed recovery's resolve. The read is side-effect free: do it again.
 */
import type { Admin } from 'kafkajs';

/** What fetchTopicOffsets returns. */
export type TopicOffsets = Awaited<ReturnType<Admin['fetchTopicOffsets']>>;

const ATTEMPTS = 5;

/** `admin.fetchTopicOffsets(topic)`, with kafkajs's empty-answer TypeError retried. */
export async function topicOffsets(admin: Admin, topic: string): Promise<TopicOffsets> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await admin.fetchTopicOffsets(topic);
    } catch (error) {
      if (!(error instanceof TypeError) || attempt >= ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}
