/**
 * The local infrastructure API: a real Kafka broker and DynamoDB Local, started from Maven
 * jars as background processes that outlive the caller, found again through pid files under
 * `<home>/infra/`. `infraUp` is idempotent and safe to call from several processes at once.
 * `restartKafka` stops the broker (gracefully or with kill -9) and starts it again on the same
 * data, for tests of what clients do when the broker goes away and comes back.
 */
import { join } from 'node:path';
import { ALL_SERVICES, dynamodbEndpoint, kafkaBrokers, loadInfraConfig, localstackEndpoint, SERVICES, type InfraConfig, type ServiceName } from './config.js';
import { dynamodbDriver } from './dynamodb.js';
import { ensureJars, requireJava } from './jars.js';
import { kafkaDriver } from './kafka.js';
import { LOCALSTACK_TOOL, localstackDriver } from './localstack.js';
import { ensurePythonTool } from '../python-tools.js';
import { withLock } from './lock.js';
import { tailFile } from './process.js';
import {
  ensureRunning,
  logFileOf,
  restartService,
  serviceStatus,
  stopService,
  type RunningService,
  type ServiceDriver,
  type RestartOutcome,
  type ServiceStatus,
  type StopOutcome,
} from './service.js';

export { ALL_SERVICES, DYNAMODB_LOCAL_VERSION, KAFKA_VERSION, LOCALSTACK_VERSION, SERVICES, loadInfraConfig } from './config.js';
export type { DefaultServiceName, InfraConfig, ServiceName } from './config.js';
export type { ServiceStatus, StopOutcome } from './service.js';
export { freePort } from './ports.js';

/** Options shared by every call: which config (default: from the environment) and where progress goes. */
export interface InfraOptions {
  readonly config?: InfraConfig;
  /** Progress lines (fetching jars, starting, stale pid files). Default: silent. */
  readonly log?: (line: string) => void;
}

/** Options of infraUp. */
export interface InfraUpOptions extends InfraOptions {
  /** Which services (default both). */
  readonly services?: readonly ServiceName[];
  /** Startup timeout per service, default 90 s for Kafka and 60 s for DynamoDB Local. */
  readonly timeoutMs?: number;
  /**
   * If a service has to be started (it was down or not answering), start Kafka on the data
   * dir the last instance left instead of a fresh, re-formatted one. Default false. A healthy
   * running service is reused either way. For tests that stop the broker on purpose.
   */
  readonly keepData?: boolean;
}

/** Options of restartKafka. */
export interface RestartKafkaOptions extends InfraOptions {
  /** SIGKILL (a crash: no clean shutdown, log recovery at the next start) instead of SIGTERM. Default false. */
  readonly hard?: boolean;
  /**
   * Start on the same data dir, not re-formatted: topics, records, committed consumer offsets,
   * transaction state and producer ids survive. Default true; false starts an empty cluster.
   */
  readonly keepData?: boolean;
  /** Stay down this long before starting again. Default 0. */
  readonly downtimeMs?: number;
  /** Startup timeout, default 90 s. */
  readonly timeoutMs?: number;
}

/** What restartKafka did. */
export interface KafkaRestart {
  readonly brokers: string[];
  readonly pid: number;
  /** Pid of the broker that was stopped (undefined if none was running). */
  readonly previousPid: number | undefined;
  /** 'stopped' after SIGTERM, 'killed' after SIGKILL (or a SIGTERM that took over 10 s). */
  readonly stopped: StopOutcome;
  /** From the old broker's end until the new one answered. */
  readonly downtimeMs: number;
}

/** The running Kafka broker. */
export interface KafkaInfo {
  readonly brokers: string[];
  readonly pid: number;
  readonly version: string;
  /** True if an already running broker was reused. */
  readonly reused: boolean;
}

/** The running DynamoDB Local. */
export interface DynamodbInfo {
  readonly endpoint: string;
  readonly pid: number;
  readonly version: string;
  readonly reused: boolean;
}

/** The running LocalStack. */
export interface LocalstackInfo {
  /** Edge endpoint of every AWS API it serves. */
  readonly endpoint: string;
  readonly pid: number;
  readonly version: string;
  readonly reused: boolean;
}

/** What infraUp brought up (a service not asked for is absent; LocalStack only when asked for). */
export interface InfraInfo {
  readonly kafka: KafkaInfo;
  readonly dynamodb: DynamodbInfo;
  readonly localstack?: LocalstackInfo;
}

/** What infraStatus found, per service. */
export type InfraStatus = Record<ServiceName, ServiceStatus>;

const DRIVERS: Record<ServiceName, ServiceDriver> = { kafka: kafkaDriver, dynamodb: dynamodbDriver, localstack: localstackDriver };
// Long enough for another process's complete cold start of both services.
const LOCK_TIMEOUT_MS = 240_000;

