/**
 * `sluice status` on a real run: a two-stage pipeline runs through the trigger emulator on the
 * real broker and DynamoDB Local; status then reads its checkpoints, lag and dead letters, spots
 * a batch stuck in doubt, and fails clearly on an unknown stage, a missing table and a dead broker.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerStatusCommand } from '../../framework/cli/status.js';
import { compile, count, json, pipeline, stageHandler } from '../../framework/index.js';
import type { Topology } from '../../framework/index.js';
import { DynamoTaskStore } from '../../framework/dynamodb/task-store.js';
import { createTable, deleteTable } from '../../framework/dynamodb/table.js';
import { freePort } from '../../framework/local/infra/index.js';
import { inProcessInvoker } from '../../framework/local/esm/invoker.js';
import { EventSourceMapping } from '../../framework/local/esm/mapping.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { OpsError } from '../../framework/ops/errors.js';
import { assessStatus, collectStatus } from '../../framework/ops/status.js';
import { closeTarget, openTarget, type OpsTarget } from '../../framework/ops/target.js';
import { createTopologyTopics, discardPending, leavePending, readToEnd, testBrokers, testDynamo, testDynamoEndpoint, testKafka, uniqueName } from '../support/infra.js';

interface Click {
  readonly user: string;
  readonly ms: number;
}

const app = uniqueName('ops-status');
const source = `${app}-clicks`;
const table = uniqueName('ops-status-table');

/** The pipeline, as a definition a pipeline module can repeat (the CLI loads it from a file). */
function definition(name: string, from: string, to: string) {
  // The checkpoint protocol: its pending batches are what status flags (the changelog protocol has none).
  const p = pipeline(name, { partitions: 3, functionTimeout: '30s', transactionTimeout: '60s', commit: 'checkpoint' });
  p.source<Click>(from, { serde: json<Click>(), partitions: 2 })
    .stage('clicks')
    .filter((c) => c.ms > 0)
    .keyBy((c) => c.user, { name: 'user' })
    .aggregate(count())
    .sink(to, { serde: json() });
  return p;
}

