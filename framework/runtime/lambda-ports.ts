/**
 * Builds a stage's real adapters (kafkajs producer, DynamoDB store) inside Lambda or the
 * local emulator, from the environment the deploy plugin sets:
 *   SLUICE_TABLE             the app's DynamoDB table (required)
 *   SLUICE_KAFKA_BROKERS     comma-separated brokers (default: the event's bootstrapServers)
 *   SLUICE_DYNAMODB_ENDPOINT DynamoDB endpoint override (DynamoDB Local)
 *   SLUICE_KAFKA_CLIENT      kafkajs (default) | platformatic: the commit protocol's Kafka client (kafka/client-choice.ts)
 *   SLUICE_SOURCE_STARTS     where the stage's source triggers start, for its backlog probe (source-starts.ts)
 */
import { DynamoTaskStore } from '../dynamodb/task-store.js';
import { createDynamoClient } from '../dynamodb/client.js';
import { ConfigError } from '../errors.js';
import { createKafka } from '../kafka/client.js';
import { kafkaAuthFromEnv } from '../kafka/auth.js';
import { createPlatformaticTxnSink, kafkaClientName, type KafkaClientName } from '../kafka/client-choice.js';
import { KafkajsChangelogReader } from '../kafka/changelog-reader.js';
import { KafkaBacklogProbe } from '../kafka/backlog-probe.js';
import { sourceStartsFromEnv, type SourceStarts } from './source-starts.js';
import { KafkaTxnSink } from '../kafka/txn-sink.js';
import type { Topology } from '../topology/topology.js';
import type { Pipeline } from '../dsl/pipeline.js';
import { compile } from '../topology/compile.js';
import type { StagePorts } from './handler.js';

/** Settings of the real adapters; every field falls back to the environment. */
export interface LambdaPortsOptions {
  readonly table?: string;
  readonly brokers?: readonly string[];
  readonly dynamodbEndpoint?: string;
  /** The commit protocol's Kafka client (default: SLUICE_KAFKA_CLIENT, else kafkajs). */
  readonly kafkaClient?: KafkaClientName;
  /** Where the source triggers start (default: SLUICE_SOURCE_STARTS). */
  readonly sourceStarts?: SourceStarts;
  readonly env?: NodeJS.ProcessEnv;
}

/** A `connect` function for `stageHandler` that builds Kafka and DynamoDB adapters once per container. */
export function lambdaPorts(source: Pipeline | Topology, options: LambdaPortsOptions = {}): (bootstrapServers: readonly string[]) => Promise<StagePorts> {
  const topology = 'stages' in source ? source : compile(source.plan());
  const env = options.env ?? process.env;
  return async (bootstrapServers) => {
    const table = options.table ?? env.SLUICE_TABLE;
    if (!table) throw new ConfigError('no DynamoDB table configured', { field: 'SLUICE_TABLE' }, 'set SLUICE_TABLE (the deploy plugin does) or pass { table }');
    const brokers = options.brokers ?? (env.SLUICE_KAFKA_BROKERS ? env.SLUICE_KAFKA_BROKERS.split(',') : bootstrapServers);
    if (brokers.length === 0) throw new ConfigError('no Kafka brokers known', { field: 'SLUICE_KAFKA_BROKERS' }, 'the event carried no bootstrapServers; set SLUICE_KAFKA_BROKERS');
    const endpoint = options.dynamodbEndpoint ?? env.SLUICE_DYNAMODB_ENDPOINT;
    const client = kafkaClientName(options.kafkaClient ?? env.SLUICE_KAFKA_CLIENT);
    const clientId = `sluice-${topology.app}`;
    const auth = await kafkaAuthFromEnv(env);
    const transactionTimeoutMs = topology.settings.transactionTimeoutMs;
    const dynamo = createDynamoClient(endpoint ? { endpoint } : {});
    const kafka = createKafka({ brokers, clientId, ...auth });
    return {
      store: new DynamoTaskStore(dynamo, table),
      sink: client === 'platformatic' ? await createPlatformaticTxnSink({ brokers, clientId, auth }, { transactionTimeoutMs }) : new KafkaTxnSink(kafka, { transactionTimeoutMs }),
      // kafkajs whichever client commits: a source task asks only at its idle deadline.
      backlog: new KafkaBacklogProbe(kafka, { starts: options.sourceStarts ?? sourceStartsFromEnv(env) }),
      // kafkajs whichever client commits; connects on first use (pipelines that commit through a changelog).
      log: new KafkajsChangelogReader(kafka),
    };
  };
}
