/**
 * What an operations command talks to: the compiled pipeline, the Kafka brokers and the app's
 * DynamoDB table. Resolving the connection is pure (flags, then environment, then the local
 * infrastructure's defaults); reaching it fails with an error naming what and what to do.
 */
import { DescribeTableCommand, ResourceNotFoundException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Admin, Kafka } from 'kafkajs';
import { createDynamoClient } from '../dynamodb/client.js';
import { createKafka } from '../kafka/client.js';
import { dynamodbEndpoint, kafkaBrokers, loadInfraConfig, type InfraConfig } from '../local/infra/config.js';
import type { Topology } from '../topology/topology.js';
import { OpsError } from './errors.js';

/** Connection settings as given on the command line (all optional). */
export interface ConnectionFlags {
  /** Comma-separated bootstrap servers. */
  readonly brokers?: string;
  readonly table?: string;
  /** A URL, or `aws` for the SDK's default endpoint and region chain. */
  readonly dynamodbEndpoint?: string;
  readonly region?: string;
}

/** Where the pipeline's Kafka and DynamoDB are. */
export interface Connection {
  readonly brokers: readonly string[];
  readonly table: string;
  /** undefined = AWS (the SDK's default endpoint). */
  readonly dynamodbEndpoint: string | undefined;
  readonly region: string | undefined;
}

/**
 * Resolves the connection: a flag wins over the environment (SLUICE_KAFKA_BROKERS, SLUICE_TABLE,
 * SLUICE_DYNAMODB_ENDPOINT, AWS_REGION), which wins over the local infrastructure's broker and
 * DynamoDB Local. The table has no default: it is named by the deployment.
 */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env, infra?: InfraConfig): Connection {
  const table = flags.table ?? env.SLUICE_TABLE;
  if (!table) {
    throw new OpsError('SLUICE_OPS_NO_TABLE', 'no DynamoDB table given', { field: 'table' }, 'pass --table <name> or set SLUICE_TABLE to the app\'s table');
  }
  const brokerList = flags.brokers ?? env.SLUICE_KAFKA_BROKERS;
  const local = (): InfraConfig => infra ?? loadInfraConfig(env);
  const brokers = brokerList ? brokerList.split(',').map((b) => b.trim()).filter((b) => b !== '') : kafkaBrokers(local());
  if (brokers.length === 0) throw new OpsError('SLUICE_OPS_KAFKA_UNREACHABLE', 'the broker list is empty', { field: 'brokers' }, 'pass --brokers host:port[,host:port]');
  const endpoint = flags.dynamodbEndpoint ?? env.SLUICE_DYNAMODB_ENDPOINT ?? dynamodbEndpoint(local());
  const region = flags.region ?? env.AWS_REGION;
  return { brokers, table, dynamodbEndpoint: endpoint === 'aws' ? undefined : endpoint, region };
}

/** An open connection to one pipeline's infrastructure. */
export interface OpsTarget {
  readonly topology: Topology;
  readonly connection: Connection;
  readonly kafka: Kafka;
  readonly dynamo: DynamoDBClient;
  readonly table: string;
}

/** Builds the clients (connects lazily). Operations tools fail fast: few retries, short timeouts. */
export function openTarget(topology: Topology, connection: Connection): OpsTarget {
  const kafka = createKafka({ brokers: connection.brokers, clientId: `sluice-ops-${topology.app}`, logLevel: 'nothing', retries: 2, connectionTimeoutMs: 3_000 });
  const dynamo = createDynamoClient({
    ...(connection.dynamodbEndpoint !== undefined ? { endpoint: connection.dynamodbEndpoint } : {}),
    ...(connection.region !== undefined ? { region: connection.region } : {}),
    maxAttempts: 2,
  });
  return { topology, connection, kafka, dynamo, table: connection.table };
}

/** Releases the target's clients. */
export function closeTarget(target: OpsTarget): void {
  target.dynamo.destroy();
}

/** Checks that the table exists; throws OpsError naming the table and endpoint otherwise. */
export async function checkTable(target: OpsTarget): Promise<void> {
  const where = target.connection.dynamodbEndpoint ?? 'AWS';
  try {
    await target.dynamo.send(new DescribeTableCommand({ TableName: target.table }));
  } catch (err) {
    if (err instanceof ResourceNotFoundException) {
      throw new OpsError(
        'SLUICE_OPS_TABLE_MISSING',
        `DynamoDB table "${target.table}" does not exist at ${where}`,
        { field: 'table' },
        'check --table / SLUICE_TABLE and --dynamodb-endpoint; the table is created when the app is deployed (or by createTable() in tests)',
        { cause: err },
      );
    }
    throw new OpsError(
      'SLUICE_OPS_DYNAMODB_UNREACHABLE',
      `cannot reach DynamoDB at ${where}: ${describe(err)}`,
      { field: 'dynamodbEndpoint' },
      target.connection.dynamodbEndpoint === undefined
        ? 'check AWS credentials and region (AWS_REGION / --region)'
        : 'is DynamoDB Local up? `npx sluice infra up` starts it; or pass --dynamodb-endpoint',
      { cause: err },
    );
  }
}

/** A connected Kafka admin client; throws OpsError naming the brokers when none answers. Disconnect it after use. */
export async function connectAdmin(target: OpsTarget): Promise<Admin> {
  const admin = target.kafka.admin();
  try {
    await admin.connect();
    // connect() alone may succeed lazily; a metadata request proves a broker answers.
    await admin.listTopics();
  } catch (err) {
    await admin.disconnect().catch(() => undefined);
    throw kafkaUnreachable(target, err);
  }
  return admin;
}

/** The error for brokers that do not answer. */
export function kafkaUnreachable(target: OpsTarget, err: unknown): OpsError {
  return new OpsError(
    'SLUICE_OPS_KAFKA_UNREACHABLE',
    `cannot reach Kafka at ${target.connection.brokers.join(',')}: ${describe(err)}`,
    { field: 'brokers' },
    'is the broker up? `npx sluice infra up` starts the local one; or pass --brokers / set SLUICE_KAFKA_BROKERS',
    { cause: err },
  );
}

/** `Name: message` of an error, following a kafkajs retry wrapper to its cause. */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { originalError?: unknown }).originalError ?? err.cause;
  const base = `${err.name}: ${err.message}`;
  return cause instanceof Error && cause.message !== err.message ? `${base} (${cause.name}: ${cause.message})` : base;
}
