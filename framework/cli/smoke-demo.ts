/**
 * `sluice demo --smoke`: the earlier smoke test of the two guarantees Sluice builds on, on the
 * local Kafka and DynamoDB Local:
 *   1. Kafka transactions: a read_committed reader sees committed records and never aborted ones.
 *   2. DynamoDB conditional writes: a write guarded by a condition happens at most once.
 */
import { randomBytes } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteTableCommand,
  GetItemCommand,
  PutItemCommand,
  waitUntilTableExists,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { Kafka, RecordMetadata } from 'kafkajs';
import { createDynamoClient } from '../dynamodb/client.js';
import { ensureTopics } from '../kafka/admin.js';
import { createKafka } from '../kafka/client.js';
import { readToEnd } from '../kafka/read-to-end.js';
import { infraUp } from '../local/infra/index.js';
import { topicOffsets } from '../kafka/topic-offsets.js';

/** How many records each transaction writes. */
export interface SmokeOptions {
  readonly committed: number;
  readonly aborted: number;
  /** Keep the demo's topic and table afterwards (for poking at them). */
  readonly keep: boolean;
}

/** One verified expectation. */
export interface Check {
  readonly ok: boolean;
  readonly what: string;
}

/** Runs the smoke flow, printing as it goes; returns the checks (the caller decides the exit code). */
export async function runSmokeDemo(opts: SmokeOptions): Promise<Check[]> {
  const say = (label: string, text: string): void => console.log(`  ${label.padEnd(9)} ${text}`);
  console.log('Sluice smoke demo');
  const infra = await infraUp({ log: (line) => say('infra', line) });
  say('kafka', `Kafka ${infra.kafka.version} at ${infra.kafka.brokers.join(',')} (pid ${infra.kafka.pid})`);
  say('dynamodb', `DynamoDB Local ${infra.dynamodb.version} at ${infra.dynamodb.endpoint} (pid ${infra.dynamodb.pid})`);

  const name = `sluice-demo-${randomBytes(4).toString('hex')}`;
  // kafkajs logs every retried transient error (coordinator moves, kafkajs#1315); failures still throw.
  const kafka = createKafka({ brokers: infra.kafka.brokers, clientId: 'sluice-demo', logLevel: 'nothing' });
  const dynamo = createDynamoClient({ endpoint: infra.dynamodb.endpoint });
  const checks: Check[] = [];
  const check = (ok: boolean, what: string): void => {
    checks.push({ ok, what });
    console.log(`  ${ok ? '✓' : '✗'} ${what}`);
  };
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [{ topic: name, partitions: 1 }]);
    say('topic', `${name} (1 partition)`);
    const { committedOffsets, abortedOffsets } = await writeTransactions(kafka, name, opts);
    say('commit', `transaction 1 wrote ${opts.committed} records at offsets ${range(committedOffsets)} and committed`);
    say('abort', `transaction 2 wrote ${opts.aborted} records at offsets ${range(abortedOffsets)} and aborted`);
    const [end] = await topicOffsets(admin, name);
    say('log', `high watermark ${end?.high ?? '?'}: ${opts.committed + opts.aborted} records + 2 transaction markers`);

    const committedView = await readToEnd(kafka, name, { isolation: 'read_committed' });
    const seen = committedView.map((r) => r.value?.toString() ?? '');
    const expected = Array.from({ length: opts.committed }, (_, i) => `committed-${i}`);
    check(
      JSON.stringify(seen) === JSON.stringify(expected),
      `read_committed consumer saw ${seen.length} records (offsets ${range(committedView.map((r) => r.offset))}): exactly the committed ones, in order`,
    );
    check(!seen.some((v) => v.startsWith('aborted-')), 'no aborted record was visible to the read_committed consumer');
    const rawView = await readToEnd(kafka, name, { isolation: 'read_uncommitted' });
    check(
      rawView.length === opts.committed + opts.aborted,
      `read_uncommitted consumer saw ${rawView.length} records: the aborted ones are in the log, only hidden from committed readers`,
    );

    await createTable(dynamo, name);
    say('table', `${name} (key pk)`);
    check(await putOnce(dynamo, name, seen.length), `conditional put of counter=${seen.length} (attribute_not_exists) succeeded`);
    check(!(await putOnce(dynamo, name, seen.length)), 'the same conditional put again was rejected (ConditionalCheckFailed): the effect happened once');
    const stored = await dynamo.send(new GetItemCommand({ TableName: name, Key: { pk: { S: 'committed-count' } }, ConsistentRead: true }));
    const count = Number(stored.Item?.count?.N);
    check(count === opts.committed, `counter reads back ${count}, expected ${opts.committed}`);
  } finally {
    if (!opts.keep) {
      await admin.deleteTopics({ topics: [name] }).catch(() => undefined);
      await dynamo.send(new DeleteTableCommand({ TableName: name })).catch(() => undefined);
    }
    await admin.disconnect();
    dynamo.destroy();
  }
  return checks;
}

async function writeTransactions(
  kafka: Kafka,
  topic: string,
  opts: SmokeOptions,
): Promise<{ committedOffsets: number[]; abortedOffsets: number[] }> {
  const producer = kafka.producer({ transactionalId: `${topic}-producer`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const committed = await producer.transaction();
    const c = await committed.send({ topic, messages: messages('committed', opts.committed) });
    await committed.commit();
    const aborted = await producer.transaction();
    const a = await aborted.send({ topic, messages: messages('aborted', opts.aborted) });
    await aborted.abort();
    return { committedOffsets: offsets(c, opts.committed), abortedOffsets: offsets(a, opts.aborted) };
  } finally {
    await producer.disconnect();
  }
}

function messages(kind: string, n: number): { key: string; value: string }[] {
  return Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `${kind}-${i}` }));
}

// One send to one partition comes back as one base offset; the batch's records follow it.
function offsets(meta: RecordMetadata[], n: number): number[] {
  const base = Number(meta[0]?.baseOffset ?? NaN);
  return Array.from({ length: n }, (_, i) => base + i);
}

async function createTable(dynamo: DynamoDBClient, table: string): Promise<void> {
  await dynamo.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await waitUntilTableExists({ client: dynamo, minDelay: 1, maxWaitTime: 30 }, { TableName: table });
}

async function putOnce(dynamo: DynamoDBClient, table: string, count: number): Promise<boolean> {
  try {
    await dynamo.send(
      new PutItemCommand({
        TableName: table,
        Item: { pk: { S: 'committed-count' }, count: { N: String(count) } },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return false;
    throw e;
  }
}

function range(offsets: readonly number[]): string {
  if (offsets.length === 0) return '(none)';
  return offsets.length === 1 ? String(offsets[0]) : `${offsets[0]}-${offsets[offsets.length - 1]}`;
}
