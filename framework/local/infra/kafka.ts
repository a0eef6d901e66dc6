/**
 * The local Kafka broker: one KRaft node (broker + controller in one JVM) from the Maven jars.
 * Every fresh start wipes and re-formats its data dir, so a crashed run (kill -9 mid-write,
 * half-formatted storage) can never poison the next one; a healthy running broker is reused.
 * Only a restart that asks for it (`keepData`, see restartKafka) starts on the old data dir.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKafka } from '../../kafka/client.js';
import { PORT_ENV, kafkaBrokers, kafkaMajor, type InfraConfig } from './config.js';
import { ensureJars, requireJava } from './jars.js';
import { rotateLog, runToLog, spawnDetached, type InstanceRecord } from './process.js';
import { logFileOf, type LaunchOptions, type ServiceDriver } from './service.js';

/** Files of the broker under `<home>/infra/kafka/`. */
export function kafkaPaths(config: InfraConfig): {
  dir: string;
  dataDir: string;
  serverProperties: string;
  log4jProperties: string;
  toolsLog4jProperties: string;
  log4j2Properties: string;
  toolsLog4j2Properties: string;
} {
  const dir = join(config.runDir, 'kafka');
  return {
    dir,
    dataDir: join(dir, 'data'),
    serverProperties: join(dir, 'server.properties'),
    log4jProperties: join(dir, 'log4j.properties'),
    toolsLog4jProperties: join(dir, 'tools-log4j.properties'),
    log4j2Properties: join(dir, 'log4j2.properties'),
    toolsLog4j2Properties: join(dir, 'tools-log4j2.properties'),
  };
}

/** JVM flags sized for a small (2-core) machine; override with SLUICE_KAFKA_JAVA_OPTS. */
export const KAFKA_JAVA_OPTS = [
  '-Xms128m',
  '-Xmx512m',
  '-XX:+UseSerialGC',
  // C1 only: the broker is up in seconds instead of warming C2 for throughput tests don't need.
  '-XX:TieredStopAtLevel=1',
  '-XX:+ExitOnOutOfMemoryError',
  '-Djava.awt.headless=true',
];

/** server.properties of the single-node KRaft broker (pure, for the tests and the docs). */
export function serverProperties(config: InfraConfig, dataDir: string): string {
  const { port, controllerPort } = config.kafka;
  const props: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': dataDir,
    // Like MSK's default: topics exist only if someone created them (ensureTopics), so a
    // misspelt topic fails loudly instead of appearing empty.
    'auto.create.topics.enable': 'false',
    'num.partitions': 1,
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    'offsets.topic.replication.factor': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    // 50 partitions each (the defaults) take seconds to create on a small machine at the first
    // consumer group / transaction; a local broker needs few.
    'offsets.topic.num.partitions': 4,
    'transaction.state.log.num.partitions': 4,
    'group.initial.rebalance.delay.ms': 0,
    // Default 15 min already covers Lambda's 14-minute limit; stated so nobody lowers it by accident.
    'transaction.max.timeout.ms': 900_000,
    'num.network.threads': 2,
    'num.io.threads': 4,
    'num.recovery.threads.per.data.dir': 1,
    'log.retention.hours': 24,
    ...config.kafka.serverProperties,
  };
  return `${Object.entries(props)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join('\n')}\n`;
}

/** log4j 1.x config: everything to stdout, which the launcher sends to the log file. */
export const KAFKA_LOG4J = `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.storage.internals.log=WARN
log4j.logger.kafka.log.UnifiedLog=WARN
`;

/** log4j config of the storage tool: warnings only, so a failed format shows its error, not a config dump. */
export const KAFKA_TOOLS_LOG4J = KAFKA_LOG4J.replace('rootLogger=INFO', 'rootLogger=WARN');

/** The same logging for Kafka 4.x, which logs through log4j 2 (properties syntax). */
export const KAFKA_LOG4J2 = `status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
${['kafka.request.logger', 'state.change.logger', 'kafka.log.LogCleaner', 'org.apache.kafka.storage.internals.log', 'kafka.log.UnifiedLog']
  .map((name, i) => `logger.quiet${i}.name = ${name}\nlogger.quiet${i}.level = WARN`)
  .join('\n')}
`;

/** log4j 2 config of the storage tool (warnings only). */
export const KAFKA_TOOLS_LOG4J2 = KAFKA_LOG4J2.replace('rootLogger.level = INFO', 'rootLogger.level = WARN');

/** The version string a broker started with this config records: the release, plus the transaction protocol when chosen. */
export function kafkaVersionOf(config: InfraConfig): string {
  const tv = config.kafka.transactionVersion;
  return tv === undefined ? config.kafka.version : `${config.kafka.version} (transaction.version=${tv})`;
}

