/**
 * A benchmark processor (child process): one Sluice pipeline run through LocalRun — the emulated
 * Lambda Kafka triggers of every stage input and control topic, and the ticker — with the stage
 * functions either
 *
 *  - out of process (default, `invoker: 'process'`): processInvoker runs each container in a
 *    child process of its own and sends it one event at a time as JSON over a pipe, as the Lambda
 *    runtime does. This process is then what Lambda runs on AWS (pollers, event encoding); the
 *    containers are what the function bills. Each container is the bundled bench/processors/
 *    function.ts and reports its counters with every answer; or
 *  - in process (`invoker: 'in-process'`): inProcessInvoker's container pool in this process,
 *    counted by one FunctionMeter — the benchmark's earlier way, kept as the second line.
 *
 * Counted here: the requests of the emulated triggers' consumers (`trigger`, on AWS Lambda's
 * pollers) and of the ticker, and what the ticker wrote; per invocation its stage, kind, records,
 * time, DynamoDB work and (control) its ticks.
 *
 * Started by bench/processors/processor.ts with the config as JSON in argv[2].
 */
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { stageHandler } from '../../framework/index.js';
import { createTable } from '../../framework/dynamodb/table.js';
import { createKafka } from '../../framework/kafka/client.js';
import type { LambdaKafkaEvent } from '../../framework/lambda/event.js';
import { LocalRun } from '../../framework/local/dev.js';
import { inProcessInvoker, type Invoker } from '../../framework/local/esm/invoker.js';
import { processInvoker, type ProcessInvoker } from '../../framework/local/esm/process-invoker.js';
import { benchTopology } from '../variants.js';
import type { BenchFunctionResult } from './function.js';
import { combineCounters, costOf, countedKafka, FunctionMeter, zeroCounters, type FunctionCounters, type InvocationCost, type ProducerWrites } from './meter.js';
import type { FunctionProcesses, InvocationSample, ProcessorStats, SluiceProcessorConfig } from './protocol.js';
import { InputMeter, onParent, runProcessor, toParent } from './protocol.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** What an invocation cost. */
interface Answer {
  readonly cost: InvocationCost;
  readonly ms: number | undefined;
  readonly cpuMs: number | undefined;
}

/** The stage functions, however they run. */
interface Functions {
  /** Invokes one; resolves with its DynamoDB cost, handler time and CPU time (undefined when only the caller's wall time is known). */
  invoke(functionName: string, event: LambdaKafkaEvent): Promise<Answer>;
  counters(): FunctionCounters;
  containers(): Record<string, number>;
  processes(): FunctionProcesses | undefined;
  close(): Promise<void>;
}

function inProcessFunctions(cfg: SluiceProcessorConfig): Functions {
  const topology = benchTopology(cfg);
  const meter = new FunctionMeter(cfg, topology);
  const pool = inProcessInvoker(Object.fromEntries(topology.stages.map((s) => [s.name, () => stageHandler(topology, s.name, { connect: meter.connect })])));
  return {
    async invoke(functionName, event) {
      const cost: InvocationCost = { ddbRequests: 0, wru: 0, rru: 0 };
      await meter.charge(cost, () => pool.invoke(functionName, event));
      return { cost, ms: undefined, cpuMs: undefined };
    },
    counters: () => meter.counters(),
    containers: () => ({ ...pool.containers }),
    processes: () => undefined,
    close: () => meter.close(),
  };
}

const FUNCTION_MODULE = fileURLToPath(new URL('./function.ts', import.meta.url));

function outOfProcessFunctions(cfg: SluiceProcessorConfig): Functions {
  const topology = benchTopology(cfg);
  let totals = zeroCounters();
  // The platformatic sink is loaded from the sources (bundles hold kafkajs's only): those containers run function.ts under tsx.
  const script = cfg.kafkaClient === 'platformatic' ? undefined : cfg.functionScript;
  const pool: ProcessInvoker = processInvoker({
    functions: Object.fromEntries(
      topology.stages.map((s) => [
        s.name,
        {
          ...(script ? { script } : { handler: { module: FUNCTION_MODULE, exportName: 'handler' } }),
          env: { SLUICE_STAGE: s.name, SLUICE_BENCH_FUNCTION: JSON.stringify(cfg), KAFKAJS_NO_PARTITIONER_WARNING: '1' },
        },
      ]),
    ),
  });
  return {
    async invoke(functionName, event) {
      const answer = (await pool.invoke(functionName, event)) as BenchFunctionResult;
      totals = combineCounters(totals, answer.counters);
      return { cost: costOf(answer.counters), ms: answer.ms, cpuMs: answer.cpuMs };
    },
    counters: () => totals,
    containers: () => ({ ...pool.containers }),
    processes() {
      const usage = pool.usage();
      return {
        cpuMs: usage.reduce((n, u) => n + u.cpuMs, 0),
        maxRssBytes: Math.max(0, ...usage.map((u) => u.maxRssBytes)),
        containers: usage.length,
        meanInitMs: usage.length === 0 ? 0 : usage.reduce((n, u) => n + u.initMs, 0) / usage.length,
      };
    },
    close: () => pool.close(),
  };
}

