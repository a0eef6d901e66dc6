/**
 * A benchmark processor (child process): one Sluice pipeline run through LocalRun — the emulated
 * Lambda Kafka triggers of every stage input and control topic, the ticker, in-process stage
 * handlers — with the real adapters, built here instead of by lambdaPorts so their work is
 * counted:
 *
 *  - DynamoDB: a DynamoMetrics shared by every stage's store. A subclass also charges each
 *    request to the invocation that made it (AsyncLocalStorage), so the cost model can tell a
 *    data batch from a control batch and fit cost against batch size.
 *  - Kafka: the sink counters (the stage functions' producers: `function`; KafkaTxnSink, or
 *    PlatformaticTxnSink when the config says kafkaClient: 'platformatic'), and the
 *    requests of the emulated triggers' consumers (`trigger`, which on AWS are Lambda's pollers,
 *    not the function) and of the ticker, counted on the kafkajs client LocalRun gets.
 *
 * Invocations go to a pool of handler instances per stage, each serving one invocation at a
 * time, as Lambda containers do: a warm instance is reused, a busy one never gets a second
 * invocation, and concurrent invocations (several partitions, or a task's data and control
 * triggers at once) get their own instance with its own producers and caches — a cold start.
 *
 * Started by bench/processors/processor.ts with the config as JSON in argv[2].
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import type { Kafka } from 'kafkajs';
import { stageHandler } from '../../framework/index.js';
import type { StagePorts } from '../../framework/index.js';
import { DynamoMetrics, DynamoTaskStore, type DynamoOperation } from '../../framework/dynamodb/task-store.js';
import { createDynamoClient } from '../../framework/dynamodb/client.js';
import { createTable } from '../../framework/dynamodb/table.js';
import { createKafka } from '../../framework/kafka/client.js';
import { createPlatformaticTxnSink } from '../../framework/kafka/client-choice.js';
import { KafkaTxnSink } from '../../framework/kafka/txn-sink.js';
import { newKafkaSinkCounters } from '../../framework/kafka/sink-counters.js';
import type { LambdaKafkaEvent } from '../../framework/lambda/event.js';
import { LocalRun } from '../../framework/local/dev.js';
import { inProcessInvoker, type Invoker } from '../../framework/local/esm/invoker.js';
import { benchTopology } from '../variants.js';
import type { InvocationSample, ProcessorStats, SluiceProcessorConfig } from './protocol.js';
import { InputMeter, onParent, runProcessor, toParent, WRITE_OPERATIONS, zeroOps } from './protocol.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** DynamoDB work of one invocation. */
interface InvocationCost {
  ddbRequests: number;
  wru: number;
  rru: number;
}

const charged = new AsyncLocalStorage<InvocationCost>();

/** DynamoMetrics that also charges each request to the invocation it was made in. */
class ChargedDynamoMetrics extends DynamoMetrics {
  override record(op: DynamoOperation, consumed: ConsumedCapacity | ConsumedCapacity[] | undefined, estimated = 0): void {
    super.record(op, consumed, estimated);
    const cost = charged.getStore();
    if (!cost) return;
    cost.ddbRequests += 1;
    if (WRITE_OPERATIONS.includes(op)) cost.wru += estimated;
    else cost.rru += estimated;
  }
}

