/**
 * Helpers for integration tests: clients for the infrastructure the global setup started,
 * and names that never collide between runs or files.
 */
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Kafka } from 'kafkajs';
import { inject } from 'vitest';
import { createDynamoClient } from '../../framework/dynamodb/client.js';
import type { Admin } from 'kafkajs';
import { ensureTopics, type TopicSpec } from '../../framework/kafka/admin.js';
import { managedTopicConfigs } from '../../framework/topology/names.js';
import type { Topology } from '../../framework/topology/topology.js';
import type { BatchRecord, TaskRef, TaskStore } from '../../framework/commit/ports.js';
import { nextSeq } from '../../framework/commit/checkpoint.js';
import { createKafka, type LogLevelName } from '../../framework/kafka/client.js';

export { readToEnd } from '../../framework/kafka/read-to-end.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Bootstrap servers of the test broker. */
export function testBrokers(): string[] {
  return inject('kafkaBrokers');
}

/** Endpoint of the test DynamoDB Local. */
export function testDynamoEndpoint(): string {
  return inject('dynamodbEndpoint');
}

/**
 * A kafkajs client for the test broker. Silent by default: kafkajs logs retried transient
 * errors (coordinator loading, kafkajs#1315) at ERROR; real failures still reject.
 * Set SLUICE_TEST_KAFKA_LOG=debug (or info/warn/error) to see them.
 */
export function testKafka(clientId = 'sluice-test'): Kafka {
  const level = (process.env.SLUICE_TEST_KAFKA_LOG as LogLevelName | undefined) ?? 'nothing';
  return createKafka({ brokers: testBrokers(), clientId, logLevel: level });
}

/** A DynamoDB client for DynamoDB Local (dummy credentials, us-east-1). */
export function testDynamo(): DynamoDBClient {
  return createDynamoClient({ endpoint: testDynamoEndpoint() });
}

/** `<prefix>-<time>-<random>`: valid as a topic, table and transactional id, unique per call. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Creates a fresh topic with a unique name; returns the name. */
export async function createTestTopic(kafka: Kafka, prefix: string, partitions = 1): Promise<string> {
  const topic = uniqueName(prefix);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [{ topic, partitions }]);
  } finally {
    await admin.disconnect();
  }
  return topic;
}

/** Deletes topics a test created (ignores ones already gone). */
export async function deleteTestTopics(kafka: Kafka, topics: readonly string[]): Promise<void> {
  if (topics.length === 0) return;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: [...topics] }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

/**
 * The topics of a topology as a deployment creates them: Sluice's own (managed) topics with
 * managedTopicConfigs (broker append time), and the app's sources and sinks with time retention
 * off. Test inputs carry event times of long ago (fixed dates, so schedules replay exactly), and
 * sinks keep event time as the record timestamp, as in Kafka Streams and Flink: with the broker's
 * 24 h retention their records would be deleted at the next retention check, as a user's would
 * when replaying history into a topic with short retention (docs/exactly-once.md, "Known problems
 * found by the suite").
 */
export function topologyTopicSpecs(topology: Topology): TopicSpec[] {
  return topology.topics.map((t) => ({ topic: t.name, partitions: t.partitions, configs: t.managed ? managedTopicConfigs(t.role) : { 'retention.ms': '-1' } }));
}

/** Creates topologyTopicSpecs(topology), retrying kafkajs's occasional leader-wait failure. */
export async function createTopologyTopics(admin: Admin, topology: Topology): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureTopics(admin, topologyTopicSpecs(topology));
      return;
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

/**
 * Leaves a prepared, undecided batch on a task, as an invocation that crashed after its prepare
 * would: a batch record at the task's next sequence number (`since`: when it was "prepared").
 */
export async function leavePending(store: TaskStore, task: TaskRef, since: number): Promise<BatchRecord> {
  const { checkpoint } = await store.read(task);
  const record: BatchRecord = { seq: nextSeq(checkpoint), nextOffset: 1_000, time: checkpoint.time, txnId: `${task.app}.${task.id}`, progress: undefined, since, changes: [], changeBytes: 0, snapshot: undefined };
  await store.prepare(task, record);
  return record;
}

/** Settles what leavePending left: the batch is abandoned (its seq becomes a hole), as recovery would. */
export async function discardPending(store: TaskStore, task: TaskRef): Promise<void> {
  const view = await store.read(task);
  if (view.pending) await store.abandon(task, view.checkpoint, view.pending);
}
