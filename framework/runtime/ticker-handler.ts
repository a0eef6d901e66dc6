/**
 * The ticker's Lambda handler, run by an EventBridge schedule (once a minute by default). Each
 * run reads the checkpoints of the tasks that may need waking and ticks only those that are due
 * (ticker.ts). Environment, set by the deploy plugin:
 *   SLUICE_KAFKA_BROKERS      brokers (a scheduled function gets no Kafka event to learn them from)
 *   SLUICE_TABLE              the app's DynamoDB table (read only: checkpoints; with commit: 'changelog'
 *                             the changelogs after them too)
 *   SLUICE_DYNAMODB_ENDPOINT  endpoint override (DynamoDB Local, LocalStack)
 *   SLUICE_TICK_INTERVAL_MS   time between passes within a run (default: one pass per run)
 *   SLUICE_TICK_DURATION_MS   how long a run keeps passing (default 0)
 */
import type { Pipeline } from '../dsl/pipeline.js';
import { createDynamoClient } from '../dynamodb/client.js';
import { DynamoTaskStore } from '../dynamodb/task-store.js';
import { createKafka } from '../kafka/client.js';
import { kafkaAuthFromEnv } from '../kafka/auth.js';
import { KafkaTickWriter } from '../kafka/tick-writer.js';
import { KafkajsChangelogReader } from '../kafka/changelog-reader.js';
import { taskTimesReader } from '../commit/changelog-times.js';
import { ConfigError } from '../errors.js';
import { compile } from '../topology/compile.js';
import type { Topology } from '../topology/topology.js';
import { runTicker, type TickerReport } from '../time/ticker.js';

/** Builds the ticker handler of a pipeline. */
export function tickerHandler(source: Pipeline | Topology, env: NodeJS.ProcessEnv = process.env): () => Promise<TickerReport> {
  const topology = 'stages' in source ? source : compile(source.plan());
  let store: DynamoTaskStore | undefined;
  return async () => {
    const brokers = env.SLUICE_KAFKA_BROKERS?.split(',').filter(Boolean) ?? [];
    if (brokers.length === 0) throw new ConfigError('the ticker needs SLUICE_KAFKA_BROKERS', { field: 'SLUICE_KAFKA_BROKERS' }, 'the deploy plugin sets it from custom.sluice.kafka');
    const table = env.SLUICE_TABLE;
    if (!table) throw new ConfigError('the ticker needs SLUICE_TABLE', { field: 'SLUICE_TABLE' }, 'the deploy plugin sets it to the app table');
    const endpoint = env.SLUICE_DYNAMODB_ENDPOINT;
    store ??= new DynamoTaskStore(createDynamoClient(endpoint ? { endpoint } : {}), table);
    const kafka = createKafka({ brokers, clientId: `sluice-${topology.app}-ticker`, ...(await kafkaAuthFromEnv(env)) });
    const writer = new KafkaTickWriter(kafka);
    const log = new KafkajsChangelogReader(kafka);
    const times = taskTimesReader(topology, store, () => log);
    try {
      return await runTicker(times, writer, topology, { intervalMs: Number(env.SLUICE_TICK_INTERVAL_MS ?? 0), durationMs: Number(env.SLUICE_TICK_DURATION_MS ?? 0) });
    } finally {
      await log.close();
    }
  };
}
