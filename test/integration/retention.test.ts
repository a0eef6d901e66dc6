/**
 * Regression test of the exactly-once "loss" seen under fault injection (docs/exactly-once.md,
 * "Known problems found by the suite"): Kafka's time-based retention deletes a segment once its
 * newest record timestamp is older than retention.ms, and records Sluice wrote with old event times
 * as their timestamps (internal records of replayed history, dead letters, late records) were deleted by the broker's
 * next retention check before anyone read them. Every topic Sluice owns now takes the broker's
 * append time, and the event time travels in headers.
 *
* Deterministic: a private broker checks retention every second from its start (the shared one every 5 min,
 * which is why the fault suites lost output only when a schedule straddled a check), and the
 * events are thirty days old (see T0). A plain topic written with the
 * same old timestamps shows the check really ran.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile, count, json, pipeline, stageHandler, string, tumbling } from '../../framework/index.js';
import type { Topology } from '../../framework/index.js';
import { topicsManifest, topicsToCreate } from '../../framework/deploy/topics.js';
import { createTable, deleteTable } from '../../framework/dynamodb/table.js';
import { ensureTopics } from '../../framework/kafka/admin.js';
import { createKafka } from '../../framework/kafka/client.js';
import { readDeadLetter } from '../../framework/record/provenance.js';
import { readToEnd } from '../../framework/kafka/read-to-end.js';
import { freePort, infraDown, infraUp, loadInfraConfig, type InfraConfig } from '../../framework/local/infra/index.js';
import { inProcessInvoker } from '../../framework/local/esm/invoker.js';
import { EventSourceMapping } from '../../framework/local/esm/mapping.js';
import { EVENT_TIME_HEADER } from '../../framework/runtime/input.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { testDynamo, testDynamoEndpoint, uniqueName } from '../support/infra.js';

interface View {
  readonly user: string;
  readonly t: number;
}

const DAY = 86_400_000;
/**
 * Thirty days ago, on a 10 s window boundary: older than the broker's 24 h retention and than
 * its segment.ms (7 days), so the broker rolls a new segment at every append of such records
 * (it rolls by the first timestamp in the segment) and a data batch never shares a segment with
 * the newer transaction marker after it: the next retention check deletes every one of them.
 * That is what the fault suites' fixed 2026-01-01 event times did.
 */
const T0 = Math.floor((Date.now() - 30 * DAY) / 10_000) * 10_000;
const app = uniqueName('ret');
const clicks = `${app}-clicks`;
const views = `${app}-views`;
const table = uniqueName('ret-table');

function build(): Topology {
  const p = pipeline(app, { partitions: 2 });
  // keyBy: an internal topic; the poison record: a dead letter.
  p.source<View>(clicks, { serde: json<View>(), partitions: 1, eventTime: (v) => v.t })
    .stage('clicks')
    .keyBy((v) => v.user, { name: 'user' })
    .aggregate(count())
    .sink(`${app}-click-counts`, { serde: json() });
  // Windows on an already keyed source: the last record is late.
  p.keyedSource<string, View>(views, { keySerde: string(), serde: json<View>(), partitions: 1, eventTime: (v) => v.t })
    .stage('views')
    .window(tumbling('10s'))
    .aggregate(count())
    .sink(`${app}-view-counts`, { serde: json() });
  return compile(p.plan());
}

