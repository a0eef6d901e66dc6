/**
 * A two-stage pipeline over the real broker and DynamoDB Local: records produced to a
 * real source topic are fetched by the trigger emulator, wrapped exactly as Lambda would,
 * and run through the stage handlers; the next stage's topic and the sink are checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { count, json, pipeline, compile, stageHandler } from '../../framework/index.js';
import type { Topology } from '../../framework/index.js';
import { createTable, deleteTable } from '../../framework/dynamodb/table.js';
import { partitionForKey } from '../../framework/record/partitioner.js';
import { readDeadLetter, readProvenance } from '../../framework/record/provenance.js';
import { EventSourceMapping } from '../../framework/local/esm/mapping.js';
import { inProcessInvoker } from '../../framework/local/esm/invoker.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { readToEnd, testBrokers, testDynamo, testDynamoEndpoint, testKafka, uniqueName, createTopologyTopics } from '../support/infra.js';

interface Click {
  readonly user: string;
  readonly ms: number;
}

const app = uniqueName('e2e');
const source = `${app}-clicks`;
const sinkTopic = `${app}-counts`;
const table = uniqueName('e2e-table');

function build(): Topology {
  const p = pipeline(app, { partitions: 3 });
  p.source<Click>(source, { serde: json<Click>(), partitions: 2 })
    .stage('clicks')
    .filter((c) => c.ms > 0)
    .keyBy((c) => c.user, { name: 'user' })
    .aggregate(count())
    .sink(sinkTopic, { serde: json() });
  return compile(p.plan());
}

describe('a two-stage pipeline on real Kafka and DynamoDB Local', () => {
  const topology = build();
  let kafka: Kafka;
  const mappings: EventSourceMapping[] = [];

  beforeAll(async () => {
    kafka = testKafka('e2e');
    await createTable(testDynamo(), table);
    const admin = kafka.admin();
    await admin.connect();
    await createTopologyTopics(admin, topology);
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    const users = ['ann', 'bob', 'cy', 'dee', 'eve'];
    const messages = Array.from({ length: 60 }, (_, i) => ({ partition: i % 2, value: JSON.stringify({ user: users[i % users.length], ms: i % 7 }) }));
    messages.push({ partition: 1, value: '{not json' });
    await producer.send({ topic: source, messages });
    await producer.disconnect();

    const connect = lambdaPorts(topology, { table, dynamodbEndpoint: testDynamoEndpoint() });
    const handlers = Object.fromEntries(topology.stages.map((s) => [s.name, () => stageHandler(topology, s.name, { connect })]));
    const invoker = inProcessInvoker(handlers);
    for (const stage of topology.stages) {
      for (const input of stage.inputs) {
        const m = new EventSourceMapping({ kafka, brokers: testBrokers(), topic: input.topic, functionName: stage.name, invoker, batchSize: 7, batchingWindowMs: 100 });
        mappings.push(m);
        await m.start();
      }
    }
  });

  afterAll(async () => {
    for (const m of mappings) await m.stop();
    await deleteTable(testDynamo(), table).catch(() => undefined);
  });

  it('routes every key to its murmur2 partition, counts exactly once, and dead-letters the poison record', async () => {
    await mappings[0]!.waitForCatchUp();
    await mappings[1]!.waitForCatchUp();

    const internal = await readToEnd(kafka, `${app}.by-user.in`, { isolation: 'read_committed' });
    // 60 records, those with ms = 0 (i % 7 === 0: 9 of them) filtered out.
    expect(internal).toHaveLength(51);
    for (const r of internal) expect(r.partition).toBe(partitionForKey(r.key!, 3));
    for (const r of internal) expect(readProvenance(r.headers)?.task).toMatch(/^clicks\.[01]$/);

    const counts = await readToEnd(kafka, sinkTopic, { isolation: 'read_committed' });
    const last = new Map<string, number>();
    for (const r of counts) {
      const v = JSON.parse(r.value!.toString()) as { key: string; value: number };
      expect(v.value).toBe((last.get(v.key) ?? 0) + 1); // every increment seen once, in order
      last.set(v.key, v.value);
    }
    const expected = new Map<string, number>();
    for (let i = 0; i < 60; i += 1) if (i % 7 !== 0) expected.set(['ann', 'bob', 'cy', 'dee', 'eve'][i % 5]!, (expected.get(['ann', 'bob', 'cy', 'dee', 'eve'][i % 5]!) ?? 0) + 1);
    expect(Object.fromEntries(last)).toEqual(Object.fromEntries(expected));

    const dlq = await readToEnd(kafka, `${app}.clicks.dlq`, { isolation: 'read_committed' });
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!.value!.toString()).toBe('{not json');
    expect(readDeadLetter(dlq[0]!.headers)).toMatchObject({ stage: 'clicks', topic: source, partition: 1, offset: 30, errorClass: 'SerdeError' });
  });
});
