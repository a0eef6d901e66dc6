/**
 * The YSB example end to end on the real broker and DynamoDB Local: the generator writes a
 * skewed, out-of-order stream of ad events; LocalRun runs both stages through the trigger
 * emulator (data and control topics, the ticker) with in-process handlers and the real
 * adapters; the committed window counts must equal the oracle's — every window, every
 * campaign, once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { compile, stageHandler } from '../../framework/index.js';
import type { Topology } from '../../framework/index.js';
import { createTable, deleteTable } from '../../framework/dynamodb/table.js';
import { ensureTopics } from '../../framework/kafka/admin.js';
import { readProvenance } from '../../framework/kafka/provenance.js';
import { LocalRun } from '../../framework/local/dev.js';
import { inProcessInvoker } from '../../framework/local/esm/invoker.js';
import { PipelineMonitor } from '../../framework/local/monitor.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { runGenerator, type GeneratorResult } from '../../functions/ysb/generator.js';
import { verifyCounts } from '../../functions/ysb/oracle.js';
import { ALLOWED_LATENESS_MS, WINDOW_MS, ysbPipeline, type CampaignCount, type CampaignView } from '../../functions/ysb/pipeline.js';
import { readToEnd, testBrokers, testDynamo, testDynamoEndpoint, testKafka, uniqueName } from '../support/infra.js';

const app = uniqueName('ysb');
const sourceTopic = `${app}-ad-events`;
const sinkTopic = `${app}-campaign-counts`;
const table = `${app}-state`;
const groupPrefix = `sluice-local-${app}`;
// A window boundary plus 3.5 s, so the stream starts and ends inside windows.
const START = Date.UTC(2026, 0, 1, 12, 0, 0) + 3_500;

describe('the YSB example on real Kafka and DynamoDB Local', () => {
  const topology: Topology = compile(ysbPipeline({ app, sourceTopic, sinkTopic }).plan());
  const monitor = new PipelineMonitor(topology);
  let kafka: Kafka;
  let run: LocalRun;
  let generated: GeneratorResult;

  beforeAll(async () => {
    kafka = testKafka('ysb-e2e');
    await createTable(testDynamo(), table);
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, topology.topics.map((t) => ({ topic: t.name, partitions: t.partitions })));
    await admin.disconnect();
    const connect = lambdaPorts(topology, { table, dynamodbEndpoint: testDynamoEndpoint() });
    const handlers = Object.fromEntries(topology.stages.map((s) => [s.name, stageHandler(topology, s.name, { connect })]));
    run = new LocalRun({
      topology,
      kafka,
      brokers: testBrokers(),
      invoker: monitor.invoker(inProcessInvoker(handlers)),
      onInvocation: monitor.onInvocation,
      groupPrefix,
      batchSize: 500,
      tickIntervalMs: 500,
    });
    await run.start();
    // 24,000 events over 24 s of event time (4 windows), Zipf-skewed campaigns, up to 1.5 s out of order.
    generated = await runGenerator(kafka, sourceTopic, { seed: 11, rate: 1_000, durationMs: 24_000, startTime: START, skew: 1, maxJitterMs: 1_500, partitions: 2 });
  });

  afterAll(async () => {
    await run?.stop();
    await deleteTable(testDynamo(), table).catch(() => undefined);
    const admin = kafka.admin();
    await admin.connect();
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(groupPrefix));
    await admin.deleteGroups(groups).catch(() => undefined);
    await admin.deleteTopics({ topics: topology.topics.map((t) => t.name) }).catch(() => undefined);
    await admin.disconnect();
  });

  it('commits every campaign’s count of every window exactly once, equal to the oracle', async () => {
    expect(generated).toMatchObject({ events: 24_000, endOfStream: 2, perPartition: [12_000, 12_000] });
    const lastWindowEnd = Math.floor(generated.lastEventTime / WINDOW_MS) * WINDOW_MS + WINDOW_MS;
    // Every window has fired, and its allowed lateness is over, once the counts stage's event time is here.
    await monitor.waitForWatermark('counts', lastWindowEnd - 1 + ALLOWED_LATENESS_MS, 240_000);
    await run.settle(1);

    const sink = await readToEnd(kafka, sinkTopic, { isolation: 'read_committed' });
    const results = sink.map((r) => JSON.parse(r.value!.toString()) as CampaignCount);
    const late = (await readToEnd(kafka, `${app}.counts.late`, { isolation: 'read_committed' })).map((r) => JSON.parse(r.value!.toString()) as CampaignView);
    const expected = generated.oracle.expected();
    const verdict = verifyCounts(expected, results, late);

    expect({ duplicates: verdict.duplicates, missing: verdict.missing, wrong: verdict.wrong, unexpected: verdict.unexpected }).toEqual({ duplicates: [], missing: [], wrong: [], unexpected: [] });
    expect(verdict).toMatchObject({ ok: true, windows: 4, late: 0 });
    expect(verdict.results).toBe(verdict.expectedCounts);
    expect(results.every((r) => r.firing === 'on-time')).toBe(true);
    // The counts add up to the views the generator wrote.
    expect(results.reduce((n, r) => n + r.value, 0)).toBe(generated.views);
    // Each result is keyed by its campaign and traceable to the task and batch that committed it.
    for (const r of sink) {
      expect(r.key?.toString()).toBe((JSON.parse(r.value!.toString()) as CampaignCount).key);
      expect(readProvenance(r.headers)?.task).toMatch(/^counts\.[0-3]$/);
    }
    // Nothing was dead-lettered.
    for (const stage of topology.stages) expect(await readToEnd(kafka, stage.deadLetterTopic, { isolation: 'read_committed' })).toEqual([]);
  });
});
