/**
 * Avro, Protobuf and JSON Schema through a schema registry, on the real broker and DynamoDB
 * Local: records framed in the Confluent wire format by a producer-side serde flow through a
 * two-stage pipeline (source → keyBy → count → sink) whose stages fetch writer schemas by id,
 * resolve old writers into their reader schema, and register their own output schemas.
 * Bad input lands in the dead-letter topic with its reason; a registry outage fails
 * invocations, which are retried until it is back, and nothing is lost.
 *
 * The registry is test/support/registry-stub.ts (Confluent's REST API as specified): no real
 * Confluent-compatible registry can be fetched on this machine (docs/schema-registry.md).
 */
import avsc from 'avsc';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { avro, compile, confluentRegistry, count, jsonSchema, pipeline, protobuf, stageHandler, string } from '../../framework/index.js';
import type { KeyedResult, SchemaRegistry, Serde, Topology } from '../../framework/index.js';
import { createTable, deleteTable } from '../../framework/dynamodb/table.js';
import { readDeadLetter } from '../../framework/record/provenance.js';
import { inProcessInvoker } from '../../framework/local/esm/invoker.js';
import { EventSourceMapping } from '../../framework/local/esm/mapping.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { createTopologyTopics, readToEnd, testBrokers, testDynamo, testDynamoEndpoint, testKafka, uniqueName } from '../support/infra.js';
import { startRegistryStub } from '../support/registry-stub.js';
import type { RegistryStub } from '../support/registry-stub.js';

interface View {
  readonly user: string;
  readonly kind: string;
}
type Count = KeyedResult<string, number>;

/** One schema language: the serdes of the producer (old and new writer), the pipeline and the sink reader. */
interface Format {
  readonly name: string;
  /** Writes `{user}` only (the old writer), when the format has schema evolution to test. */
  readonly oldWriter: ((registry: SchemaRegistry) => Serde<{ user: string }>) | undefined;
  readonly writer: (registry: SchemaRegistry) => Serde<View>;
  readonly reader: (registry: SchemaRegistry) => Serde<View>;
  readonly counts: (registry: SchemaRegistry) => Serde<Count>;
  /** What the reader fills in for a field the old writer did not have. */
  readonly defaultKind: string;
}

const AVRO_V1 = { type: 'record', name: 'View', namespace: 'clicks', fields: [{ name: 'user', type: 'string' }] };
const AVRO_V2 = { ...AVRO_V1, fields: [...AVRO_V1.fields, { name: 'kind', type: 'string', default: 'unknown' }] };
const AVRO_COUNT = { type: 'record', name: 'Count', namespace: 'clicks', fields: [{ name: 'key', type: 'string' }, { name: 'value', type: 'long' }] };
const PROTO_V1 = 'syntax = "proto3";\npackage clicks;\nmessage View { string user = 1; }\n';
const PROTO_V2 = 'syntax = "proto3";\npackage clicks;\nmessage View { string user = 1; string kind = 2; }\n';
const PROTO_COUNT = 'syntax = "proto3";\npackage clicks;\nmessage Count { string key = 1; int64 value = 2; }\n';
const JSON_VIEW = { title: 'clicks.View', type: 'object', properties: { user: { type: 'string' }, kind: { type: 'string' } }, required: ['user', 'kind'] };
const JSON_COUNT = { title: 'clicks.Count', type: 'object', properties: { key: { type: 'string' }, value: { type: 'integer' } }, required: ['key', 'value'] };

const FORMATS: readonly Format[] = [
  {
    name: 'avro',
    oldWriter: (registry) => avro<{ user: string }>({ schema: AVRO_V1, registry }),
    writer: (registry) => avro<View>({ schema: AVRO_V2, registry }),
    reader: (registry) => avro<View>({ schema: AVRO_V2, registry }),
    counts: (registry) => avro<Count>({ schema: AVRO_COUNT, registry }),
    defaultKind: 'unknown',
  },
  {
    name: 'protobuf',
    oldWriter: (registry) => protobuf<{ user: string }>({ schema: PROTO_V1, registry }),
    writer: (registry) => protobuf<View>({ schema: PROTO_V2, registry }),
    reader: (registry) => protobuf<View>({ schema: PROTO_V2, registry }),
    // int64 values are read as decimal strings (protobufjs `longs: String`); the pipeline writes numbers.
    counts: (registry) => protobuf<Count>({ schema: PROTO_COUNT, registry }),
    defaultKind: '',
  },
  {
    name: 'json-schema',
    oldWriter: undefined,
    writer: (registry) => jsonSchema<View>({ schema: JSON_VIEW, registry }),
    reader: (registry) => jsonSchema<View>({ schema: JSON_VIEW, registry }),
    counts: (registry) => jsonSchema<Count>({ schema: JSON_COUNT, registry }),
    defaultKind: '',
  },
];