describe('records Sluice writes with old event times survive time-based retention', () => {
  const topology = build();
  let home: string;
  let config: InfraConfig;
  let kafka: Kafka;
  const mappings: EventSourceMapping[] = [];

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'sluice-retention-'));
    const shared = loadInfraConfig();
    config = {
      ...shared,
      home,
      runDir: join(home, 'infra'),
      kafka: { ...shared.kafka, port: await freePort(), controllerPort: await freePort(), serverProperties: { 'log.retention.check.interval.ms': 1_000, 'log.initial.task.delay.ms': 0 } },
    };
    const up = await infraUp({ config, services: ['kafka'] });
    kafka = createKafka({ brokers: up.kafka!.brokers, clientId: 'retention-test', logLevel: 'nothing' });
    await createTable(testDynamo(), table);
    const admin = kafka.admin();
    await admin.connect();
    try {
      // Sluice's topics as `sluice topics create` makes them; the app's own topics as a user
      // replaying history must make them: without time retention.
      await ensureTopics(admin, topicsToCreate(topicsManifest(topology)));
      const own = topology.topics.filter((t) => !t.managed).map((t) => ({ topic: t.name, partitions: t.partitions, configs: { 'retention.ms': '-1' } }));
      await ensureTopics(admin, [...own, { topic: `${app}-plain`, partitions: 1 }]);
    } finally {
      await admin.disconnect();
    }
    const connect = lambdaPorts(topology, { table, dynamodbEndpoint: testDynamoEndpoint(), brokers: up.kafka!.brokers });
    const invoker = inProcessInvoker(Object.fromEntries(topology.stages.map((s) => [s.name, () => stageHandler(topology, s.name, { connect })])));
    for (const stage of topology.stages) {
      for (const input of stage.inputs) {
        const m = new EventSourceMapping({ kafka, brokers: up.kafka!.brokers, topic: input.topic, functionName: stage.name, invoker, batchSize: 50, batchingWindowMs: 50 });
        mappings.push(m);
        await m.start();
      }
    }
  }, 180_000);

  afterAll(async () => {
    for (const m of mappings) await m.stop();
    await deleteTable(testDynamo(), table).catch(() => undefined);
    if (config) await infraDown({ config, services: ['kafka'] });
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('keeps internal records, dead letters and late records (event time in headers) while a plain topic with the same timestamps is emptied', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const view = (user: string, t: number): { key: string; value: string; timestamp: string } => ({ key: user, value: JSON.stringify({ user, t }), timestamp: String(t) });
    await producer.send({
      topic: clicks,
      messages: [
        { value: JSON.stringify({ user: 'ann', t: T0 + 1_000 }), timestamp: String(T0 + 1_000) },
        { value: JSON.stringify({ user: 'bob', t: T0 + 2_000 }), timestamp: String(T0 + 2_000) },
        { value: '{not json', timestamp: String(T0 + 3_000) },
      ],
    });
    await producer.send({ topic: views, messages: [view('ann', T0 + 1_000), view('ann', T0 + 25_000)] });
    await producer.send({ topic: `${app}-plain`, messages: [{ value: 'old', timestamp: String(T0) }] });
    for (const m of mappings) await m.waitForCatchUp();
    // The watermark passed T0 + 10 s in the batch before: this view is late.
    await producer.send({ topic: views, messages: [view('ann', T0 + 4_000)] });
    await producer.disconnect();
    for (const m of mappings) await m.waitForCatchUp();

    const read = (topic: string): ReturnType<typeof readToEnd> => readToEnd(kafka, topic, { isolation: 'read_committed' });
    // The private broker's retention check (every second) deletes the plain topic's old record…
    const deadline = Date.now() + 30_000;
    while ((await read(`${app}-plain`)).length > 0) {
      if (Date.now() > deadline) throw new Error('the broker never deleted the plain topic\'s old record: is its retention check running?');
      await sleep(500);
    }
    // …and runs a few more times.
    await sleep(3_000);

    const internal = await read(`${app}.by-user.in`);
    expect(internal.map((r) => JSON.parse(r.value!.toString()) as View).sort((a, b) => a.t - b.t)).toEqual([
      { user: 'ann', t: T0 + 1_000 },
      { user: 'bob', t: T0 + 2_000 },
    ]);
    for (const r of internal) expect(Number(r.headers.find((h) => h.name === EVENT_TIME_HEADER)?.value.toString())).toBeGreaterThanOrEqual(T0);

    const dead = await read(`${app}.clicks.dlq`);
    expect(dead.map((r) => r.value?.toString())).toEqual(['{not json']);
    expect(readDeadLetter(dead[0]!.headers)).toMatchObject({ topic: clicks, offset: 2, errorClass: 'SerdeError', timestamp: T0 + 3_000 });
    expect(dead[0]!.timestampType).toBe('LOG_APPEND_TIME');

    const late = await read(`${app}.views.late`);
    expect(late.map((r) => JSON.parse(r.value!.toString()) as View)).toEqual([{ user: 'ann', t: T0 + 4_000 }]);
    expect(Number(late[0]!.headers.find((h) => h.name === EVENT_TIME_HEADER)?.value.toString())).toBe(T0 + 4_000);
  }, 120_000);
});
