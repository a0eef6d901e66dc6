/**
 * `sluice init <dir>`: a new project that works at once — a two-stage pipeline, one handler per
 * stage, a harness test per stage, serverless.yml with the plugin, and `npm start` / `npm test`
 * as in Sluice's own README. The files come from templates/init/ of the package (`__APP__` is the
 * app name); package.json is written here, pinning the exact versions Sluice itself is built and
 * tested with. Sluice itself is a copy of the running package packed into `vendor/` (it is not on
 * a registry), unless `--sluice <spec>` names another npm install spec.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { SluiceError } from '../errors.js';
import { packageRoot } from '../local/infra/config.js';

/** Dev dependencies of a new project, pinned to the versions Sluice uses. */
export const PINNED_DEV_DEPENDENCIES = ['@types/node', 'osls', 'typescript', 'vitest'] as const;

/** File beside the built CLI where the build records the pinned versions (the package has no lock file). */
export const INIT_VERSIONS_FILE = 'init-versions.json';

/** What `sluice init` is asked for. */
export interface InitOptions {
  readonly dir: string;
  /** npm install spec of Sluice; default a packed copy of the running package in vendor/. */
  readonly sluice?: string;
  /** Run `npm install` in the new project (default true). */
  readonly install?: boolean;
  readonly log?: (line: string) => void;
}

/** `sluice init` failed: the directory is not empty, the app name is not usable, npm failed. */
export class InitError extends SluiceError {
  constructor(message: string, hint: string) {
    super('SLUICE_INIT', message, { field: 'dir' }, hint);
  }
}

/** Adds the `init` command to the program. */
export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('create a new Sluice project: a two-stage pipeline, handlers, harness tests, serverless.yml; `npm start` runs it locally')
    .argument('<dir>', 'directory to create (its name is the app name)')
    .option('--sluice <spec>', 'npm install spec of sluice (default: a copy of this package, packed into vendor/)')
    .option('--no-install', 'do not run npm install')
    .action(async (dir: string, opts: { sluice?: string; install: boolean }) => {
      const target = resolve(dir);
      await initProject({ dir: target, install: opts.install, log: (line) => console.log(line), ...(opts.sluice ? { sluice: opts.sluice } : {}) });
      const cd = relative(process.cwd(), target) || '.';
      console.log(`\ncreated ${cd}: now\n  cd ${cd}\n  npm start    # runs it on local Kafka + DynamoDB Local\n  npm test     # typecheck + harness tests`);
    });
}

/** The app name for a directory: its base name, lower-cased, to what pipeline names allow (pure). */
export function appNameOf(dir: string): string {
  const name = basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '')
    .slice(0, 30);
  if (!/^[a-z][a-z0-9-]{0,29}$/.test(name)) {
    throw new InitError(`"${basename(dir)}" gives no usable app name`, 'name the directory with a letter first, then letters, digits or dashes');
  }
  return name;
}

/** package.json of a new project (pure). */
export function projectPackageJson(app: string, sluice: string, versions: Readonly<Record<string, string>>): Record<string, unknown> {
  return {
    name: app,
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: '^20.19.0 || >=22.12.0' },
    scripts: {
      start: 'sluice dev --pipeline src/pipeline.ts#app --fresh --feed src/sample.ts#sample --expect 3 --duration 90',
      test: 'tsc && vitest run',
      package: 'osls package',
    },
    dependencies: { sluice },
    devDependencies: Object.fromEntries(PINNED_DEV_DEPENDENCIES.map((name) => [name, pinned(versions, name)])),
    // npm 11 runs only approved install scripts: esbuild's fetches its binary; es5-ext's (via osls) only prints.
    allowScripts: { esbuild: true, 'es5-ext': false },
  };
}

/** Writes the project (and installs it unless told not to). */
export async function initProject(options: InitOptions): Promise<void> {
  const log = options.log ?? (() => undefined);
  const dir = resolve(options.dir);
  const app = appNameOf(dir);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new InitError(`${dir} exists and is not empty`, 'pick a new directory name');
  }
  mkdirSync(dir, { recursive: true });
  const templates = join(packageRoot, 'templates/init');
  for (const file of listFiles(templates)) {
    // npm drops `.gitignore` from packages, so the template is `gitignore`.
    const to = join(dir, file === 'gitignore' ? '.gitignore' : file);
    mkdirSync(dirname(to), { recursive: true });
    writeFileSync(to, readFileSync(join(templates, file), 'utf8').replaceAll('__APP__', app));
  }
  const sluice = options.sluice ?? packSelf(dir, log);
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(projectPackageJson(app, sluice, pinnedVersions()), null, 2)}\n`);
  log(`wrote ${dir} (app "${app}", sluice ${sluice})`);
  if (options.install === false) return;
  log('npm install…');
  npm(['install', '--no-audit', '--no-fund'], dir, 'npm install failed in the new project');
}

/** Exact versions of the pinned dev dependencies: the build's record, or this checkout's lock file. */
export function pinnedVersions(root: string = packageRoot): Record<string, string> {
  const built = join(root, 'dist/cli', INIT_VERSIONS_FILE);
  if (existsSync(built)) return JSON.parse(readFileSync(built, 'utf8')) as Record<string, string>;
  return versionsFromLock(JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as LockFile);
}

/** The lock file's fields that name installed versions. */
export interface LockFile {
  readonly packages: Readonly<Record<string, { readonly version?: string }>>;
}

/** The installed versions of the pinned dev dependencies (pure). */
export function versionsFromLock(lock: LockFile): Record<string, string> {
  return Object.fromEntries(PINNED_DEV_DEPENDENCIES.map((name) => [name, lock.packages[`node_modules/${name}`]?.version ?? '']).filter(([, v]) => v !== ''));
}

function pinned(versions: Readonly<Record<string, string>>, name: string): string {
  const version = versions[name];
  if (!version) throw new InitError(`no pinned version of ${name}`, 'reinstall sluice (its build records the versions), or run from a checkout with package-lock.json');
  return version;
}

/** Packs the running Sluice package into `<dir>/vendor/` and returns the install spec of the tarball. */
function packSelf(dir: string, log: (line: string) => void): string {
  if (!existsSync(join(packageRoot, 'dist/index.js'))) {
    throw new InitError(`Sluice at ${packageRoot} is not built`, 'run `npm run build` in the Sluice checkout first (or pass --sluice <spec>)');
  }
  const vendor = join(dir, 'vendor');
  mkdirSync(vendor, { recursive: true });
  log(`packing sluice from ${packageRoot} into vendor/`);
  // --ignore-scripts: an installed copy cannot run the checkout's build (prepack).
  const out = npm(['pack', packageRoot, '--pack-destination', vendor, '--ignore-scripts', '--silent'], dir, 'npm pack of sluice failed');
  const tarball = out.trim().split('\n').pop() ?? '';
  if (!tarball.endsWith('.tgz') || !existsSync(join(vendor, tarball))) throw new InitError(`npm pack wrote no tarball (said: ${out.trim()})`, 'pass --sluice <spec> instead');
  return `file:vendor/${tarball}`;
}

function npm(args: readonly string[], cwd: string, failure: string): string {
  const result = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.error || result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-20).join('\n');
    throw new InitError(`${failure} (${result.error ? result.error.message : `exit ${String(result.status)}`}):\n${output}`, `fix what npm says, then run \`npm install\` in ${cwd}`);
  }
  return result.stdout;
}

function listFiles(root: string, under = ''): string[] {
  return readdirSync(join(root, under)).flatMap((name) => {
    const path = join(under, name);
    return statSync(join(root, path)).isDirectory() ? listFiles(root, path) : [path];
  });
}
