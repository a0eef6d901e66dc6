/** ensureTopics against the real broker: creates, is idempotent, refuses partition changes. */
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../framework/errors.js';
import { ensureTopics } from '../../framework/kafka/admin.js';
import { deleteTestTopics, testKafka, uniqueName } from '../support/infra.js';

const kafka = testKafka('sluice-test-admin');
const topics: string[] = [];
afterAll(() => deleteTestTopics(kafka, topics));

async function withAdmin<T>(fn: (admin: ReturnType<typeof kafka.admin>) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

describe('ensureTopics', () => {
  it('creates missing topics with the wanted partition counts', async () => {
    const a = uniqueName('admin-a');
    const b = uniqueName('admin-b');
    topics.push(a, b);
    await withAdmin(async (admin) => {
      const result = await ensureTopics(admin, [
        { topic: a, partitions: 3 },
        { topic: b, partitions: 1 },
      ]);
      expect(result).toEqual({ created: [a, b], existing: [] });
      const { topics: meta } = await admin.fetchTopicMetadata({ topics: [a, b] });
      expect(Object.fromEntries(meta.map((t) => [t.name, t.partitions.length]))).toEqual({ [a]: 3, [b]: 1 });
    });
  });

  it('is idempotent: a second call creates nothing', async () => {
    const topic = uniqueName('admin-idem');
    topics.push(topic);
    await withAdmin(async (admin) => {
      await ensureTopics(admin, [{ topic, partitions: 2 }]);
      expect(await ensureTopics(admin, [{ topic, partitions: 2 }])).toEqual({ created: [], existing: [topic] });
    });
  });

  it('fails with a ConfigError naming the topic and both partition counts when an existing topic differs', async () => {
    const topic = uniqueName('admin-mismatch');
    topics.push(topic);
    await withAdmin(async (admin) => {
      await ensureTopics(admin, [{ topic, partitions: 2 }]);
      const error: unknown = await ensureTopics(admin, [{ topic, partitions: 4 }]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error).toMatchObject({ code: 'SLUICE_CONFIG', place: { topic } });
      expect((error as ConfigError).message).toContain(`"${topic}" has 2 partitions, 4 wanted`);
    });
  });
});
