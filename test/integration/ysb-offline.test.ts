/**
 * The YSB example end to end through serverless-offline: the test starts `osls offline start` on
 * the repository's serverless.yml (the YSB service) with a unique app, source topic and
 * Serverless stage (hence its own function names and table), and LocalRun's trigger emulator
 * calls the stage functions through offline's Lambda Invoke API — the bundles Lambda would run,
 * each in its own worker, with the environment the plugin gives them. The committed window counts
 * must equal the oracle's. ysb-e2e.test.ts runs the same example with the in-process invoker.
 */
import { ChangelogTimesReader } from '../../framework/commit/changelog-times.js';
import { KafkajsChangelogReader } from '../../framework/kafka/changelog-reader.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { compile } from '../../framework/index.js';
import type { Topology } from '../../framework/index.js';
import { cleanupApp, prepareApp } from '../../framework/cli/dev.js';
import { readProvenance } from '../../framework/record/provenance.js';
import { DynamoTaskStore } from '../../framework/dynamodb/task-store.js';
import { LocalRun } from '../../framework/local/dev.js';
import { lambdaApiInvoker, type LambdaApiInvoker } from '../../framework/local/esm/lambda-api-invoker.js';
import { PipelineMonitor } from '../../framework/local/monitor.js';
import { taskRef } from '../../framework/runtime/task.js';
import type { Invoker } from '../../framework/local/esm/invoker.js';
import { runGenerator, type GeneratorResult } from '../../functions/ysb/generator.js';
import { verifyCounts } from '../../functions/ysb/oracle.js';
import { ALLOWED_LATENESS_MS, WINDOW_MS, ysbPipeline, type CampaignCount, type CampaignView } from '../../functions/ysb/pipeline.js';
import { readToEnd, testBrokers, testDynamo, testDynamoEndpoint, testKafka, uniqueName } from '../support/infra.js';

process.env.KAFKAJS_LOG_LEVEL ??= process.env.SLUICE_TEST_KAFKA_LOG ?? 'NOTHING';

const app = uniqueName('ysbo');
const sourceTopic = `${app}-ad-events`;
const sinkTopic = `${app}-campaign-counts`;
// The Serverless stage: function names sluice-ysb-<slsStage>-<stage>, table sluice-ysb-<slsStage>-state.
const slsStage = `t${randomBytes(4).toString('hex')}`;
const table = `sluice-ysb-${slsStage}-state`;
const groupPrefix = `sluice-local-${app}`;
const START = Date.UTC(2026, 0, 1, 12, 0, 0) + 3_500;

