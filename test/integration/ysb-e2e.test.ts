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
import { cleanupApp, closableConnect, prepareApp } from '../../framework/cli/dev.js';
import { readProvenance } from '../../framework/record/provenance.js';
import { DynamoTaskStore } from '../../framework/dynamodb/task-store.js';
import { LocalRun } from '../../framework/local/dev.js';
import { inProcessInvoker } from '../../framework/local/esm/invoker.js';
import { PipelineMonitor } from '../../framework/local/monitor.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { runGenerator, type GeneratorResult } from '../../functions/ysb/generator.js';
import { verifyCounts } from '../../functions/ysb/oracle.js';
import { ALLOWED_LATENESS_MS, WINDOW_MS, ysbPipeline, type CampaignCount, type CampaignView } from '../../functions/ysb/pipeline.js';
import { readToEnd, testBrokers, testDynamo, testDynamoEndpoint, testKafka, uniqueName } from '../support/infra.js';

// The stages' own kafkajs clients log every retried, expected error (a fenced producer after a
// task's data and control invocations raced); SLUICE_TEST_KAFKA_LOG=error shows them.
process.env.KAFKAJS_LOG_LEVEL ??= process.env.SLUICE_TEST_KAFKA_LOG ?? 'NOTHING';

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
  const ports = closableConnect(lambdaPorts(topology, { table, dynamodbEndpoint: testDynamoEndpoint() }));
  let generated: GeneratorResult;

  beforeAll(async () => {
    kafka = testKafka('ysb-e2e');
    // The table and every topic, the external source and sink included.
    await prepareApp(kafka, testDynamo(), topology, table);
    const handlers = Object.fromEntries(topology.stages.map((s) => [s.name, () => stageHandler(topology, s.name, { connect: ports.connect })]));
    run = new LocalRun({
      topology,
      kafka,
      brokers: testBrokers(),
      invoker: monitor.invoker(inProcessInvoker(handlers)),
      onInvocation: monitor.onInvocation,
      groupPrefix,
      batchSize: 500,
      tickIntervalMs: 500,
      taskTimes: new DynamoTaskStore(testDynamo(), table),
    });
    await run.start();
    // 24,000 events over 24 s of event time (3 windows, the first and last partial), Zipf-skewed campaigns, up to 1.5 s out of order.
    generated = await runGenerator(kafka, sourceTopic, { seed: 11, rate: 1_000, durationMs: 24_000, startTime: START, skew: 1, maxJitterMs: 1_500, partitions: 2 });
  });

  afterAll(async () => {
    await run?.stop();
    await ports.close();
    await cleanupApp(kafka, testDynamo(), topology, table, groupPrefix).catch(() => undefined);
  });

  it('commits every campaign’s count of every window exactly once, equal to the oracle', async () => {
    expect(generated).toMatchObject({ events: 24_000, endOfStream: 2, perPartition: [12_000, 12_000] });
    const lastWindowEnd = Math.floor(generated.lastEventTime / WINDOW_MS) * WINDOW_MS + WINDOW_MS;
    // Every window has fired, and its allowed lateness is over, once the counts stage's event time is here.
    await monitor.waitForWatermark('counts', lastWindowEnd - 1 + ALLOWED_LATENESS_MS, 90_000).catch((e: unknown) => {
      // Say where each stage is before failing.
      console.error(monitor.sample());
      throw e;
    });
    await run.settle(1);

    const sink = await readToEnd(kafka, sinkTopic, { isolation: 'read_committed' });
    const results = sink.map((r) => JSON.parse(r.value!.toString()) as CampaignCount);
    const late = (await readToEnd(kafka, `${app}.counts.late`, { isolation: 'read_committed' })).map((r) => JSON.parse(r.value!.toString()) as CampaignView);
    const expected = generated.oracle.expected();
    const verdict = verifyCounts(expected, results, late);

    expect({ duplicates: verdict.duplicates, missing: verdict.missing, wrong: verdict.wrong, unexpected: verdict.unexpected }).toEqual({ duplicates: [], missing: [], wrong: [], unexpected: [] });
    expect(verdict).toMatchObject({ ok: true, windows: 3, late: 0 });
    expect(verdict.results).toBe(verdict.expectedCounts);
    expect(results.every((r) => r.firing === 'on-time')).toBe(true);
    // The counts add up to the views the generator wrote.
    expect(results.reduce((n, r) => n + r.value, 0)).toBe(generated.views);
    // Each result is keyed by its campaign and traceable to the task and batch that committed it.
    for (const r of sink) {
      expect(r.key?.toString()).toBe((JSON.parse(r.value!.toString()) as CampaignCount).key);
      expect(readProvenance(r.headers)?.task).toMatch(/^counts\.[0-3]$/);
    }
    // The internal topic takes the broker's append time; each record's event time travels in its sluice-et header.
    const admin = kafka.admin();
    await admin.connect();
    try {
      const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: `${app}.counts.in`, configNames: ['message.timestamp.type'] }] });
      expect(described.resources[0]!.configEntries.find((c) => c.configName === 'message.timestamp.type')?.configValue).toBe('LogAppendTime');
    } finally {
      await admin.disconnect();
    }
    const internal = await readToEnd(kafka, `${app}.counts.in`, { isolation: 'read_committed' });
    expect(internal.length).toBe(generated.views);
    for (const r of internal) {
      const eventTime = Number(r.headers.find((h) => h.name === 'sluice-et')?.value.toString());
      expect(eventTime).toBe((JSON.parse(r.value!.toString()) as CampaignView).event_time);
      expect(r.timestamp - eventTime).toBeGreaterThan(24 * 3600 * 1000); // append time today, event time in January
    }
    // Nothing was dead-lettered.
    for (const stage of topology.stages) expect(await readToEnd(kafka, stage.deadLetterTopic, { isolation: 'read_committed' })).toEqual([]);
  });
});