describe('sluice status on a pipeline run', () => {
  const topology: Topology = compile(definition(app, source, `${app}-counts`).plan());
  let kafka: Kafka;
  let target: OpsTarget;

  beforeAll(async () => {
    kafka = testKafka('ops-status');
    await createTable(testDynamo(), table);
    const admin = kafka.admin();
    await admin.connect();
    await createTopologyTopics(admin, topology);
    await admin.disconnect();
    // Idempotent, so a retried send cannot write a record twice.
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const users = ['ann', 'bob', 'cy', 'dee'];
    const messages = Array.from({ length: 24 }, (_, i) => ({ partition: i % 2, value: JSON.stringify({ user: users[i % users.length], ms: 1 + i }) }));
    messages.push({ partition: 1, value: '{not json' });
    await producer.send({ topic: source, messages });
    await producer.disconnect();

    const connect = lambdaPorts(topology, { table, dynamodbEndpoint: testDynamoEndpoint() });
    const invoker = inProcessInvoker(Object.fromEntries(topology.stages.map((s) => [s.name, () => stageHandler(topology, s.name, { connect })])));
    const mappings: EventSourceMapping[] = [];
    for (const stage of topology.stages) {
      for (const input of stage.inputs) {
        const m = new EventSourceMapping({ kafka, brokers: testBrokers(), topic: input.topic, functionName: stage.name, invoker, batchSize: 5, batchingWindowMs: 100 });
        mappings.push(m);
        await m.start();
      }
    }
    for (const m of mappings) await m.waitForCatchUp();
    for (const m of mappings) await m.stop();
    target = openTarget(topology, { brokers: testBrokers(), table, dynamodbEndpoint: testDynamoEndpoint(), region: undefined });
  });

  afterAll(async () => {
    if (target) closeTarget(target);
    await deleteTable(testDynamo(), table).catch(() => undefined);
  });

  it('shows every task caught up with a committed checkpoint, and the dead letter', async () => {
    const status = assessStatus(await collectStatus(target));
    expect(status.attention).toEqual([]);
    const [clicks, byUser] = status.stages;
    // The source is written without transactions: caught up means lag 0.
    for (const t of clicks!.tasks) {
      expect(t).toMatchObject({ lag: 0, nextOffset: t.endOffset, pending: null });
      expect(t.committedSeq).toBeGreaterThan(0);
    }
    // The internal topic is written in transactions: its end offset also counts the commit
    // markers, so a caught-up partition shows a lag of at least the marker after its last batch,
    // while every committed record lies below the checkpoint.
    const internal = await readToEnd(kafka, `${app}.by-user.in`, { isolation: 'read_committed' });
    for (const t of byUser!.tasks.filter((x) => x.endOffset! > 0)) {
      expect(t.lag).toBeGreaterThanOrEqual(1);
      expect(t.version).toBeGreaterThan(0);
      expect(t.pending).toBeNull();
      expect(internal.filter((r) => r.partition === t.partition).every((r) => r.offset < t.nextOffset)).toBe(true);
    }
    // One dead letter and its transaction's commit marker.
    expect(clicks!.deadLetterOffsets).toBe(2);
    expect(byUser!.deadLetterOffsets).toBe(0);
  });

  it('flags a batch left pending longer than the transaction timeout', async () => {
    const task = (await collectStatus(target, 'by-user')).stages[0]!.tasks.find((t) => t.stored.exists)!.stored;
    const since = Date.now() - 10 * 60_000;
    const store = new DynamoTaskStore(testDynamo(), table);
    const pending = await leavePending(store, task.task, since);
    try {
      const status = assessStatus(await collectStatus(target, 'by-user'));
      const row = status.stages[0]!.tasks.find((t) => t.task === task.task.id)!;
      expect(row.pending).toMatchObject({ seq: pending.seq, since });
      expect(row.pending!.ageMs).toBeGreaterThanOrEqual(10 * 60_000);
      expect(status.attention).toEqual([expect.stringMatching(new RegExp(`^task ${task.task.id.replace('.', '\\.')}: batch ${pending.seq} has been pending for 10m`)) as string]);
    } finally {
      await discardPending(store, task.task);
    }
  });

  it('exits 2 from the command line when lag is over --max-lag, with --json on stdout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-ops-'));
    const module = join(dir, 'pipeline.ts');
    const framework = resolve('framework/index.ts');
    writeFileSync(
      module,
      `import { count, json, pipeline } from ${JSON.stringify(framework)};\n` +
        `const p = pipeline(${JSON.stringify(app)}, { partitions: 3, functionTimeout: '30s', transactionTimeout: '60s', commit: 'checkpoint' });\n` +
        `p.source(${JSON.stringify(source)}, { serde: json(), partitions: 2 }).stage('clicks').filter(() => true).keyBy((c) => c.user, { name: 'user' }).aggregate(count()).sink(${JSON.stringify(`${app}-counts`)}, { serde: json() });\n` +
        'export const ops = p;\n',
    );
    const out: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void out.push(String(line)));
    const before = process.exitCode;
    try {
      const program = new Command('sluice').exitOverride();
      registerStatusCommand(program);
      await program.parseAsync(['status', '--pipeline', `${module}#ops`, '--brokers', testBrokers().join(','), '--table', table, '--dynamodb-endpoint', testDynamoEndpoint(), '--max-lag', '0', '--json'], { from: 'user' });
      expect(process.exitCode).toBe(2);
      const json = JSON.parse(out.join('\n')) as { attention: string[] };
      expect(json.attention.length).toBeGreaterThan(0);
      expect(json.attention.every((a) => /^task by-user\.\d: lag \d+ is over --max-lag 0$/.test(a))).toBe(true);
    } finally {
      log.mockRestore();
      process.exitCode = before;
    }
  });

  it('names an unknown stage and lists the real ones', async () => {
    const error = await collectStatus(target, 'sesions').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpsError);
    expect(error).toMatchObject({ code: 'SLUICE_OPS_UNKNOWN_STAGE', message: expect.stringContaining('stages: clicks, by-user') as string });
  });

  it('says the table is missing, naming it and the endpoint', async () => {
    const missing = uniqueName('no-such-table');
    const other = openTarget(topology, { brokers: testBrokers(), table: missing, dynamodbEndpoint: testDynamoEndpoint(), region: undefined });
    try {
      const error = await collectStatus(other).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'SLUICE_OPS_TABLE_MISSING', message: expect.stringContaining(`DynamoDB table "${missing}" does not exist at ${testDynamoEndpoint()}`) as string });
    } finally {
      closeTarget(other);
    }
  });

  it('says the broker is down, naming the address, within seconds', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const other = openTarget(topology, { brokers: [dead], table, dynamodbEndpoint: testDynamoEndpoint(), region: undefined });
    const started = Date.now();
    try {
      const error = await collectStatus(other).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'SLUICE_OPS_KAFKA_UNREACHABLE', message: expect.stringContaining(`cannot reach Kafka at ${dead}`) as string });
      expect((error as OpsError).hint).toContain('sluice infra up');
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      closeTarget(other);
    }
  });
});

