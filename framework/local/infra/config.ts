/**
 * Where the local infrastructure lives and which ports it uses. Plain data so tests can
 * build a variant (another state dir, another port) without touching the environment.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InfraError } from '../../errors.js';

/**
 * Kafka broker versions Sluice is tested on (see docs/local-infra.md): the 4.1 line Amazon MSK
 * offers for new clusters (the default), and 3.9, the last 3.x line. Any 3.x or 4.x version
 * from Maven Central can be asked for with SLUICE_KAFKA_VERSION; these two run in CI.
 */
export const KAFKA_VERSIONS = ['4.1.1', '3.9.2'] as const;
/** The broker version used unless SLUICE_KAFKA_VERSION says otherwise. */
export const KAFKA_VERSION = '4.1.1';
/** Major version of a Kafka version string (3 or 4 are supported). */
export function kafkaMajor(version: string): number {
  return Number(version.split('.')[0]);
}
/** DynamoDB Local version (com.amazonaws:DynamoDBLocal; 3.x is not fetchable from Maven Central). */
export const DYNAMODB_LOCAL_VERSION = '2.6.1';

/** The services `infra up` starts unless told otherwise. */
export type DefaultServiceName = 'kafka' | 'dynamodb';
/** The local services. */
export type ServiceName = DefaultServiceName | 'localstack';
/** The services `infra up` starts unless told otherwise, in start order. */
export const SERVICES: readonly DefaultServiceName[] = ['kafka', 'dynamodb'];
/** Every service, including those started only on request (LocalStack: `sluice infra up localstack`). */
export const ALL_SERVICES: readonly ServiceName[] = ['kafka', 'dynamodb', 'localstack'];
/** The localstack-core release run by the LocalStack service (the last one on PyPI). */
export const LOCALSTACK_VERSION = '2026.3.0';

/** Everything the infra code needs to know about paths and ports. */
export interface InfraConfig {
  /** State root, `.sluice/` of the project unless SLUICE_HOME says otherwise. */
  readonly home: string;
  /** Jar cache: `<home>/jars`. */
  readonly jarsDir: string;
  /** Pid files, configs, data and logs of running services: `<home>/infra`. */
  readonly runDir: string;
  /** The pom.xml that fetches the jars (ships with the framework). */
  readonly pomFile: string;
  readonly kafka: {
    readonly port: number;
    readonly controllerPort: number;
    /** Broker version (SLUICE_KAFKA_VERSION, default KAFKA_VERSION). */
    readonly version: string;
    /**
     * `transaction.version` feature the cluster is formatted with (SLUICE_KAFKA_TRANSACTION_VERSION);
     * undefined = the version's default (4.x: 2, KIP-890's server-side defence; 3.9: 0).
     */
    readonly transactionVersion?: number | undefined;
    /** Extra or overriding server.properties (tests: e.g. a retention check every second). */
    readonly serverProperties?: Readonly<Record<string, string | number>>;
  };
  readonly dynamodb: { readonly port: number };
  /** LocalStack's edge port (every AWS API it serves). */
  readonly localstack: { readonly port: number };
}

/** Environment variable for each port, named in errors so users know what to change. */
export const PORT_ENV = {
  kafka: 'SLUICE_KAFKA_PORT',
  kafkaController: 'SLUICE_KAFKA_CONTROLLER_PORT',
  dynamodb: 'SLUICE_DYNAMODB_PORT',
  localstack: 'SLUICE_LOCALSTACK_PORT',
} as const;

/** Environment variables that choose the local broker's version and transaction protocol. */
export const KAFKA_ENV = {
  version: 'SLUICE_KAFKA_VERSION',
  transactionVersion: 'SLUICE_KAFKA_TRANSACTION_VERSION',
} as const;

/** Root of the Sluice package itself (where infra/local/pom.xml is). */
export const packageRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Reads the infra configuration from the environment (defaults: 19092, 19093, 18000, LocalStack 4566). */
export function loadInfraConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): InfraConfig {
  const home = env.SLUICE_HOME ? resolve(cwd, env.SLUICE_HOME) : join(projectRoot(cwd), '.sluice');
  const config: InfraConfig = {
    home,
    jarsDir: join(home, 'jars'),
    runDir: join(home, 'infra'),
    pomFile: join(packageRoot, 'infra/local/pom.xml'),
    kafka: {
      port: readPort(env, PORT_ENV.kafka, 19092),
      controllerPort: readPort(env, PORT_ENV.kafkaController, 19093),
      version: readKafkaVersion(env),
      transactionVersion: readTransactionVersion(env),
    },
    dynamodb: { port: readPort(env, PORT_ENV.dynamodb, 18000) },
    localstack: { port: readPort(env, PORT_ENV.localstack, 4566) },
  };
  const ports = [config.kafka.port, config.kafka.controllerPort, config.dynamodb.port, config.localstack.port];
  if (new Set(ports).size !== ports.length) {
    throw new InfraError(
      `Ports must differ: Kafka ${ports[0]}, Kafka controller ${ports[1]}, DynamoDB ${ports[2]}, LocalStack ${ports[3]}`,
      `set ${PORT_ENV.kafka}, ${PORT_ENV.kafkaController}, ${PORT_ENV.dynamodb} and ${PORT_ENV.localstack} to different ports`,
    );
  }
  return config;
}

/** Bootstrap servers of the local broker. */
export function kafkaBrokers(config: InfraConfig): string[] {
  return [`127.0.0.1:${config.kafka.port}`];
}

/** HTTP endpoint of DynamoDB Local. */
export function dynamodbEndpoint(config: InfraConfig): string {
  return `http://127.0.0.1:${config.dynamodb.port}`;
}

/** LocalStack's edge endpoint: every AWS service it emulates answers here. */
export function localstackEndpoint(config: InfraConfig): string {
  return `http://127.0.0.1:${config.localstack.port}`;
}

// The nearest folder with a package.json: the user's project, so `.sluice/` sits beside it
// even when Sluice itself is installed under node_modules.
function projectRoot(cwd: string): string {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return packageRoot;
  }
}

function readPort(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InfraError(`${name}=${raw} is not a TCP port`, `set ${name} to an integer between 1 and 65535`);
  }
  return port;
}

function readKafkaVersion(env: NodeJS.ProcessEnv): string {
  const raw = env[KAFKA_ENV.version]?.trim();
  if (!raw) return KAFKA_VERSION;
  if (!/^[34]\.\d+\.\d+$/.test(raw)) {
    throw new InfraError(
      `${KAFKA_ENV.version}=${raw} is not a Kafka version Sluice can run (3.x.y or 4.x.y)`,
      `use one of ${KAFKA_VERSIONS.join(', ')} (tested) or another 3.x/4.x release on Maven Central, or unset it for ${KAFKA_VERSION}`,
    );
  }
  return raw;
}

function readTransactionVersion(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env[KAFKA_ENV.transactionVersion]?.trim();
  if (!raw) return undefined;
  if (raw !== '0' && raw !== '1' && raw !== '2') {
    throw new InfraError(`${KAFKA_ENV.transactionVersion}=${raw}: the transaction.version feature is 0, 1 or 2`, `unset it to use the broker version's default`);
  }
  return Number(raw);
}