/** A kafkajs client whose consumers, producers and admins report each request (role, API, ms) to `count`. */
function countedKafka(kafka: Kafka, count: (role: string, api: string, ms: number) => void, producerRole = 'ticker'): Kafka {
  const counted = Object.create(kafka) as Kafka;
  counted.consumer = (config) => {
    const c = kafka.consumer(config);
    c.on(c.events.REQUEST, (e) => count('trigger', e.payload.apiName, e.payload.duration));
    return c;
  };
  counted.producer = (config) => {
    const p = kafka.producer(config);
    p.on(p.events.REQUEST, (e) => count(producerRole, e.payload.apiName, e.payload.duration));
    return p;
  };
  counted.admin = (config) => {
    const a = kafka.admin(config);
    a.on(a.events.REQUEST, (e) => count('admin', e.payload.apiName, e.payload.duration));
    return a;
  };
  return counted;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '') as SluiceProcessorConfig;
  const topology = benchTopology(cfg);
  const metrics = new ChargedDynamoMetrics();
  const sinkCounters = newKafkaSinkCounters();
  const requestsByClient: Record<string, number> = {};
  const requestsByApi: Record<string, number> = {};
  const kafkaMs: Record<string, number> = {};
  const count = (role: string, api: string, ms: number): void => {
    const k = `${role}:${api}`;
    if (role === 'function') {
      // The sink counts its own requests; only the time is taken here.
      kafkaMs[k] = (kafkaMs[k] ?? 0) + ms;
      return;
    }
    requestsByClient[role] = (requestsByClient[role] ?? 0) + 1;
    requestsByApi[k] = (requestsByApi[k] ?? 0) + 1;
    kafkaMs[k] = (kafkaMs[k] ?? 0) + ms;
  };

  const dynamo = createDynamoClient({ endpoint: cfg.dynamodbEndpoint });
  // Time spent waiting on DynamoDB, per operation (the calls of concurrent invocations overlap).
  const dynamoMs: Record<string, number> = {};
  dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        const op = String(context.commandName ?? 'unknown').replace(/Command$/, '');
        dynamoMs[op] = (dynamoMs[op] ?? 0) + performance.now() - started;
      }
    },
    { step: 'initialize', name: 'benchTiming' },
  );
  await createTable(dynamo, cfg.table);

  // One set of adapters per stage, as each stage is its own Lambda function (container).
  const sinks: Array<{ close(): Promise<void> }> = [];
  const connect = async (): Promise<StagePorts> => {
    const transactionTimeoutMs = topology.settings.transactionTimeoutMs;
    const clientId = `sluice-${topology.app}`;
    // The platformatic sink counts its own requests (no per-request times: waitMs has kafkajs's only).
    const sink =
      cfg.kafkaClient === 'platformatic'
        ? await createPlatformaticTxnSink({ brokers: cfg.brokers, clientId }, { transactionTimeoutMs, counters: sinkCounters })
        : new KafkaTxnSink(countedKafka(createKafka({ brokers: cfg.brokers, clientId, logLevel: 'nothing' }), count, 'function'), { transactionTimeoutMs, counters: sinkCounters });
    sinks.push(sink);
    return { store: new DynamoTaskStore(dynamo, cfg.table, { metrics }), sink };
  };
  const pool = inProcessInvoker(Object.fromEntries(topology.stages.map((s) => [s.name, () => stageHandler(topology, s.name, { connect })])));
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
      const cost: InvocationCost = { ddbRequests: 0, wru: 0, rru: 0 };
      const started = performance.now();
      let ok = false;
      try {
        const result = await charged.run(cost, () => pool.invoke(functionName, event));
        ok = true;
        return result;
      } finally {
        samples.push({
          stage: functionName,
          kind: controlTopics.has(topic) ? 'control' : 'data',
          records,
          ms: performance.now() - started,
          ok,
          at: Date.now(),
          ...cost,
        });
      }
    },
  };

  const kafka = createKafka({ brokers: cfg.brokers, clientId: `bench-esm-${topology.app}`, logLevel: 'nothing' });
  const run = new LocalRun({
    topology,
    kafka: countedKafka(kafka, count),
    brokers: cfg.brokers,
    invoker,
    batchSize: cfg.batchSize,
    batchingWindowMs: cfg.batchingWindowMs,
    tickIntervalMs: cfg.tickIntervalMs,
    taskTimes: new DynamoTaskStore(dynamo, cfg.table, { metrics }),
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
    return {
      kafka: {
        requestsByClient: { ...requestsByClient, function: sinkCounters.requests },
        requestsByApi: { ...requestsByApi, ...Object.fromEntries(Object.entries(sinkCounters.requestsByApi).map(([api, n]) => [`function:${api}`, n])) },
        containers: { ...pool.containers },
        waitMs: { ...kafkaMs },
        transactions: sinkCounters.transactions,
        aborts: sinkCounters.aborts,
      },
      dynamo: {
        requests: { ...zeroOps(), ...metrics.requests },
        estimatedUnits: { ...zeroOps(), ...metrics.estimatedCapacityUnits },
        reportedUnits: { ...zeroOps(), ...metrics.capacityUnits },
        waitMs: { ...dynamoMs },
      },
      invocations: taken,
      failures,
      errors: [...errors],
    };
  };

  onParent((message) => {
    if (message.type === 'stats') void toParent({ type: 'stats', stats: stats() });
    if (message.type === 'stop') {
      void (async () => {
        await run.stop();
        await Promise.all(sinks.map((s) => s.close().catch(() => undefined)));
        await toParent({ type: 'stats', stats: stats() });
        process.exit(0);
      })();
    }
  });

  await run.start();
  await toParent({ type: 'ready' });
}

runProcessor(main);