const USERS = ['ann', 'bob', 'cy'];

/** A pipeline counting views per `user/kind`, reading and writing `format` through `registry`. */
function build(app: string, format: Format, registry: SchemaRegistry): Topology {
  const p = pipeline(app, { partitions: 2 });
  p.source<View>(`${app}-views`, { serde: format.reader(registry), partitions: 2 })
    .stage('views')
    .keyBy((v) => `${v.user}/${v.kind}`, { name: 'user', keySerde: string(), serde: format.reader(registry) })
    .aggregate(count())
    .sink(`${app}-counts`, { serde: format.counts(registry), keySerde: string() });
  return compile(p.plan());
}

/** The topology running behind emulated Lambda triggers, with its table. */
class Running {
  readonly mappings: EventSourceMapping[] = [];
  constructor(readonly topology: Topology, readonly table: string) {}

  async start(kafka: Kafka): Promise<void> {
    await createTable(testDynamo(), this.table);
    const admin = kafka.admin();
    await admin.connect();
    await createTopologyTopics(admin, this.topology);
    await admin.disconnect();
    const connect = lambdaPorts(this.topology, { table: this.table, dynamodbEndpoint: testDynamoEndpoint() });
    const handlers = Object.fromEntries(this.topology.stages.map((s) => [s.name, () => stageHandler(this.topology, s.name, { connect })]));
    const invoker = inProcessInvoker(handlers);
    for (const stage of this.topology.stages) {
      for (const input of stage.inputs) {
        const m = new EventSourceMapping({ kafka, brokers: testBrokers(), topic: input.topic, functionName: stage.name, invoker, batchSize: 10, batchingWindowMs: 50, retryBackoffMs: 200 });
        this.mappings.push(m);
        await m.start();
      }
    }
  }

  async caughtUp(): Promise<void> {
    for (const m of this.mappings) await m.waitForCatchUp();
  }

  async stop(): Promise<void> {
    for (const m of this.mappings) await m.stop();
    await deleteTable(testDynamo(), this.table).catch(() => undefined);
  }
}

/** The last count per key on the sink, decoded through the registry by a fresh serde. */
async function finalCounts(kafka: Kafka, topic: string, serde: Serde<Count>): Promise<Record<string, number>> {
  const records = await readToEnd(kafka, topic, { isolation: 'read_committed' });
  await serde.schemas!.prefetch(records.map((r) => ({ bytes: r.value })), { topic, role: 'value' });
  const last: Record<string, number> = {};
  for (const r of records) {
    const c = serde.deserialize(r.value, { topic, partition: r.partition, offset: Number(r.offset) });
    last[c.key] = Number(c.value);
  }
  return last;
}

async function produce(kafka: Kafka, topic: string, values: readonly Buffer[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: values.map((value, i) => ({ partition: i % 2, value })) });
  await producer.disconnect();
}

async function framed<T>(serde: Serde<T>, topic: string, values: readonly T[]): Promise<Buffer[]> {
  await serde.schemas!.prepareWrite({ topic, role: 'value' });
  return values.map((v) => serde.serialize(v)!);
}

let stub: RegistryStub;
let kafka: Kafka;

beforeAll(async () => {
  stub = await startRegistryStub();
  kafka = testKafka('schema-registry');
});

afterAll(async () => {
  await stub.stop();
});

describe.each(FORMATS)('$name records through a two-stage pipeline', (format) => {
  const app = uniqueName(format.name === 'json-schema' ? 'sr-json' : `sr-${format.name}`);
  const source = `${app}-views`;
  let running: Running;
  const expected: Record<string, number> = {};

  beforeAll(async () => {
    const registry = confluentRegistry({ url: stub.url });
    running = new Running(build(app, format, registry), uniqueName('sr-table'));
    await running.start(kafka);
    // The producer has its own registry client and serdes, as an external producer would.
    const producerRegistry = confluentRegistry({ url: stub.url });
    const views: View[] = Array.from({ length: 30 }, (_, i) => ({ user: USERS[i % 3]!, kind: i % 2 === 0 ? 'view' : 'click' }));
    const values = await framed(format.writer(producerRegistry), source, views);
    for (const v of views) expected[`${v.user}/${v.kind}`] = (expected[`${v.user}/${v.kind}`] ?? 0) + 1;
    if (format.oldWriter) {
      const old = USERS.map((user) => ({ user }));
      values.push(...(await framed(format.oldWriter(producerRegistry), source, old)));
      for (const o of old) expected[`${o.user}/${format.defaultKind}`] = (expected[`${o.user}/${format.defaultKind}`] ?? 0) + 1;
    }
    await produce(kafka, source, values);
  });

  afterAll(async () => {
    await running.stop();
  });

  it('counts every record exactly once and writes the counts framed with the registered output schema', async () => {
    await running.caughtUp();
    expect(await finalCounts(kafka, `${app}-counts`, format.counts(confluentRegistry({ url: stub.url })))).toEqual(expected);
  });

  // JSON Schema has no writer/reader resolution (the reader schema only validates), so no evolution case.
  if (format.oldWriter) {
    it('reads records of the old writer schema with the new reader schema (schema evolution)', async () => {
      await running.caughtUp();
      const counts = await finalCounts(kafka, `${app}-counts`, format.counts(confluentRegistry({ url: stub.url })));
      expect(USERS.map((u) => counts[`${u}/${format.defaultKind}`])).toEqual([1, 1, 1]);
    });
  }
});