/** Starts Kafka and DynamoDB Local, or reuses the healthy instances already running. */
export function infraUp(opts?: InfraUpOptions & { services?: undefined }): Promise<InfraInfo>;
/** Starts (or reuses) only the listed services. */
export function infraUp(opts: InfraUpOptions): Promise<Partial<InfraInfo>>;
export async function infraUp(opts: InfraUpOptions = {}): Promise<Partial<InfraInfo>> {
  const config = opts.config ?? loadInfraConfig();
  const log = opts.log ?? (() => undefined);
  const services = opts.services ?? SERVICES;
  // Fail before touching anything if Java is missing; fetch jars one product at a time.
  requireJava();
  for (const service of services) ensureJars(config, service, log);
  return withLock(lockFile(config), LOCK_TIMEOUT_MS, async () => {
    const launch = opts.keepData ? { keepData: true } : {};
    const started = await Promise.allSettled(services.map((s) => ensureRunning(DRIVERS[s], config, opts.timeoutMs, log, launch)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const byService = new Map<ServiceName, RunningService>();
    services.forEach((s, i) => {
      const result = started[i];
      if (result?.status === 'fulfilled') byService.set(s, result.value);
    });
    const info: { kafka?: KafkaInfo; dynamodb?: DynamodbInfo; localstack?: LocalstackInfo } = {};
    const kafka = byService.get('kafka');
    if (kafka) info.kafka = { brokers: kafkaBrokers(config), pid: kafka.record.pid, version: kafka.record.version, reused: kafka.reused };
    const dynamodb = byService.get('dynamodb');
    if (dynamodb) {
      info.dynamodb = { endpoint: dynamodbEndpoint(config), pid: dynamodb.record.pid, version: dynamodb.record.version, reused: dynamodb.reused };
    }
    const localstack = byService.get('localstack');
    if (localstack) {
      info.localstack = { endpoint: localstackEndpoint(config), pid: localstack.record.pid, version: localstack.record.version, reused: localstack.reused };
    }
    return info;
  });
}

/** Stops the services (default all, LocalStack included) that this project started; clears stale pid files. */
export async function infraDown(
  opts: InfraOptions & { services?: readonly ServiceName[] } = {},
): Promise<Partial<Record<ServiceName, StopOutcome>>> {
  const config = opts.config ?? loadInfraConfig();
  const services = opts.services ?? ALL_SERVICES;
  return withLock(lockFile(config), LOCK_TIMEOUT_MS, async () => {
    const outcomes = await Promise.all(services.map((s) => stopService(DRIVERS[s], config)));
    return Object.fromEntries(services.map((s, i) => [s, outcomes[i]]));
  });
}

/**
 * Restarts the local broker: SIGTERM (or SIGKILL with `hard`), wait until it is gone, start it
 * again on the same data dir without re-formatting (unless `keepData: false`), and wait until
 * it answers and its coordinators are loaded. Starts it if it was not running. Every client of
 * the broker sees the outage: only for tests that own the broker while they run.
 */
export async function restartKafka(opts: RestartKafkaOptions = {}): Promise<KafkaRestart> {
  const config = opts.config ?? loadInfraConfig();
  const log = opts.log ?? (() => undefined);
  requireJava();
  ensureJars(config, 'kafka', log);
  const outcome: RestartOutcome = await withLock(lockFile(config), LOCK_TIMEOUT_MS, () =>
    restartService(kafkaDriver, config, { keepData: opts.keepData ?? true, hard: opts.hard, downtimeMs: opts.downtimeMs, timeoutMs: opts.timeoutMs }, log),
  );
  return {
    brokers: kafkaBrokers(config),
    pid: outcome.running.record.pid,
    previousPid: outcome.previousPid,
    stopped: outcome.stopped,
    downtimeMs: outcome.downtimeMs,
  };
}

/** Reports each service's state (up/unhealthy/down), pid, ports and version; changes nothing. */
export async function infraStatus(opts: InfraOptions = {}): Promise<InfraStatus> {
  const config = opts.config ?? loadInfraConfig();
  const [kafka, dynamodb, localstack] = await Promise.all(ALL_SERVICES.map((s) => serviceStatus(DRIVERS[s], config)));
  return { kafka: kafka!, dynamodb: dynamodb!, localstack: localstack! };
}

/** The last `lines` lines of a service's log. */
export function infraLogs(which: ServiceName, opts: InfraOptions & { lines?: number } = {}): Promise<string> {
  const config = opts.config ?? loadInfraConfig();
  return tailFile(logFileOf(config, which), opts.lines ?? 100);
}

/** Path of a service's log file (for `tail -f`). */
export function infraLogFile(which: ServiceName, opts: InfraOptions = {}): string {
  return logFileOf(opts.config ?? loadInfraConfig(), which);
}

/**
 * Fetches what the services (default Kafka and DynamoDB Local) run from into the caches, without
 * starting them: the Maven jars, and for LocalStack also its Python venv. Returns their folders.
 */
export async function infraFetch(opts: InfraOptions & { services?: readonly ServiceName[] } = {}): Promise<Record<string, string>> {
  const config = opts.config ?? loadInfraConfig();
  const services = opts.services ?? SERVICES;
  const out: Record<string, string> = {};
  for (const s of services) {
    out[s] = ensureJars(config, s, opts.log);
    if (s === 'localstack') out[s] = (await ensurePythonTool(LOCALSTACK_TOOL, opts.log)).venv;
  }
  return out;
}

function lockFile(config: InfraConfig): string {
  return join(config.runDir, 'up.lock');
}
