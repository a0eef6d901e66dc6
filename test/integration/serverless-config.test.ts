/**
 * `osls package` of a small service that depends on Sluice as an app would (`node_modules/sluice`,
 * `plugins: [sluice/serverless]`): a bad `custom.sluice` must fail packaging with the path of the
 * bad field — from the framework's own config validation (the schema the plugin declares) for
 * typos and wrong types, and from the plugin for what only the pipeline knows.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');
const OSLS = join(REPO, 'node_modules/osls/bin/serverless.js');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-config-'));
  await mkdir(join(dir, 'node_modules'));
  await symlink(REPO, join(dir, 'node_modules', 'sluice'), 'dir');
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** serverless.yml of the YSB pipeline with `sluice` lines appended under custom.sluice (indented by 4). */
function service(sluice: string, top = ''): string {
  return `service: config-check
provider:
  name: aws
  runtime: nodejs22.x
  region: us-east-1
${top}plugins:
  - sluice/serverless
custom:
  sluice:
    pipeline: ${join(REPO, 'functions/ysb/pipeline.ts')}#ysb
    kafka:
      type: self-managed
      bootstrapServers: 127.0.0.1:9092
      auth:
        saslScram512: arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-user
${sluice}`;
}

/** Runs `osls package` on the service; resolves with the exit code and everything printed. */
async function packageWith(yml: string): Promise<{ code: number; output: string }> {
  await writeFile(join(dir, 'serverless.yml'), yml);
  await rm(join(dir, 'package'), { recursive: true, force: true });
  return new Promise((done) => {
    const env: NodeJS.ProcessEnv = { ...process.env, SLS_TELEMETRY_DISABLED: '1' };
    delete env['SLUICE_YSB_APP'];
    delete env['SLUICE_YSB_SOURCE_TOPIC'];
    // `sluice/serverless` of the linked checkout resolves to its sources (the package's export condition).
    execFile(process.execPath, ['--conditions=sluice-source', OSLS, 'package', '--stage', 'dev', '--package', 'package'], { cwd: dir, env, timeout: 90_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

describe('a bad custom.sluice fails osls package with the path of the bad field', () => {
  it('a misspelt setting, rejected by the framework\'s validation of the schema Sluice declares', async () => {
    const { code, output } = await packageWith(service('    batchsize: 500\n'));
    expect(code).not.toBe(0);
    expect(output).toContain("at 'custom.sluice': unrecognized property 'batchsize'");
    expect(existsSync(join(dir, 'package'))).toBe(false);
  }, 120_000);

  it('a wrong type deep inside, named by its full path', async () => {
    const { code, output } = await packageWith(service('    stages:\n      views:\n        maximumBatchingWindow: soon\n'));
    expect(code).not.toBe(0);
    expect(output).toContain("at 'custom.sluice.stages.views.maximumBatchingWindow': must be integer");
  }, 120_000);

  it('a stage the pipeline does not have, which only the plugin can know', async () => {
    const { code, output } = await packageWith(service('    stages:\n      vews:\n        batchSize: 100\n'));
    expect(code).not.toBe(0);
    expect(output).toContain('Sluice: custom.sluice.stages.vews: pipeline "ysb" has no stage "vews" [field=custom.sluice.stages.vews] — stages: views, counts');
  }, 120_000);

  it('a misspelt setting even when the service only warns on invalid configuration', async () => {
    const { code, output } = await packageWith(service('    batchsize: 500\n', 'configValidationMode: warn\n'));
    expect(code).not.toBe(0);
    expect(output).toContain('Sluice: custom.sluice has unknown setting(s) "batchsize" [field=custom.sluice.batchsize]');
  }, 120_000);
});
