/**
 * A benchmark processor (child process): one Sluice pipeline run through LocalRun — the emulated
 * Lambda Kafka triggers of every stage input and control topic, the ticker, in-process stage
 * handlers — with the real adapters, built here instead of by lambdaPorts so their work is
 * counted:
 *
 *  - DynamoDB: a DynamoMetrics shared by every stage's store. A subclass also charges each
 *    request to the invocation that made it (AsyncLocalStorage), so the cost model can tell a
 *    data batch from a control batch and fit cost against batch size.
 *  - Kafka: the KafkaTxnSink counters (the stage functions' producers: `function`), and the
 *    requests of the emulated triggers' consumers (`trigger`, which on AWS are Lambda's pollers,
 *    not the function) and of the ticker, counted on the kafkajs client LocalRun gets.
 *
 * Started by bench/processors/node-processor.ts with the config as JSON in argv[2].
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import type { Kafka } from 'kafkajs';
import { stageHandler } from '../../framework/index.js';
import type { StagePorts } from '../../framework/index.js';
import { DynamoCheckpointStore, DynamoMetrics, type DynamoOperation } from '../../framework/dynamodb/checkpoint-store.js';
import { createDynamoClient } from '../../framework/dynamodb/client.js';
import { createTable } from '../../framework/dynamodb/table.js';
import { createKafka } from '../../framework/kafka/client.js';
import { KafkaTxnSink, newKafkaSinkCounters } from '../../framework/kafka/txn-sink.js';
import type { LambdaKafkaEvent } from '../../framework/lambda/event.js';
import { LocalRun } from '../../framework/local/dev.js';
import { inProcessInvoker, type Invoker } from '../../framework/local/esm/invoker.js';
import { benchTopology } from '../variants.js';
import type { InvocationSample, ProcessorStats, SluiceProcessorConfig } from './protocol.js';
import { onParent, toParent, WRITE_OPERATIONS, zeroOps } from './protocol.js';

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

/** A kafkajs client whose consumers, producers and admins count their requests under `role`. */
function countedKafka(kafka: Kafka, count: (role: string, api: string) => void): Kafka {
  const counted = Object.create(kafka) as Kafka;
  counted.consumer = (config) => {
    const c = kafka.consumer(config);
    c.on(c.events.REQUEST, (e) => count('trigger', e.payload.apiName));
    return c;
  };
  counted.producer = (config) => {
    const p = kafka.producer(config);
    p.on(p.events.REQUEST, (e) => count('ticker', e.payload.apiName));
    return p;
  };
  counted.admin = (config) => {
    const a = kafka.admin(config);
    a.on(a.events.REQUEST, (e) => count('admin', e.payload.apiName));
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
  const count = (role: string, api: string): void => {
    requestsByClient[role] = (requestsByClient[role] ?? 0) + 1;
    const k = `${role}:${api}`;
    requestsByApi[k] = (requestsByApi[k] ?? 0) + 1;
  };

  const dynamo = createDynamoClient({ endpoint: cfg.dynamodbEndpoint });
  await createTable(dynamo, cfg.table);

  // One set of adapters per stage, as each stage is its own Lambda function (container).
  const sinks: KafkaTxnSink[] = [];
  const connect = (): StagePorts => {
    const kafka = createKafka({ brokers: cfg.brokers, clientId: `sluice-${topology.app}`, logLevel: 'nothing' });
    const sink = new KafkaTxnSink(kafka, { transactionTimeoutMs: topology.settings.transactionTimeoutMs, counters: sinkCounters });
    sinks.push(sink);
    return { store: new DynamoCheckpointStore(dynamo, cfg.table, { metrics }), sink };
  };
  const handlers = Object.fromEntries(topology.stages.map((s) => [s.name, stageHandler(topology, s.name, { connect })]));
  const controlTopics = new Set(topology.stages.map((s) => s.controlTopic));

  let samples: InvocationSample[] = [];
  let failures = 0;
  const errors: string[] = [];
  let firstSent = false;
  const inner = inProcessInvoker(handlers);
  const invoker: Invoker = {
    async invoke(functionName: string, event: LambdaKafkaEvent): Promise<unknown> {
      const batches = Object.values(event.records);
      const topic = batches[0]?.[0]?.topic ?? '';
      const records = batches.reduce((n, b) => n + b.length, 0);
      if (!firstSent && topic === cfg.sourceTopic) {
        firstSent = true;
        void toParent({ type: 'first', at: Date.now() });
      }
      const cost: InvocationCost = { ddbRequests: 0, wru: 0, rru: 0 };
      const started = performance.now();
      let ok = false;
      try {
        const result = await charged.run(cost, () => inner.invoke(functionName, event));
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
    groupPrefix: `bench-${topology.app}`,
    onInvocation: (info) => {
      if (info.ok) return;
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
        transactions: sinkCounters.transactions,
        aborts: sinkCounters.aborts,
      },
      dynamo: { requests: { ...zeroOps(), ...metrics.requests }, estimatedUnits: { ...zeroOps(), ...metrics.estimatedCapacityUnits }, reportedUnits: { ...zeroOps(), ...metrics.capacityUnits } },
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

process.on('unhandledRejection', (error) => {
  void toParent({ type: 'fatal', message: `unhandled rejection: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}` });
});

main().catch(async (error: unknown) => {
  await toParent({ type: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
});