/** Tick records among a control event's records (`{"tick": …}` values); the rest are marks. */
function ticksIn(event: LambdaKafkaEvent): number {
  let ticks = 0;
  for (const batch of Object.values(event.records)) {
    for (const r of batch) {
      try {
        const v = JSON.parse(Buffer.from(r.value ?? '', 'base64').toString('utf8')) as Record<string, unknown>;
        if (typeof v === 'object' && v !== null && 'tick' in v) ticks += 1;
      } catch {
        // not a JSON control record: counted as other
      }
    }
  }
  return ticks;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '') as SluiceProcessorConfig;
  const topology = benchTopology(cfg);
  const requestsByClient: Record<string, number> = {};
  const requestsByApi: Record<string, number> = {};
  const kafkaMs: Record<string, number> = {};
  const count = (role: string, api: string, ms: number): void => {
    const k = `${role}:${api}`;
    requestsByClient[role] = (requestsByClient[role] ?? 0) + 1;
    requestsByApi[k] = (requestsByApi[k] ?? 0) + 1;
    kafkaMs[k] = (kafkaMs[k] ?? 0) + ms;
  };
  const ticker: ProducerWrites = { sends: 0, records: 0, connects: 0, sendMs: 0, connectMs: 0 };

  const tickerMeter = new FunctionMeter(cfg, topology);
  await createTable(tickerMeter.dynamo, cfg.table);
  const functions = cfg.invoker === 'in-process' ? inProcessFunctions(cfg) : outOfProcessFunctions(cfg);
  const controlTopics = new Set(topology.stages.map((s) => s.controlTopic));

  let samples: InvocationSample[] = [];
  let failures = 0;
  const errors: string[] = [];
  const meter = new InputMeter(cfg.warmupRecords);
  const invoker: Invoker = {
    async invoke(functionName: string, event: LambdaKafkaEvent): Promise<unknown> {
      const batches = Object.values(event.records);
      const topic = batches[0]?.[0]?.topic ?? '';
      const records = batches.reduce((n, b) => n + b.length, 0);
      if (topic === cfg.sourceTopic) {
        for (const b of batches) if (b.length > 0) meter.taken(b[0]!.partition, Number(b[0]!.offset), Number(b[b.length - 1]!.offset));
      }
      const control = controlTopics.has(topic);
      const started = performance.now();
      let answer: Answer | undefined;
      try {
        answer = await functions.invoke(functionName, event);
        return null;
      } finally {
        samples.push({
          stage: functionName,
          kind: control ? 'control' : 'data',
          records,
          ms: answer?.ms ?? performance.now() - started,
          ...(answer?.cpuMs !== undefined ? { cpuMs: answer.cpuMs } : {}),
          ok: answer !== undefined,
          at: Date.now(),
          ...(answer?.cost ?? { ddbRequests: 0, wru: 0, rru: 0 }),
          ...(control ? { ticks: ticksIn(event) } : {}),
        });
      }
    },
  };

  const kafka = createKafka({ brokers: cfg.brokers, clientId: `bench-esm-${topology.app}`, logLevel: 'nothing' });
  const run = new LocalRun({
    topology,
    // LocalRun's producers are the ticker's (the triggers' on-failure producer is not used here).
    kafka: countedKafka(kafka, count, 'ticker', ticker),
    brokers: cfg.brokers,
    invoker,
    batchSize: cfg.batchSize,
    batchingWindowMs: cfg.batchingWindowMs,
    internalBatchingWindowMs: cfg.internalBatchingWindowMs,
    tickIntervalMs: cfg.tickIntervalMs,
    // The ticker reads the checkpoints through a store of its own, so its reads are counted apart.
    // With commit: 'changelog' LocalRun reads the tasks' changelogs too.
    taskTimes: tickerMeter.store(),
    groupPrefix: `bench-${topology.app}`,
    onInvocation: (info) => {
      if (info.ok || info.part !== 0) return; // a bundled invocation reports once per partition
      failures += 1;
      const message = info.error instanceof Error ? info.error.message : String(info.error);
      errors.push(`${info.functionName} ${info.topic}-${info.partition}@${info.firstOffset}: ${message.slice(0, 300)}`);
      if (errors.length > 10) errors.shift();
    },
  });

  const stats = (): ProcessorStats => {
    const taken = samples;
    samples = [];
    const fn = functions.counters();
    const t = tickerMeter.counters();
    // The deployment's DynamoDB work: the functions' and the ticker's reads of checkpoints.
    const f = combineCounters(fn, t);
    const processes = functions.processes();
    return {
      kafka: {
        requestsByClient: { ...requestsByClient, function: f.kafka.requests },
        requestsByApi: { ...requestsByApi, ...Object.fromEntries(Object.entries(f.kafka.requestsByApi).map(([api, n]) => [`function:${api}`, n])) },
        containers: functions.containers(),
        waitMs: { ...kafkaMs, ...f.kafka.waitMs },
        transactions: f.kafka.transactions,
        aborts: f.kafka.aborts,
      },
      dynamo: { requests: f.dynamo.requests, estimatedUnits: f.dynamo.estimatedUnits, reportedUnits: f.dynamo.reportedUnits, waitMs: f.dynamo.waitMs },
      ...(processes ? { functions: processes } : {}),
      ticker: {
        ...ticker,
        ...run.tickerStats,
        dynamoRequests: Object.values(t.dynamo.requests).reduce((a, b) => a + b, 0),
        readUnits: costOf(t).rru,
        readMs: Object.values(t.dynamo.waitMs).reduce((a, b) => a + b, 0),
      },
      invocations: taken,
      failures,
      errors: [...errors],
    };
  };

  onParent((message) => {
    if (message.type === 'stats') void toParent({ type: 'stats', stats: stats() });
    if (message.type === 'settle') {
      void run.settle(2, 300_000).then(
        () => toParent({ type: 'settled' }),
        (error: unknown) => toParent({ type: 'fatal', message: `the triggers did not catch up: ${error instanceof Error ? error.message : String(error)}` }),
      );
    }
    if (message.type === 'stop') {
      void (async () => {
        await run.stop();
        const final = stats();
        await functions.close();
        await tickerMeter.close();
        await toParent({ type: 'stats', stats: final });
        process.exit(0);
      })();
    }
  });

  await run.start();
  await toParent({ type: 'ready' });
}

runProcessor(main);
