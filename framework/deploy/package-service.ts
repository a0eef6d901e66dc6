/**
 * `osls package` of a Serverless service as a step other commands build on (template lint, the
 * LocalStack tier): runs the open-source CLI the service depends on (or Sluice's own) in a child
 * process and returns where the CloudFormation templates are. Needs no AWS account.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SluiceError } from '../errors.js';
import { SOURCE_CONDITIONS } from '../user-module.js';

/** What `osls package` produced. */
export interface PackagedService {
  readonly dir: string;
  /** `cloudformation-template-create-stack.json`: the deployment bucket alone. */
  readonly createTemplate: string;
  /** `cloudformation-template-update-stack.json`: everything. */
  readonly updateTemplate: string;
}

/** How to package. */
export interface PackageOptions {
  readonly serviceDir: string;
  /** The Serverless `--stage`. */
  readonly stage: string;
  readonly outDir: string;
  /** Extra environment for the service's `${env:...}` variables. */
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs `osls package --stage <stage> --package <outDir>` in the service directory. */
export async function packageService(opts: PackageOptions): Promise<PackagedService> {
  const cli = oslsCli(opts.serviceDir);
  const outDir = resolve(opts.outDir);
  const env = { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', ...opts.env };
  await new Promise<void>((done, fail) => {
    // A checkout's service resolves `plugins: [sluice/serverless]` to the sources, as this process does.
    execFile(process.execPath, [...SOURCE_CONDITIONS, cli, 'package', '--stage', opts.stage, '--package', outDir], { cwd: opts.serviceDir, env, timeout: 300_000, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return done();
      const output = `${stdout}${stderr}`.trim().split('\n').slice(-25).join('\n');
      fail(new SluiceError('SLUICE_PACKAGE', `osls package failed in ${opts.serviceDir}:\n${output}`, { field: 'serverless.yml' }, 'fix what the output above names, then run it again'));
    });
  });
  return {
    dir: outDir,
    createTemplate: join(outDir, 'cloudformation-template-create-stack.json'),
    updateTemplate: join(outDir, 'cloudformation-template-update-stack.json'),
  };
}

/** The osls CLI the service depends on, else the one Sluice depends on. */
function oslsCli(serviceDir: string): string {
  const sluiceRoot = resolve(fileURLToPath(import.meta.url), '../../..');
  for (const from of [join(resolve(serviceDir), 'package.json'), join(sluiceRoot, 'package.json')]) {
    try {
      const path = createRequire(from).resolve('osls/bin/serverless.js');
      if (existsSync(path)) return path;
    } catch {
      // Not installed there; try the next place.
    }
  }
  throw new SluiceError('SLUICE_PACKAGE', 'the osls CLI is not installed', {}, 'npm install --save-dev osls (the open-source Serverless CLI that needs no login)');
}
