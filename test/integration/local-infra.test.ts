/**
 * The local infrastructure API: reuse, truthful status, and recovery from what crashed runs
 * leave behind. Tests that break things use a private state dir and free ports, so the
 * shared broker and DynamoDB Local the other tests use are never disturbed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { InfraError } from '../../framework/errors.js';
import { createKafka } from '../../framework/kafka/client.js';
import {
  DYNAMODB_LOCAL_VERSION,

  freePort,
  infraDown,
  infraStatus,
  infraUp,
  loadInfraConfig,
  type InfraConfig,
} from '../../framework/local/infra/index.js';
import { commandLine, isAlive, readInstance, writeInstance } from '../../framework/local/infra/process.js';
import { pidFileOf } from '../../framework/local/infra/service.js';
import { kafkaVersionOf } from '../../framework/local/infra/kafka.js';
import { testBrokers, testDynamoEndpoint } from '../support/infra.js';

describe('the shared infrastructure', () => {
  it('is reused by a second and third infraUp: same pids, nothing restarted', async () => {
    const first = await infraUp();
    const second = await infraUp();
    expect(first.kafka).toMatchObject({ brokers: testBrokers(), reused: true });
    expect(first.dynamodb).toMatchObject({ endpoint: testDynamoEndpoint(), reused: true });
    expect([second.kafka.pid, second.dynamodb.pid]).toEqual([first.kafka.pid, first.dynamodb.pid]);
  });

  it('is reported up by infraStatus with pids, ports and versions', async () => {
    const [status, up] = await Promise.all([infraStatus(), infraUp()]);
    const config = loadInfraConfig();
    expect(status.kafka).toMatchObject({
      state: 'up',
      pid: up.kafka.pid,
      version: kafkaVersionOf(config),
      ports: [config.kafka.port, config.kafka.controllerPort],
    });
    expect(status.dynamodb).toMatchObject({ state: 'up', pid: up.dynamodb.pid, version: DYNAMODB_LOCAL_VERSION, ports: [config.dynamodb.port] });
  });
});

describe('a private instance', () => {
  let home: string | undefined;
  let config: InfraConfig | undefined;
  let blocker: Server | undefined;

  afterEach(async () => {
    if (config) await infraDown({ config });
    blocker?.close();
    if (home) rmSync(home, { recursive: true, force: true });
    [home, config, blocker] = [undefined, undefined, undefined];
  });

  // Own state dir and ports; the shared jar cache (no second download).
  async function privateConfig(): Promise<InfraConfig> {
    home = mkdtempSync(join(tmpdir(), 'sluice-infra-test-'));
    const shared = loadInfraConfig();
    config = {
      ...shared,
      home,
      runDir: join(home, 'infra'),
      kafka: { ...shared.kafka, port: await freePort(), controllerPort: await freePort() },
      dynamodb: { port: await freePort() },
    };
    return config;
  }

  it('starts despite a stale pid file whose process is dead, and reports the stale file first', async () => {
    const cfg = await privateConfig();
    const dead = spawnSync('true').pid;
    writeInstance(pidFileOf(cfg, 'dynamodb'), {
      service: 'dynamodb',
      pid: dead,
      version: DYNAMODB_LOCAL_VERSION,
      ports: [cfg.dynamodb.port],
      startedAt: new Date(0).toISOString(),
      tag: `-Dsluice.instance=${join(cfg.runDir, 'dynamodb')}`,
    });

    const before = await infraStatus({ config: cfg });
    const up = await infraUp({ config: cfg, services: ['dynamodb'] });

    expect(before.dynamodb).toMatchObject({ state: 'down', note: expect.stringContaining('stale pid file') as unknown });
    expect(up.dynamodb).toMatchObject({ reused: false, endpoint: `http://127.0.0.1:${cfg.dynamodb.port}` });
    expect(up.dynamodb?.pid).not.toBe(dead);
    expect(readInstance(pidFileOf(cfg, 'dynamodb'))?.pid).toBe(up.dynamodb?.pid);
  });

  it('never trusts (or kills) a live process whose pid a stale pid file names', async () => {
    const cfg = await privateConfig();
    // This test worker plays a process that reused the pid of a dead DynamoDB Local.
    writeInstance(pidFileOf(cfg, 'dynamodb'), {
      service: 'dynamodb',
      pid: process.pid,
      version: DYNAMODB_LOCAL_VERSION,
      ports: [cfg.dynamodb.port],
      startedAt: new Date(0).toISOString(),
      tag: `-Dsluice.instance=${join(cfg.runDir, 'dynamodb')}`,
    });

    const down = await infraDown({ config: cfg, services: ['dynamodb'] });

    expect(down).toEqual({ dynamodb: 'stale pid file removed' });
    expect(isAlive(process.pid)).toBe(true);
  });

  it('fails with an InfraError naming the port and its env var when another process holds the port', async () => {
    const cfg = await privateConfig();
    blocker = createServer();
    await new Promise<void>((resolve) => blocker?.listen(cfg.dynamodb.port, '127.0.0.1', resolve));

    const error: unknown = await infraUp({ config: cfg, services: ['dynamodb'] }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(InfraError);
    expect((error as InfraError).message).toContain(`Port ${cfg.dynamodb.port} (DynamoDB Local)`);
    expect((error as InfraError).message).toContain('SLUICE_DYNAMODB_PORT');
  });

  it('recovers from a kill -9 of the broker and a corrupted data dir: the next up starts a fresh, working broker', async () => {
    const cfg = await privateConfig();
    const crashed = await infraUp({ config: cfg, services: ['kafka'] });
    const pid = crashed.kafka?.pid ?? 0;
    process.kill(pid, 'SIGKILL');
    while (commandLine(pid) !== undefined) await sleep(50); // gone (or a zombie)
    writeFileSync(join(cfg.runDir, 'kafka', 'data', 'meta.properties'), 'half-written garbage');

    const status = await infraStatus({ config: cfg });
    const restarted = await infraUp({ config: cfg, services: ['kafka'] });

    expect(status.kafka.state).toBe('down');
    expect(restarted.kafka).toMatchObject({ reused: false, brokers: [`127.0.0.1:${cfg.kafka.port}`] });
    expect(restarted.kafka?.pid).not.toBe(pid);
    const admin = createKafka({ brokers: restarted.kafka?.brokers ?? [], clientId: 'sluice-test-crash', logLevel: 'nothing' }).admin();
    await admin.connect();
    try {
      expect(await admin.createTopics({ topics: [{ topic: 'after-crash', numPartitions: 1 }], waitForLeaders: true })).toBe(true);
    } finally {
      await admin.disconnect();
    }
  });
});
