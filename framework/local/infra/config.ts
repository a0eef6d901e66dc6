/**
 * Where the local infrastructure lives and which ports it uses. Plain data so tests can
 * build a variant (another state dir, another port) without touching the environment.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InfraError } from '../../errors.js';

/** Kafka broker version the jars and the docs are pinned to (see docs/local-infra.md). */
export const KAFKA_VERSION = '3.9.2';
/** DynamoDB Local version (com.amazonaws:DynamoDBLocal; 3.x is not fetchable from Maven Central). */
export const DYNAMODB_LOCAL_VERSION = '2.6.1';

/** The two local services. */
export type ServiceName = 'kafka' | 'dynamodb';
/** Both services, in start order. */
export const SERVICES: readonly ServiceName[] = ['kafka', 'dynamodb'];

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
  readonly kafka: { readonly port: number; readonly controllerPort: number };
  readonly dynamodb: { readonly port: number };
}

/** Environment variable for each port, named in errors so users know what to change. */
export const PORT_ENV = {
  kafka: 'SLUICE_KAFKA_PORT',
  kafkaController: 'SLUICE_KAFKA_CONTROLLER_PORT',
  dynamodb: 'SLUICE_DYNAMODB_PORT',
} as const;

/** Root of the Sluice package itself (where infra/local/pom.xml is). */
export const packageRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Reads the infra configuration from the environment (defaults: 19092, 19093, 18000). */
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
    },
    dynamodb: { port: readPort(env, PORT_ENV.dynamodb, 18000) },
  };
  const ports = [config.kafka.port, config.kafka.controllerPort, config.dynamodb.port];
  if (new Set(ports).size !== ports.length) {
    throw new InfraError(
      `Ports must differ: Kafka ${ports[0]}, Kafka controller ${ports[1]}, DynamoDB ${ports[2]}`,
      `set ${PORT_ENV.kafka}, ${PORT_ENV.kafkaController} and ${PORT_ENV.dynamodb} to three different ports`,
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
