/**
 * A batch whose state changes are larger than one Kafka record (the broker takes about 1 MB) under
 * the changelog protocol, on the real broker and DynamoDB Local: the changes go into the batch's
 * transaction as consecutive changelog records, a cold container folds them back into the state,
 * `state get` reads them, and a savepoint import of that state (a rebase larger than a record) is
 * committed the same way. Without the parts the broker refuses the record (MESSAGE_TOO_LARGE) and
 * the batch fails on every retry.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile, json, pipeline, stageHandler, string, valueState } from '../../framework/index.js';
import { createTable, deleteTable } from '../../framework/dynamodb/table.js';
import { KafkajsChangelogReader } from '../../framework/kafka/changelog-reader.js';
import { inProcessInvoker } from '../../framework/local/esm/invoker.js';
import { EventSourceMapping } from '../../framework/local/esm/mapping.js';
import { exportSavepoint, importSavepoint } from '../../framework/ops/savepoint.js';
import { getState } from '../../framework/ops/state-get.js';
import { closeTarget, openTarget, type OpsTarget } from '../../framework/ops/target.js';
import { changelogBatches } from '../../framework/record/changelog.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { taskRef } from '../../framework/runtime/task.js';
import { changelogOf } from '../../framework/topology/names.js';
import { createTopologyTopics, readToEnd, testBrokers, testDynamo, testDynamoEndpoint, testKafka, uniqueName } from '../support/infra.js';

interface Note {
  readonly user: string;
  readonly size: number;
}

const text = valueState<string>('text', { serde: string() });
/** Notes of 1,600,000 random base64 characters (state is deflated: 1.2 MB): a batch changing one of them changes more than a Kafka record holds. */
const BIG = 1_600_000;
const BIG_BYTES = 1_100_000;
const USERS = ['ann', 'bob', 'cy'];

describe('state changes larger than a Kafka record (commit: changelog)', () => {
  const app = uniqueName('big-changes');
  const source = `${app}-notes`;
  const sink = `${app}-lengths`;
  const table = uniqueName('big-changes-table');
  const p = pipeline(app, { partitions: 1, functionTimeout: '30s', transactionTimeout: '60s', commit: 'changelog' });
  p.source<Note>(source, { serde: json<Note>(), partitions: 1 })
    .keyBy((n) => n.user, { name: 'user', keySerde: string() })
    .process<string>(
      (n, ctx) => {
        const before = ctx.state(text).get()?.length ?? 0;
        ctx.state(text).set(randomBytes(Math.ceil((n.size * 3) / 4)).toString('base64').slice(0, n.size));
        ctx.emit(`${n.user} ${before} ${n.size}`);
      },
      { state: [text] },
    )
    .sink(sink, { serde: json<string>() });
  const topology = compile(p.plan());
  const stage = topology.stages[topology.stages.length - 1]!;
  let kafka: Kafka;
  let target: OpsTarget;

  /** Sends one note per user and runs the stages in fresh containers (a cold start of each task) until their input is processed. */
  async function round(size: number): Promise<void> {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic: source, messages: USERS.map((user) => ({ key: user, value: JSON.stringify({ user, size }) })) });
    await producer.disconnect();
    const connect = lambdaPorts(topology, { table, dynamodbEndpoint: testDynamoEndpoint() });
    const invoker = inProcessInvoker(Object.fromEntries(topology.stages.map((s) => [s.name, () => stageHandler(topology, s.name, { connect })])));
    const mappings = topology.stages.flatMap((s) => s.inputs.map((input) => new EventSourceMapping({ kafka, brokers: testBrokers(), topic: input.topic, functionName: s.name, invoker, batchSize: 100, batchingWindowMs: 300 })));
    for (const m of mappings) await m.start();
    for (const m of mappings) await m.waitForCatchUp();
    for (const m of mappings) await m.stop();
  }

  async function outputs(): Promise<string[]> {
    return (await readToEnd(kafka, sink, { isolation: 'read_committed' })).map((r) => JSON.parse(r.value!.toString('utf8')) as string);
  }

  beforeAll(async () => {
    kafka = testKafka('big-changes');
    await createTable(testDynamo(), table);
    const admin = kafka.admin();
    await admin.connect();
    await createTopologyTopics(admin, topology);
    await admin.disconnect();
    target = openTarget(topology, { brokers: testBrokers(), table, dynamodbEndpoint: testDynamoEndpoint(), region: undefined });
  }, 60_000);

  afterAll(async () => {
    if (target) closeTarget(target);
    await deleteTable(testDynamo(), table).catch(() => undefined);
  });

  it('commits batches that change more than 1 MB of state, each in several changelog records', async () => {
    await round(BIG);
    expect((await outputs()).sort()).toEqual(USERS.map((u) => `${u} 0 ${BIG}`));
    const task = taskRef(topology, stage, stage.inputs[0]!.topic, 0);
    const log = new KafkajsChangelogReader(kafka, { settleMs: 2_000 });
    try {
      const { records } = await log.read(changelogOf(topology, task), 0);
      const read = changelogBatches(task.id, records);
      if ('corrupt' in read) throw new Error(read.corrupt.reason);
      expect(read.incompleteAt).toBeUndefined();
      // Every batch changed at least one note, so each spans two records or more.
      expect(read.batches.length).toBeGreaterThan(0);
      for (const b of read.batches) {
        expect(b.entry.changes!.length).toBeGreaterThan(BIG_BYTES);
        expect(b.offset - b.first).toBeGreaterThanOrEqual(1);
      }
    } finally {
      await log.close();
    }
    expect((await getState(target, stage.name, 'bob', { format: 'string' })).value).toHaveLength(BIG);
  }, 120_000);

  it('a cold container reads the parts back: the next batch sees the 1,600,000-character notes', async () => {
    await round(10);
    expect((await outputs()).slice(USERS.length).sort()).toEqual(USERS.map((u) => `${u} ${BIG} 10`));
  }, 120_000);

  it('a savepoint import of 3.6 MB of state rebases the task in several records, read back by state get', async () => {
    await round(BIG);
    const file = join(mkdtempSync(join(tmpdir(), 'sluice-big-')), 'sp.jsonl');
    await exportSavepoint(target, stage.name, file);
    await round(5);
    expect((await getState(target, stage.name, 'cy', { format: 'string' })).value).toHaveLength(5);
    expect(await importSavepoint(target, stage.name, file, { force: true })).toMatchObject({ tasks: 1, state: 3 });
    expect((await getState(target, stage.name, 'cy', { format: 'string' })).value).toHaveLength(BIG);
    await round(1);
    expect((await outputs()).slice(-USERS.length).sort()).toEqual(USERS.map((u) => `${u} ${BIG} 1`));
  }, 240_000);
});
