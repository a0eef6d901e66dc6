/**
 * The lifecycle every local service shares: reuse a healthy instance, clear a stale pid file,
 * refuse a port someone else holds, launch, wait for readiness (showing the log tail when it
 * does not come), stop, and report the truth about its state.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InfraError } from '../../errors.js';
import type { InfraConfig, ServiceName } from './config.js';
import { assertPortsFree, portInUse, type PortClaim } from './ports.js';
import {
  inspectInstance,
  isOurs,
  killProcess,
  removeInstance,
  stopProcess,
  tailFile,
  writeInstance,
  type InstanceRecord,
} from './process.js';

/** What lifecycle code needs to know about one service; kafka.ts and dynamodb.ts provide one each. */
export interface ServiceDriver {
  readonly name: ServiceName;
  /** Human name, e.g. "Kafka". */
  readonly title: string;
  /** The version a start would run with this config. */
  version(config: InfraConfig): string;
  /** How long a cold start may take before it counts as failed. */
  readonly startupTimeoutMs: number;
  ports(config: InfraConfig): PortClaim[];
  /** Answers within timeoutMs? (Kafka: DescribeCluster; DynamoDB: ListTables.) */
  healthy(config: InfraConfig, timeoutMs: number): Promise<boolean>;
  /** Prepares files and spawns the process; returns its pid file record. Does not wait. */
  launch(config: InfraConfig, log: (line: string) => void, options?: LaunchOptions): Promise<InstanceRecord>;
  /** Optional work after a fresh start answers, before it counts as up. */
  warmUp?(config: InfraConfig): Promise<void>;
}

/** How to launch a service. */
export interface LaunchOptions {
  /**
   * Start on the data the previous instance left (Kafka: the same log dirs, not re-formatted),
   * if there is any; otherwise, and by default, start from empty. DynamoDB Local runs in
   * memory, so it always starts empty.
   */
  readonly keepData?: boolean;
}

/** How to restart a service. */
export interface RestartOptions extends LaunchOptions {
  /** SIGKILL instead of SIGTERM (a crash: no clean shutdown). Default false. */
  readonly hard?: boolean | undefined;
  /** Startup timeout; default the driver's. */
  readonly timeoutMs?: number | undefined;
  /** Stay down this long before starting again (clients see an outage). Default 0. */
  readonly downtimeMs?: number | undefined;
}

/** What a restart did. */
export interface RestartOutcome {
  /** How the old instance went: 'stopped' (SIGTERM), 'killed' (SIGKILL, or SIGTERM timed out), or not running. */
  readonly stopped: StopOutcome;
  /** Pid of the old instance, if one was running. */
  readonly previousPid: number | undefined;
  readonly running: RunningService;
  /** From the old instance's end until the new one answered (and was warmed up). */
  readonly downtimeMs: number;
}

/** A service that is up and answering. */
export interface RunningService {
  readonly record: InstanceRecord;
  /** True if an instance that was already running was reused. */
  readonly reused: boolean;
}

/** The truth about one service, as `infra status` shows it. */
export interface ServiceStatus {
  readonly service: ServiceName;
  /** up: ours and answering; unhealthy: ours, alive, not answering; down: not running. */
  readonly state: 'up' | 'unhealthy' | 'down';
  readonly pid?: number;
  /** Version of the running instance (what was launched), or of the jars a start would use. */
  readonly version: string;
  readonly ports: readonly number[];
  readonly startedAt?: string;
  readonly logFile: string;
  /** Anything the user should know, e.g. a stale pid file or a port taken by another process. */
  readonly note?: string;
}

/** What stopping did. */
export type StopOutcome = 'stopped' | 'killed' | 'not running' | 'stale pid file removed';

/** Pid file of a service. */
export function pidFileOf(config: InfraConfig, service: ServiceName): string {
  return join(config.runDir, `${service}.pid`);
}

/** Log file of a service (the previous start's log is kept beside it as `.1`). */
export function logFileOf(config: InfraConfig, service: ServiceName): string {
  return join(config.runDir, 'logs', `${service}.log`);
}

/** Makes the service be up: reuses a healthy instance of the same version and ports, else starts one. */
export async function ensureRunning(
  driver: ServiceDriver,
  config: InfraConfig,
  timeoutMs: number | undefined,
  log: (line: string) => void,
  launchOptions: LaunchOptions = {},
): Promise<RunningService> {
  const pidFile = pidFileOf(config, driver.name);
  const state = inspectInstance(pidFile);
  const wantedPorts = driver.ports(config).map((c) => c.port);
  if (state.kind === 'running') {
    const { record } = state;
    const sameShape = record.version === driver.version(config) && samePorts(record.ports, wantedPorts);
    // A busy or just-started instance may need a moment; a wedged one gets restarted.
    if (sameShape && (await waitHealthy(driver, config, 10_000))) return { record, reused: true };
    log(
      sameShape
        ? `${driver.title} (pid ${record.pid}) is not answering; restarting it`
        : `${driver.title} (pid ${record.pid}) runs ${record.version} on ports ${record.ports.join(',')}; restarting it as ${driver.version(config)} on ${wantedPorts.join(',')}`,
    );
    await stopProcess(record.pid);
    removeInstance(pidFile);
  } else if (state.kind === 'stale') {
    log(`${driver.title}: removing stale pid file ${pidFile}${state.record ? ` (pid ${state.record.pid} is not ours any more)` : ''}`);
    removeInstance(pidFile);
  }
  return { record: await start(driver, config, timeoutMs, log, launchOptions), reused: false };
}

