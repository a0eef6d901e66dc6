/**
 * The local DynamoDB: DynamoDB Local from the Maven jars, in memory (`-inMemory -sharedDb`),
 * so every start is empty and a crash leaves nothing behind to clean up.
 */
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createDynamoClient } from '../../dynamodb/client.js';
import { DYNAMODB_LOCAL_VERSION, PORT_ENV, dynamodbEndpoint, type InfraConfig } from './config.js';
import { ensureJars, requireJava } from './jars.js';
import { rotateLog, spawnDetached, type InstanceRecord } from './process.js';
import { logFileOf, type ServiceDriver } from './service.js';

/** DynamoDB Local's main class in com.amazonaws:DynamoDBLocal 2.x (3.x moved it to software.amazon.dynamodb). */
export const DYNAMODB_MAIN_CLASS = 'com.amazonaws.services.dynamodbv2.local.main.ServerRunner';

/** JVM flags sized for a small machine; override with SLUICE_DYNAMODB_JAVA_OPTS. */
export const DYNAMODB_JAVA_OPTS = ['-Xms64m', '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-XX:+ExitOnOutOfMemoryError'];

/** True if DynamoDB Local answers ListTables within timeoutMs. */
export async function dynamodbHealthy(endpoint: string, timeoutMs: number): Promise<boolean> {
  const client = createDynamoClient({ endpoint, maxAttempts: 1, requestTimeoutMs: timeoutMs });
  try {
    await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(timeoutMs) });
    return true;
  } catch {
    return false;
  } finally {
    client.destroy();
  }
}

/** The DynamoDB Local service driver. */
export const dynamodbDriver: ServiceDriver = {
  name: 'dynamodb',
  title: 'DynamoDB Local',
  version: () => DYNAMODB_LOCAL_VERSION,
  startupTimeoutMs: 60_000,
  ports: (config) => [{ port: config.dynamodb.port, what: 'DynamoDB Local', envVar: PORT_ENV.dynamodb }],
  healthy: (config, timeoutMs) => dynamodbHealthy(dynamodbEndpoint(config), timeoutMs),
  launch: launchDynamodb,
};

function launchDynamodb(config: InfraConfig, log: (line: string) => void): Promise<InstanceRecord> {
  const java = requireJava();
  const jars = ensureJars(config, 'dynamodb', log);
  const logFile = logFileOf(config, 'dynamodb');
  const tag = `-Dsluice.instance=${join(config.runDir, 'dynamodb')}`;
  const override = process.env.SLUICE_DYNAMODB_JAVA_OPTS;
  const opts = override ? override.split(/\s+/).filter((s) => s !== '') : DYNAMODB_JAVA_OPTS;
  const args = [
    tag,
    ...opts,
    // sqlite4java loads its native library from here (the .so the pom copies beside the jars).
    `-Dsqlite4java.library.path=${jars}`,
    '-cp',
    join(jars, '*'),
    DYNAMODB_MAIN_CLASS,
    '-inMemory',
    '-sharedDb',
    '-port',
    String(config.dynamodb.port),
  ];
  // DynamoDB Local writes dynamodb-local-metadata.json into its working directory.
  const cwd = join(config.runDir, 'dynamodb');
  mkdirSync(cwd, { recursive: true });
  rotateLog(logFile);
  const pid = spawnDetached({ command: java, args, cwd, logFile });
  return Promise.resolve({
    service: 'dynamodb',
    pid,
    version: DYNAMODB_LOCAL_VERSION,
    ports: [config.dynamodb.port],
    startedAt: new Date().toISOString(),
    tag,
  });
}
