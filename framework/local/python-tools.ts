/**
 * Python tools Sluice runs but does not ship (cfn-lint, LocalStack), each installed from PyPI into
 * its own virtual environment under a cache folder shared by every checkout on the machine
 * (`$SLUICE_CACHE_DIR`, else `$XDG_CACHE_HOME/sluice`, else `~/.cache/sluice`). A venv is keyed by
 * its requirements, its constraints file's content and the Python it runs on, so a changed pin
 * gets a new venv and never a half-upgraded one; a marker file written last says it is complete.
 * Venvs cannot be moved (their scripts name their own path), so one is built in place under a
 * lock and a venv without its marker is rebuilt. Venvs of other pins stay (another checkout on
 * the machine may still use them); `rm -rf` the cache folder to reclaim the space.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InfraError } from '../errors.js';
import { withFileLock } from './infra/lock.js';
import { runToLog } from './infra/process.js';

/** A tool to install: what pip installs, pinned, and optionally a constraints file for its dependencies. */
export interface PythonToolSpec {
  /** Folder-name prefix of its venv, e.g. `cfn-lint`. */
  readonly name: string;
  /** pip requirement specifiers, pinned (`cfn-lint==1.58.0`). */
  readonly requirements: readonly string[];
  /** A pip constraints file pinning every transitive dependency. */
  readonly constraintsFile?: string;
  /** Oldest Python the tool runs on, as [major, minor]. */
  readonly minPython: readonly [number, number];
  /** Newest Python its pins were resolved for, if they only hold up to one. */
  readonly maxPython?: readonly [number, number];
}

/** An installed tool: its venv and the interpreter inside it. */
export interface PythonTool {
  readonly venv: string;
  readonly python: string;
  /** True when this call built the venv. */
  readonly installed: boolean;
}

/** Where Python tool venvs live. */
export function pythonCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SLUICE_CACHE_DIR) return join(env.SLUICE_CACHE_DIR, 'python');
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sluice', 'python');
}

/** Name of the file that marks a venv as completely installed. */
const COMPLETE_MARKER = '.sluice-complete.json';
/** pip with a cold cache downloads a few hundred MB for LocalStack on a slow mirror. */
const INSTALL_TIMEOUT_MS = 900_000;

/** Installs in flight in this process, by venv: a second caller waits for the first. */
const installing = new Map<string, Promise<PythonTool>>();

/** Installs the tool unless its venv is already complete; returns where it is. */
export async function ensurePythonTool(spec: PythonToolSpec, log: (line: string) => void = () => undefined, env: NodeJS.ProcessEnv = process.env): Promise<PythonTool> {
  const python = findPython(spec.minPython, env, spec.maxPython);
  const key = createHash('sha256')
    .update(JSON.stringify({ requirements: spec.requirements, python: python.version }))
    .update(spec.constraintsFile ? readFileSync(spec.constraintsFile) : '')
    .digest('hex')
    .slice(0, 12);
  const cache = pythonCacheDir(env);
  const venv = join(cache, `${spec.name}-${key}`);
  const venvPython = join(venv, 'bin', 'python');
  if (existsSync(join(venv, COMPLETE_MARKER))) return { venv, python: venvPython, installed: false };
  mkdirSync(cache, { recursive: true });
  const pending = installing.get(venv);
  if (pending) return pending;
  const install = installVenv(spec, python, cache, venv, key, log);
  installing.set(venv, install);
  try {
    return await install;
  } finally {
    installing.delete(venv);
  }
}

/** Builds the venv under a file lock, so two processes never build the same one at once. */
function installVenv(spec: PythonToolSpec, python: PythonInterpreter, cache: string, venv: string, key: string, log: (line: string) => void): Promise<PythonTool> {
  const venvPython = join(venv, 'bin', 'python');
  return withFileLock(join(cache, `${spec.name}.lock`), INSTALL_TIMEOUT_MS, async () => {
    // Another process may have finished it while we waited for the lock.
    if (existsSync(join(venv, COMPLETE_MARKER))) return { venv, python: venvPython, installed: false };
    rmSync(venv, { recursive: true, force: true });
    const logFile = join(cache, `${spec.name}-${key}.install.log`);
    log(`installing ${spec.requirements.join(' ')} from PyPI into ${venv} (Python ${python.version.join('.')})`);
    await runToLog(python.path, ['-m', 'venv', venv], cache, logFile, `${python.path} -m venv ${venv}`);
    const pip = [
      '-m',
      'pip',
      'install',
      '--disable-pip-version-check',
      '--no-input',
      '--quiet',
      ...(spec.constraintsFile ? ['--constraint', spec.constraintsFile] : []),
      ...spec.requirements,
    ];
    await runToLog(venvPython, pip, cache, logFile, `pip install ${spec.requirements.join(' ')}`);
    writeFileSync(join(venv, COMPLETE_MARKER), `${JSON.stringify({ requirements: spec.requirements, python: python.version, at: new Date().toISOString() })}\n`);
    return { venv, python: venvPython, installed: true };
  });
}

/** A Python interpreter and its version. */
export interface PythonInterpreter {
  readonly path: string;
  readonly version: readonly [number, number];
}

/**
 * The newest Python from `min` up to `max` it can find: `$SLUICE_PYTHON` if set, else
 * `python3.N` on PATH from the newest N down, pyenv's versions, then `python3`.
 */
export function findPython(min: readonly [number, number], env: NodeJS.ProcessEnv = process.env, max: readonly [number, number] = [3, 14]): PythonInterpreter {
  const fits = (v: readonly [number, number]): boolean => compare(v, min) >= 0 && compare(v, max) <= 0;
  const candidates: string[] = [];
  if (env.SLUICE_PYTHON) candidates.push(env.SLUICE_PYTHON);
  for (let minor = max[1]; minor >= min[1]; minor -= 1) candidates.push(`python${min[0]}.${minor}`);
  const pyenv = join(env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'versions');
  if (existsSync(pyenv)) {
    const versions = readdirSync(pyenv).filter((v) => /^\d+\.\d+\.\d+$/.test(v)).sort(compareVersions).reverse();
    for (const v of versions) candidates.push(join(pyenv, v, 'bin', 'python3'));
  }
  candidates.push('python3');
  const seen: string[] = [];
  for (const candidate of candidates) {
    const version = pythonVersion(candidate);
    if (version === undefined) continue;
    seen.push(`${candidate} (${version.join('.')})`);
    if (fits(version)) return { path: candidate, version };
    if (candidate === env.SLUICE_PYTHON) break;
  }
  throw new InfraError(
    `no Python ${min.join('.')} to ${max.join('.')} found${seen.length > 0 ? `; found ${seen.join(', ')}` : ''}`,
    `install Python ${min.join('.')}+ (Debian: apt-get install python3; or pyenv install ${min.join('.')}) or point SLUICE_PYTHON at one`,
  );
}

function pythonVersion(command: string): [number, number] | undefined {
  const r = spawnSync(command, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) return undefined;
  const m = /^(\d+)\.(\d+)$/.exec(r.stdout.trim());
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function compare(a: readonly [number, number], b: readonly [number, number]): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i += 1) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}
