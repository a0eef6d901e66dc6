/**
 * The local infrastructure API: a real Kafka broker and DynamoDB Local, started from Maven
 * jars as background processes that outlive the caller, found again through pid files under
 * `<home>/infra/`. `infraUp` is idempotent and safe to call from several processes at once.
 */
import { join } from 'node:path';
import { dynamodbEndpoint, kafkaBrokers, loadInfraConfig, SERVICES, type InfraConfig, type ServiceName } from './config.js';
import { dynamodbDriver } from './dynamodb.js';
import { ensureJars, requireJava } from './jars.js';
import { kafkaDriver } from './kafka.js';
import { withLock } from './lock.js';
import { tailFile } from './process.js';
import {
  ensureRunning,
  logFileOf,
  serviceStatus,
  stopService,
  type RunningService,
  type ServiceDriver,
  type ServiceStatus,
  type StopOutcome,
} from './service.js';

export { DYNAMODB_LOCAL_VERSION, KAFKA_VERSION, SERVICES, loadInfraConfig } from './config.js';
export type { InfraConfig, ServiceName } from './config.js';
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

/** What infraUp brought up (a service not asked for is absent). */
export interface InfraInfo {
  readonly kafka: KafkaInfo;
  readonly dynamodb: DynamodbInfo;
}

/** What infraStatus found, per service. */
export type InfraStatus = Record<ServiceName, ServiceStatus>;

const DRIVERS: Record<ServiceName, ServiceDriver> = { kafka: kafkaDriver, dynamodb: dynamodbDriver };
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
    const started = await Promise.allSettled(services.map((s) => ensureRunning(DRIVERS[s], config, opts.timeoutMs, log)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const byService = new Map<ServiceName, RunningService>();
    services.forEach((s, i) => {
      const result = started[i];
      if (result?.status === 'fulfilled') byService.set(s, result.value);
    });
    const info: { kafka?: KafkaInfo; dynamodb?: DynamodbInfo } = {};
    const kafka = byService.get('kafka');
    if (kafka) info.kafka = { brokers: kafkaBrokers(config), pid: kafka.record.pid, version: kafka.record.version, reused: kafka.reused };
    const dynamodb = byService.get('dynamodb');
    if (dynamodb) {
      info.dynamodb = { endpoint: dynamodbEndpoint(config), pid: dynamodb.record.pid, version: dynamodb.record.version, reused: dynamodb.reused };
    }
    return info;
  });
}

/** Stops the services (default both) that this project started; clears stale pid files. */
export async function infraDown(
  opts: InfraOptions & { services?: readonly ServiceName[] } = {},
): Promise<Partial<Record<ServiceName, StopOutcome>>> {
  const config = opts.config ?? loadInfraConfig();
  const services = opts.services ?? SERVICES;
  return withLock(lockFile(config), LOCK_TIMEOUT_MS, async () => {
    const outcomes = await Promise.all(services.map((s) => stopService(DRIVERS[s], config)));
    return Object.fromEntries(services.map((s, i) => [s, outcomes[i]]));
  });
}

/** Reports each service's state (up/unhealthy/down), pid, ports and version; changes nothing. */
export async function infraStatus(opts: InfraOptions = {}): Promise<InfraStatus> {
  const config = opts.config ?? loadInfraConfig();
  const [kafka, dynamodb] = await Promise.all([serviceStatus(kafkaDriver, config), serviceStatus(dynamodbDriver, config)]);
  return { kafka, dynamodb };
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

/** Fetches the jars of the services (default both) into the cache; returns their folders. */
export function infraFetch(opts: InfraOptions & { services?: readonly ServiceName[] } = {}): Record<string, string> {
  const config = opts.config ?? loadInfraConfig();
  const services = opts.services ?? SERVICES;
  return Object.fromEntries(services.map((s) => [s, ensureJars(config, s, opts.log)]));
}

function lockFile(config: InfraConfig): string {
  return join(config.runDir, 'up.lock');
}
