/**
 * Topic administration: make the topics a topology needs exist with the partition counts it
 * was compiled for. Partition counts are part of the key-to-task mapping, so a mismatch is an
 * error, never something to "fix" silently.
 */
import type { Admin } from 'kafkajs';
import { ConfigError } from '../errors.js';
import { topicOffsets } from './topic-offsets.js';

/** A topic and its partition count. */
export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  /** Default: the broker's default.replication.factor. */
  readonly replicationFactor?: number;
  /** Topic configs, e.g. { 'retention.ms': '86400000' }. */
  readonly configs?: Readonly<Record<string, string>>;
}

/** What ensureTopics did. */
export interface EnsureTopicsResult {
  readonly created: string[];
  readonly existing: string[];
}

/** A topic that exists with another partition count than wanted. */
export interface PartitionMismatch {
  readonly topic: string;
  readonly wanted: number;
  readonly actual: number;
}

/** Pure: which wanted topics to create and which existing ones disagree. */
export function planTopics(
  wanted: readonly TopicSpec[],
  existing: ReadonlyMap<string, number>,
): { create: TopicSpec[]; existing: string[]; mismatches: PartitionMismatch[] } {
  const create: TopicSpec[] = [];
  const present: string[] = [];
  const mismatches: PartitionMismatch[] = [];
  for (const spec of wanted) {
    const actual = existing.get(spec.topic);
    if (actual === undefined) create.push(spec);
    else if (actual !== spec.partitions) mismatches.push({ topic: spec.topic, wanted: spec.partitions, actual });
    else present.push(spec.topic);
  }
  return { create, existing: present, mismatches };
}

/** Creates the missing topics and checks the existing ones; idempotent. `admin` must be connected. */
export async function ensureTopics(admin: Admin, topics: readonly TopicSpec[]): Promise<EnsureTopicsResult> {
  // kafkajs gives up when the metadata it asks for right after CreateTopics does not know the new
  // topics yet (a busy KRaft broker publishes them a moment later); the whole step is idempotent.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await ensureTopicsOnce(admin, topics);
    } catch (error) {
      const type = (error as { type?: unknown }).type;
      if (attempt >= 5 || (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE')) throw error;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

async function ensureTopicsOnce(admin: Admin, topics: readonly TopicSpec[]): Promise<EnsureTopicsResult> {
  const wanted = validate(topics);
  if (wanted.length === 0) return { created: [], existing: [] };
  const plan = planTopics(wanted, await partitionCounts(admin, wanted));
  throwOnMismatch(plan.mismatches);
  if (plan.create.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: plan.create.map((t) => ({
        topic: t.topic,
        numPartitions: t.partitions,
        ...(t.replicationFactor !== undefined ? { replicationFactor: t.replicationFactor } : {}),
        ...(t.configs ? { configEntries: Object.entries(t.configs).map(([name, value]) => ({ name, value })) } : {}),
      })),
    });
    // Someone may have created a topic between our look and our create (kafkajs then
    // quietly skips it): look again so their partition count is checked too.
    const again = planTopics(plan.create, await partitionCounts(admin, plan.create));
    throwOnMismatch(again.mismatches);
    // Leaders in the metadata do not mean the leader has created the partition yet. A transaction
    // that writes to one before it has (a test or a first run right after creating its topics)
    // cannot write its commit marker there: seen on Kafka 4.1, its transactional id then answered
    // CONCURRENT_TRANSACTIONS for about 50 s. ListOffsets answers only once every partition is
    // online on its leader (kafkajs retries it meanwhile).
    for (const t of plan.create) await topicOffsets(admin, t.topic);
  }
  return { created: plan.create.map((t) => t.topic), existing: plan.existing };
}

async function partitionCounts(admin: Admin, wanted: readonly TopicSpec[]): Promise<Map<string, number>> {
  const all = new Set(await admin.listTopics());
  const present = wanted.map((t) => t.topic).filter((t) => all.has(t));
  if (present.length === 0) return new Map();
  const { topics } = await admin.fetchTopicMetadata({ topics: present });
  return new Map(topics.map((t) => [t.name, t.partitions.length]));
}

function validate(topics: readonly TopicSpec[]): TopicSpec[] {
  const byName = new Map<string, TopicSpec>();
  for (const spec of topics) {
    if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
      throw new ConfigError(`Topic "${spec.topic}" wants ${spec.partitions} partitions`, { topic: spec.topic }, 'use a positive integer');
    }
    const seen = byName.get(spec.topic);
    if (seen && seen.partitions !== spec.partitions) {
      throw new ConfigError(
        `Topic "${spec.topic}" is listed twice, with ${seen.partitions} and ${spec.partitions} partitions`,
        { topic: spec.topic },
        'give each topic one partition count',
      );
    }
    byName.set(spec.topic, spec);
  }
  return [...byName.values()];
}

function throwOnMismatch(mismatches: readonly PartitionMismatch[]): void {
  const first = mismatches[0];
  if (!first) return;
  const all = mismatches.map((m) => `"${m.topic}" has ${m.actual} partitions, ${m.wanted} wanted`).join('; ');
  throw new ConfigError(
    `Existing topic partition count differs: ${all}`,
    { topic: first.topic },
    'the partition count decides which task owns a key, so Sluice will not change it: delete and recreate the topic (losing its data) or set the pipeline to the existing count',
  );
}
