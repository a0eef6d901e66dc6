import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appNameOf, initProject, InitError, PINNED_DEV_DEPENDENCIES, pinnedVersions, projectPackageJson, versionsFromLock } from '../../../framework/cli/init.js';

let dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  dirs = [];
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-init-'));
  dirs.push(dir);
  return dir;
}

describe('sluice init', () => {
  it('names the app after the directory, lower-cased, in the characters pipeline names allow', () => {
    expect(appNameOf('/tmp/My Shop_2')).toBe('my-shop-2');
    expect(appNameOf('demo')).toBe('demo');
    expect(appNameOf('/x/2fast')).toBe('fast');
  });

  it('refuses a directory name with no letter to start an app name', () => {
    expect(() => appNameOf('/tmp/123')).toThrow(InitError);
  });

  it('pins the dev dependencies to the versions in Sluice’s lock file', () => {
    const lock = { packages: Object.fromEntries(PINNED_DEV_DEPENDENCIES.map((n, i) => [`node_modules/${n}`, { version: `1.0.${i}` }])) };
    expect(versionsFromLock(lock)).toEqual({ '@types/node': '1.0.0', osls: '1.0.1', typescript: '1.0.2', vitest: '1.0.3' });
    const checkout = pinnedVersions();
    expect(Object.keys(checkout).sort()).toEqual([...PINNED_DEV_DEPENDENCIES].sort());
    expect(Object.values(checkout).every((v) => /^\d+\.\d+\.\d+/.test(v))).toBe(true);
  });

  it('writes a package.json whose start runs the pipeline locally and whose test typechecks and runs the harness tests', () => {
    const pkg = projectPackageJson('shop', 'file:vendor/sluice-0.1.0.tgz', { '@types/node': '20.1.0', osls: '4.3.1', typescript: '5.9.3', vitest: '4.1.12' });
    expect(pkg['dependencies']).toEqual({ sluice: 'file:vendor/sluice-0.1.0.tgz' });
    expect(pkg['devDependencies']).toEqual({ '@types/node': '20.1.0', osls: '4.3.1', typescript: '5.9.3', vitest: '4.1.12' });
    const scripts = pkg['scripts'] as Record<string, string>;
    expect(scripts['start']).toBe('sluice dev --pipeline src/pipeline.ts#app --fresh --feed src/sample.ts#sample --expect 3 --duration 90');
    expect(scripts['test']).toBe('tsc && vitest run');
  });

  it('scaffolds the pipeline, one handler and one harness test per stage, serverless.yml and a README, named for the app', async () => {
    const dir = join(await tempDir(), 'shop');
    await initProject({ dir, sluice: '0.1.0', install: false });
    const files = (await readdir(dir, { recursive: true })).sort();
    expect(files).toEqual(['.gitignore', 'README.md', 'package.json', 'serverless.yml', 'src', 'src/orders.test.ts', 'src/orders.ts', 'src/pipeline.ts', 'src/sample.ts', 'src/totals.test.ts', 'src/totals.ts', 'tsconfig.json']);
    expect(await readFile(join(dir, 'src/pipeline.ts'), 'utf8')).toContain("pipeline('shop', { partitions: 2 })");
    const yml = await readFile(join(dir, 'serverless.yml'), 'utf8');
    expect(yml).toContain('service: shop');
    expect(yml).toContain('  - sluice/serverless');
    for (const file of files) expect(await readFile(join(dir, file), 'utf8').catch(() => '')).not.toContain('__APP__');
  });

  it('refuses a directory that is not empty', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'keep.txt'), 'mine');
    await expect(initProject({ dir, sluice: '0.1.0', install: false })).rejects.toThrow(/not empty/);
  });
});