/** True if the broker answers DescribeCluster (with at least one broker) within timeoutMs. */
export async function kafkaHealthy(brokers: readonly string[], timeoutMs: number): Promise<boolean> {
  const kafka = createKafka({
    brokers,
    clientId: 'sluice-infra-health',
    logLevel: 'nothing',
    retries: 0,
    connectionTimeoutMs: Math.min(1_000, timeoutMs),
    requestTimeoutMs: timeoutMs,
  });
  const admin = kafka.admin({ retry: { retries: 0 } });
  let timer: NodeJS.Timeout | undefined;
  try {
    const probe = (async () => {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return cluster.brokers.length > 0;
    })();
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    return await Promise.race([probe.catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => undefined);
  }
}

/** The Kafka service driver. */
export const kafkaDriver: ServiceDriver = {
  name: 'kafka',
  title: 'Kafka',
  version: kafkaVersionOf,
  startupTimeoutMs: 90_000,
  ports: (config) => [
    { port: config.kafka.port, what: 'Kafka', envVar: PORT_ENV.kafka },
    { port: config.kafka.controllerPort, what: 'Kafka controller', envVar: PORT_ENV.kafkaController },
  ],
  healthy: (config, timeoutMs) => kafkaHealthy(kafkaBrokers(config), timeoutMs),
  launch: launchKafka,
  warmUp: (config) => warmUpKafka(kafkaBrokers(config)),
};

/**
 * Creates the internal topics (__transaction_state, __consumer_offsets) now, which a fresh
 * broker otherwise does at the first transaction or consumer group, answering "coordinator
 * is loading" meanwhile: the first test or demo run then sees a broker like any other.
 */
export async function warmUpKafka(brokers: readonly string[]): Promise<void> {
  const kafka = createKafka({ brokers, clientId: 'sluice-infra-warmup', logLevel: 'nothing', retries: 10 });
  const producer = kafka.producer({ transactionalId: 'sluice-infra-warmup', idempotent: true, maxInFlightRequests: 1 });
  const admin = kafka.admin();
  try {
    await producer.connect(); // InitProducerId: finds the transaction coordinator.
    await admin.connect();
    await admin.describeGroups(['sluice-infra-warmup']); // FindCoordinator for a group.
  } finally {
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

/** True if the data dir holds a formatted log dir (what a start with `keepData` reuses). */
export function kafkaDataFormatted(config: InfraConfig): boolean {
  return existsSync(join(kafkaPaths(config).dataDir, 'meta.properties'));
}

async function launchKafka(config: InfraConfig, log: (line: string) => void, options: LaunchOptions = {}): Promise<InstanceRecord> {
  const java = requireJava();
  const jars = ensureJars(config, 'kafka', log);
  const paths = kafkaPaths(config);
  const logFile = logFileOf(config, 'kafka');
  const keep = options.keepData === true && kafkaDataFormatted(config);
  if (options.keepData === true && !keep) log('Kafka: no formatted data dir to keep; starting a fresh cluster');
  if (!keep) {
    // Fresh start = fresh cluster: whatever a previous run left (maybe half-written) goes.
    rmSync(paths.dir, { recursive: true, force: true });
  }
  mkdirSync(paths.dataDir, { recursive: true });
  // Same contents as the previous start's files (same config), so a kept data dir fits them.
  writeFileSync(paths.serverProperties, serverProperties(config, paths.dataDir));
  // Kafka 3.x logs through log4j 1 (reload4j), 4.x through log4j 2: each reads its own file.
  const log4j2 = kafkaMajor(config.kafka.version) >= 4;
  writeFileSync(paths.log4jProperties, KAFKA_LOG4J);
  writeFileSync(paths.toolsLog4jProperties, KAFKA_TOOLS_LOG4J);
  writeFileSync(paths.log4j2Properties, KAFKA_LOG4J2);
  writeFileSync(paths.toolsLog4j2Properties, KAFKA_TOOLS_LOG4J2);
  const logConfig = (tools: boolean): string =>
    log4j2
      ? `-Dlog4j2.configurationFile=file:${tools ? paths.toolsLog4j2Properties : paths.log4j2Properties}`
      : `-Dlog4j.configuration=file:${tools ? paths.toolsLog4jProperties : paths.log4jProperties}`;
  const features = config.kafka.transactionVersion === undefined ? [] : ['--feature', `transaction.version=${config.kafka.transactionVersion}`];
  const tag = `-Dsluice.instance=${join(config.runDir, 'kafka')}`;
  const classpath = ['-cp', join(jars, '*')];
  rotateLog(logFile);
  if (keep) {
    // Topics, committed offsets, transaction state and the KRaft metadata log all live in the
    // data dir; the broker recovers them (after a kill -9, with log recovery) at startup.
    writeFileSync(logFile, `$ kafka restart on the kept data dir ${paths.dataDir} (not re-formatted)\n`, { flag: 'a' });
  } else {
    await runToLog(
      java,
      [...javaOpts(), logConfig(true), ...classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', paths.serverProperties, ...features],
      paths.dir,
      logFile,
      'kafka-storage format',
    );
  }
  const jvm = [tag, ...javaOpts(), logConfig(false), ...classpath];
  const pid = spawnDetached({ command: java, args: [...jvm, 'kafka.Kafka', paths.serverProperties], cwd: paths.dir, logFile });
  return {
    service: 'kafka',
    pid,
    version: kafkaVersionOf(config),
    ports: [config.kafka.port, config.kafka.controllerPort],
    startedAt: new Date().toISOString(),
    tag,
  };
}

function javaOpts(): string[] {
  const override = process.env.SLUICE_KAFKA_JAVA_OPTS;
  return override ? override.split(/\s+/).filter((s) => s !== '') : KAFKA_JAVA_OPTS;
}

// Same shape as Kafka's Uuid.randomUuid().toString() (what `StorageTool random-uuid` prints):
// 16 random bytes, base64url without padding, never starting with '-'. Saves a JVM start.
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
