/**
 * LocalStack as a local service, without Docker or an auth token: the open-source runtime
 * (`localstack-core` 2026.3.0, the last release on PyPI) run in-process ("host mode") from a venv
 * that python-tools.ts installs with every dependency pinned to its March-2026 version
 * (localstack-constraints.txt). It serves S3, IAM, STS, CloudFormation and DynamoDB (its DynamoDB
 * is DynamoDB Local from the jars Sluice already fetches, see localstack-seed.ts); it cannot run
 * Lambda functions (that needs Docker) or Kafka event-source mappings (a paid LocalStack feature).
 * Every start gets a fresh filesystem root, so state lives only as long as the process.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePythonTool, type PythonToolSpec } from '../python-tools.js';
import { LOCALSTACK_VERSION, PORT_ENV, localstackEndpoint, type InfraConfig } from './config.js';
import { ensureJars, requireJava } from './jars.js';
import { seedLocalstackPackages } from './localstack-seed.js';
import { rotateLog, spawnDetached, type InstanceRecord } from './process.js';
import { logFileOf, type ServiceDriver } from './service.js';

/** localstack-core from PyPI with its dependencies pinned; Python 3.12 (its code needs it) or 3.13. */
export const LOCALSTACK_TOOL: PythonToolSpec = {
  name: 'localstack',
  requirements: [`localstack-core[runtime]==${LOCALSTACK_VERSION}`],
  constraintsFile: join(dirname(fileURLToPath(import.meta.url)), 'localstack-constraints.txt'),
  minPython: [3, 12],
  maxPython: [3, 13],
};

/** The AWS services Sluice's LocalStack tier uses; the health check waits for these. */
export const LOCALSTACK_SERVICES = ['s3', 'iam', 'sts', 'cloudformation', 'dynamodb', 'logs'] as const;

/**
 * LocalStack's configuration for host mode on these machines: not "in Docker" even though
 * `/.dockerenv` may exist, no certificate or DNS downloads (no internet), no telemetry, DynamoDB
 * in memory, only the services above.
 */
export function localstackEnvironment(config: InfraConfig, filesystemRoot: string): Record<string, string> {
  return {
    OVERRIDE_IN_DOCKER: '0',
    FILESYSTEM_ROOT: filesystemRoot,
    GATEWAY_LISTEN: `127.0.0.1:${config.localstack.port}`,
    SKIP_SSL_CERT_DOWNLOAD: '1',
    DISABLE_EVENTS: '1',
    DNS_ADDRESS: '0',
    SERVICES: LOCALSTACK_SERVICES.join(','),
    DYNAMODB_IN_MEMORY: '1',
    LOCALSTACK_TELEMETRY_DISABLED: '1',
  };
}

/** True if LocalStack answers its health check with every service Sluice needs available. */
export async function localstackHealthy(endpoint: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/_localstack/health`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return false;
    const body = (await res.json()) as { services?: Record<string, string> };
    return LOCALSTACK_SERVICES.every((s) => ['available', 'running'].includes(body.services?.[s] ?? ''));
  } catch {
    return false;
  }
}

/** The LocalStack service driver (started only on request: `infra up localstack`). */
export const localstackDriver: ServiceDriver = {
  name: 'localstack',
  title: 'LocalStack',
  version: () => LOCALSTACK_VERSION,
  startupTimeoutMs: 120_000,
  ports: (config) => [{ port: config.localstack.port, what: 'LocalStack', envVar: PORT_ENV.localstack }],
  healthy: (config, timeoutMs) => localstackHealthy(localstackEndpoint(config), timeoutMs),
  launch: launchLocalstack,
};

async function launchLocalstack(config: InfraConfig, log: (line: string) => void): Promise<InstanceRecord> {
  const java = requireJava();
  const jars = ensureJars(config, 'dynamodb', log);
  const tool = await ensurePythonTool(LOCALSTACK_TOOL, log);
  const dir = join(config.runDir, 'localstack');
  const filesystemRoot = join(dir, 'fs');
  rmSync(filesystemRoot, { recursive: true, force: true });
  mkdirSync(filesystemRoot, { recursive: true });
  seedLocalstackPackages(filesystemRoot, jars, java);
  const logFile = logFileOf(config, 'localstack');
  rotateLog(logFile);
  // `-X` options are free-form in CPython: this one only marks the process as this instance.
  const tag = `sluice_instance=${dir}`;
  const pid = spawnDetached({
    command: tool.python,
    args: ['-X', tag, '-m', 'localstack.runtime.main'],
    cwd: dir,
    logFile,
    env: { ...process.env, ...localstackEnvironment(config, filesystemRoot) },
  });
  return { service: 'localstack', pid, version: LOCALSTACK_VERSION, ports: [config.localstack.port], startedAt: new Date().toISOString(), tag };
}