describe('bad Avro input and registry outages', () => {
  const format = FORMATS[0]!;
  const app = uniqueName('sr-bad');
  const source = `${app}-views`;
  let running: Running;

  beforeAll(async () => {
    running = new Running(build(app, format, confluentRegistry({ url: stub.url })), uniqueName('sr-table'));
    await running.start(kafka);
  });

  afterAll(async () => {
    await running.stop();
  });

  it('dead-letters each kind of bad record with its reason and keeps the partition moving', async () => {
    const registry = confluentRegistry({ url: stub.url });
    const good = await framed(format.writer(registry), source, [{ user: 'ann', kind: 'view' }]);
    const incompatibleId = stub.register(`${app}-other-value`, 'AVRO', JSON.stringify({ type: 'record', name: 'View', namespace: 'clicks', fields: [{ name: 'user', type: 'int' }] }));
    const incompatible = Buffer.concat([Buffer.from([0, 0, 0, 0, incompatibleId]), avsc.Type.forSchema({ type: 'record', name: 'V', fields: [{ name: 'user', type: 'int' }] }).toBuffer({ user: 7 })]);
    const bad = [
      Buffer.from('{"user":"ann","kind":"view"}'), // wrong magic byte
      Buffer.from([0, 0, 0, 0x7f, 0x01, 2, 0x61]), // unknown schema id 32513
      good[0]!.subarray(0, 7), // truncated payload
      incompatible, // a writer schema the reader cannot resolve
    ];
    // All on partition 0, each followed by a good record: the partition must keep moving.
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: source, messages: bad.flatMap((value) => [{ partition: 0, value }, { partition: 0, value: good[0]! }]) });
    await producer.disconnect();
    await running.caughtUp();

    const dlq = await readToEnd(kafka, `${app}.views.dlq`, { isolation: 'read_committed' });
    expect(dlq.map((r) => readDeadLetter(r.headers)?.errorCode)).toEqual([
      'SLUICE_SCHEMA_FRAMING',
      'SLUICE_SCHEMA_UNKNOWN_ID',
      'SLUICE_SCHEMA_DECODE',
      'SLUICE_SCHEMA_INCOMPATIBLE',
    ]);
    expect(readDeadLetter(dlq[1]!.headers)?.errorMessage).toContain('schema id 32513 is not in the registry');
    expect(dlq.map((r) => r.value)).toEqual(bad);
    expect(await finalCounts(kafka, `${app}-counts`, format.counts(registry))).toEqual({ 'ann/view': 4 });
  });

  it('fails and retries invocations while the registry is down, and loses nothing once it is back', async () => {
    const registry = confluentRegistry({ url: stub.url });
    // A writer schema the pipeline has not seen yet, so the stage must ask the registry for it.
    const v3 = { ...AVRO_V2, fields: [...AVRO_V2.fields, { name: 'ref', type: 'string', default: '' }] };
    const values = await framed(avro<View & { ref: string }>({ schema: v3, registry }), source, USERS.map((user) => ({ user, kind: 'view', ref: 'r' })));
    const failuresBefore = running.mappings[0]!.stats.failures;
    const dlqBefore = (await readToEnd(kafka, `${app}.views.dlq`, { isolation: 'read_committed' })).length;
    await stub.stop();
    await produce(kafka, source, values);
    const deadline = Date.now() + 30_000;
    while (running.mappings[0]!.stats.failures === failuresBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(running.mappings[0]!.stats.failures).toBeGreaterThan(failuresBefore);
    await stub.start();
    await running.caughtUp();

    expect(await finalCounts(kafka, `${app}-counts`, format.counts(registry))).toEqual({ 'ann/view': 5, 'bob/view': 1, 'cy/view': 1 });
    expect(await readToEnd(kafka, `${app}.views.dlq`, { isolation: 'read_committed' })).toHaveLength(dlqBefore);
  });
});