/**
 * Stops the service (SIGTERM, or SIGKILL with `hard`) and starts it again, by default from
 * empty, with `keepData` on the data the old instance left; resolves once the new instance
 * answers. Starts the service if it was not running.
 */
export async function restartService(driver: ServiceDriver, config: InfraConfig, options: RestartOptions, log: (line: string) => void): Promise<RestartOutcome> {
  const pidFile = pidFileOf(config, driver.name);
  const state = inspectInstance(pidFile);
  let stopped: StopOutcome = 'not running';
  let previousPid: number | undefined;
  if (state.kind === 'running') {
    previousPid = state.record.pid;
    log(`${driver.title} (pid ${previousPid}): ${options.hard ? 'SIGKILL' : 'SIGTERM'}`);
    const how = options.hard ? await killProcess(previousPid) : await stopProcess(previousPid);
    stopped = how === 'killed' ? 'killed' : 'stopped';
    removeInstance(pidFile);
  } else if (state.kind === 'stale') {
    removeInstance(pidFile);
    stopped = 'stale pid file removed';
  }
  const down = Date.now();
  if (options.downtimeMs) await sleep(options.downtimeMs);
  const record = await start(driver, config, options.timeoutMs, log, options);
  return { stopped, previousPid, running: { record, reused: false }, downtimeMs: Date.now() - down };
}

/** Launches the service (its ports must be free), waits until it answers, warms it up. */
async function start(driver: ServiceDriver, config: InfraConfig, timeoutMs: number | undefined, log: (line: string) => void, launchOptions: LaunchOptions): Promise<InstanceRecord> {
  const pidFile = pidFileOf(config, driver.name);
  await assertPortsFree(driver.ports(config));
  const record = await driver.launch(config, log, launchOptions);
  writeInstance(pidFile, record);
  log(`${driver.title} ${driver.version(config)} starting (pid ${record.pid}), waiting until it answers`);
  await waitReady(driver, config, record, timeoutMs ?? driver.startupTimeoutMs);
  if (driver.warmUp) await driver.warmUp(config);
  return record;
}

/** Stops the service if it is ours and running; clears a stale pid file. */
export async function stopService(driver: ServiceDriver, config: InfraConfig): Promise<StopOutcome> {
  const pidFile = pidFileOf(config, driver.name);
  const state = inspectInstance(pidFile);
  if (state.kind === 'none') return 'not running';
  if (state.kind === 'stale') {
    removeInstance(pidFile);
    return 'stale pid file removed';
  }
  const how = await stopProcess(state.record.pid);
  removeInstance(pidFile);
  return how === 'killed' ? 'killed' : 'stopped';
}

/** Reports the service's state without changing anything. */
export async function serviceStatus(driver: ServiceDriver, config: InfraConfig): Promise<ServiceStatus> {
  const state = inspectInstance(pidFileOf(config, driver.name));
  const logFile = logFileOf(config, driver.name);
  if (state.kind === 'running') {
    const { record } = state;
    const healthy = await driver.healthy(config, 3_000);
    return {
      service: driver.name,
      state: healthy ? 'up' : 'unhealthy',
      pid: record.pid,
      version: record.version,
      ports: record.ports,
      startedAt: record.startedAt,
      logFile,
      ...(healthy ? {} : { note: `pid ${record.pid} is alive but does not answer; see ${logFile}` }),
    };
  }
  const ports = driver.ports(config).map((c) => c.port);
  const taken: number[] = [];
  for (const port of ports) if (await portInUse(port)) taken.push(port);
  const notes = [
    state.kind === 'stale' ? `stale pid file (${state.record ? `pid ${state.record.pid} is gone` : 'unreadable'}); the next up clears it` : '',
    taken.length > 0 ? `port ${taken.join(', ')} is used by another process` : '',
  ].filter((n) => n !== '');
  return {
    service: driver.name,
    state: 'down',
    version: driver.version(config),
    ports,
    logFile,
    ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
  };
}

async function waitReady(driver: ServiceDriver, config: InfraConfig, record: InstanceRecord, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const logFile = logFileOf(config, driver.name);
  for (;;) {
    if (!isOurs(record)) {
      removeInstance(pidFileOf(config, driver.name));
      throw new InfraError(
        `${driver.title} exited during startup (pid ${record.pid}). Last lines of ${logFile}:\n${await tailFile(logFile)}`,
        `fix the cause above, then run: npx sluice infra up`,
      );
    }
    if (await driver.healthy(config, 2_000)) return;
    if (Date.now() > deadline) break;
    await sleep(250);
  }
  await stopProcess(record.pid);
  removeInstance(pidFileOf(config, driver.name));
  throw new InfraError(
    `${driver.title} did not answer within ${Math.round(timeoutMs / 1000)} s (pid ${record.pid}, stopped). Last lines of ${logFile}:\n${await tailFile(logFile)}`,
    'a slow machine may need more time: pass a longer timeout (sluice infra up --timeout <seconds>)',
  );
}

async function waitHealthy(driver: ServiceDriver, config: InfraConfig, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await driver.healthy(config, 3_000)) return true;
    if (Date.now() > deadline) return false;
    await sleep(500);
  }
}

function samePorts(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}