/** A TCP port nobody listens on right now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Polls the Lambda API until a function answers (with its handler's error for an empty event). */
async function waitForLambdaApi(endpoint: string, functionName: string, offline: { exited: boolean; output: () => string }, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (offline.exited) throw new Error(`osls offline exited before its Lambda API answered:\n${offline.output()}`);
    try {
      const response = await fetch(`${endpoint}/2015-03-31/functions/${functionName}/invocations`, { method: 'POST', body: '{}' });
      await response.text();
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`osls offline's Lambda API did not answer within ${timeoutMs} ms:\n${offline.output()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Ends the offline process and everything it started (its own process group). */
async function stopProcessGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

describe('the YSB example through serverless-offline', () => {
  const topology: Topology = compile(ysbPipeline({ app, sourceTopic, sinkTopic }).plan());
  const monitor = new PipelineMonitor(topology);
  let kafka: Kafka;
  let offline: ChildProcess | undefined;
  let invoker: LambdaApiInvoker | undefined;
  let run: LocalRun | undefined;
  let generated: GeneratorResult;
  let log = '';
  // Every task report the functions returned, with the wall time it came back: printed when the check fails.
  const reports: string[] = [];
  const recording = (inner: Invoker): Invoker => ({
    invoke: async (functionName, event) => {
      const result = await inner.invoke(functionName, event);
      const tasks = (result as { tasks?: unknown } | null)?.tasks;
      if (Array.isArray(tasks)) for (const t of tasks) reports.push(`${new Date().toISOString()} ${JSON.stringify(t)}`);
      return result;
    },
  });

  beforeAll(async () => {
    kafka = testKafka('ysb-offline');
    await prepareApp(kafka, testDynamo(), topology, table);

    const [lambdaPort, httpPort] = [await freePort(), await freePort()];
    const child = spawn(
      process.execPath,
      ['node_modules/osls/bin/serverless.js', 'offline', 'start', '--stage', slsStage, '--lambdaPort', String(lambdaPort), '--httpPort', String(httpPort), '--localEnvironment'],
      {
        // Its own process group, so afterAll ends offline and its children together.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          AWS_REGION: 'us-east-1',
          SLS_TELEMETRY_DISABLED: '1',
          // Read by serverless.yml (package time) and, through provider.environment, by the functions.
          SLUICE_YSB_APP: app,
          SLUICE_YSB_SOURCE_TOPIC: sourceTopic,
          SLUICE_KAFKA_BROKERS: testBrokers().join(','),
          // Reaches the functions through --localEnvironment.
          SLUICE_DYNAMODB_ENDPOINT: testDynamoEndpoint(),
          KAFKAJS_LOG_LEVEL: 'NOTHING',
        },
      },
    );
    offline = child;
    const state = { exited: false, output: () => log.slice(-4_000) };
    child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.once('exit', () => (state.exited = true));

    const endpoint = `http://127.0.0.1:${lambdaPort}`;
    const functionName = (stage: string): string => `sluice-ysb-${slsStage}-${stage}`;
    await waitForLambdaApi(endpoint, functionName('views'), state, 90_000);
    expect(log).toContain(`Sluice app "${app}"`);
    expect(log).toContain('Scheduling [ticker] cron: disabled');

    invoker = lambdaApiInvoker({ endpoint, functionName });
    run = new LocalRun({
      topology,
      kafka,
      brokers: testBrokers(),
      invoker: monitor.invoker(recording(invoker)),
      onInvocation: monitor.onInvocation,
      groupPrefix,
      batchSize: 500,
      tickIntervalMs: 500,
      taskTimes: new DynamoTaskStore(testDynamo(), table),
    });
    await run.start();
    // 12,000 events over 24 s of event time (3 windows, the first and last partial), Zipf-skewed, up to 1.5 s out of order.
    generated = await runGenerator(kafka, sourceTopic, { seed: 17, rate: 500, durationMs: 24_000, startTime: START, skew: 1, maxJitterMs: 1_500, partitions: 2 });
  }, 150_000);

  afterAll(async () => {
    await run?.stop();
    invoker?.close();
    if (offline) await stopProcessGroup(offline);
    await cleanupApp(kafka, testDynamo(), topology, table, groupPrefix).catch(() => undefined);
  }, 60_000);

  it('commits every campaign’s count of every window exactly once, equal to the oracle', async () => {
    expect(generated).toMatchObject({ events: 12_000, endOfStream: 2, perPartition: [6_000, 6_000] });
    const lastWindowEnd = Math.floor(generated.lastEventTime / WINDOW_MS) * WINDOW_MS + WINDOW_MS;
    await monitor.waitForWatermark('counts', lastWindowEnd - 1 + ALLOWED_LATENESS_MS, 90_000).catch((e: unknown) => {
      console.error(monitor.sample());
      console.error(log.slice(-4_000));
      throw e;
    });
    await run!.settle(1);

    const sink = await readToEnd(kafka, sinkTopic, { isolation: 'read_committed' });
    const results = sink.map((r) => JSON.parse(r.value!.toString()) as CampaignCount);
    const late = (await readToEnd(kafka, `${app}.counts.late`, { isolation: 'read_committed' })).map((r) => JSON.parse(r.value!.toString()) as CampaignView);
    const verdict = verifyCounts(generated.oracle.expected(), results, late);
    if (!verdict.ok || verdict.late > 0 || verdict.results !== verdict.expectedCounts) await printDiagnostics().catch((e: unknown) => console.error('diagnostics failed:', e));
    async function printDiagnostics(): Promise<void> {
      // Unexplained once (2026-12-05, Node 22): the last window missing. Everything needed to tell why.
      const perWindow = (starts: readonly number[]): Record<string, number> => {
        const out: Record<string, number> = {};
        for (const k of starts) out[String(k)] = (out[String(k)] ?? 0) + 1;
        return out;
      };
      const log = new KafkajsChangelogReader(kafka);
      const times = await new ChangelogTimesReader(new DynamoTaskStore(testDynamo(), table), log, topology)
        .readTimes(topology.stages.flatMap((s) => s.inputs.flatMap((i) => Array.from({ length: i.partitions }, (_, p) => taskRef(topology, s, i.topic, p)))))
        .finally(() => log.close());
      console.error(JSON.stringify({ generated: { lastEventTime: generated.lastEventTime, views: generated.views }, sinkPerWindow: perWindow(results.map((r) => r.window.start)), latePerWindow: perWindow(late.map((v) => Math.floor(v.event_time / WINDOW_MS) * WINDOW_MS)), monitor: monitor.sample() }, null, 1));
      for (const [id, t] of times) console.error(`checkpoint time ${id}: ${JSON.stringify(t)}`);
      console.error(reports.filter((r) => !r.includes('"received":0')).slice(-400).join('\n'));
    }

    expect({ duplicates: verdict.duplicates, missing: verdict.missing, wrong: verdict.wrong, unexpected: verdict.unexpected }).toEqual({ duplicates: [], missing: [], wrong: [], unexpected: [] });
    expect(verdict).toMatchObject({ ok: true, windows: 3, late: 0 });
    expect(verdict.results).toBe(verdict.expectedCounts);
    expect(results.reduce((n, r) => n + r.value, 0)).toBe(generated.views);
    for (const r of sink) expect(readProvenance(r.headers)?.task).toMatch(/^counts\.[0-3]$/);
    for (const stage of topology.stages) expect(await readToEnd(kafka, stage.deadLetterTopic, { isolation: 'read_committed' })).toEqual([]);
  });
});
