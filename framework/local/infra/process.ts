/**
 * Background processes of the local infrastructure: spawn detached with output to a log
 * file, remember them in a pid file, recognise them again later (even from another Node
 * process), and stop them. A pid file is trusted only while its pid is alive *and* that
 * process's command line carries our instance tag, so a reused pid is never killed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InfraError } from '../../errors.js';
import type { ServiceName } from './config.js';

/** What a pid file holds: enough to recognise, describe and reach the instance. */
export interface InstanceRecord {
  readonly service: ServiceName;
  readonly pid: number;
  readonly version: string;
  readonly ports: readonly number[];
  /** ISO time of the start. */
  readonly startedAt: string;
  /** A string on the process's command line that marks it as this instance. */
  readonly tag: string;
}

/** What the pid file says about the world right now. */
export type InstanceState =
  | { readonly kind: 'none' }
  | { readonly kind: 'running'; readonly record: InstanceRecord }
  /** The pid file outlived its process (crash, kill -9, reboot) or the pid now belongs to someone else. */
  | { readonly kind: 'stale'; readonly record: InstanceRecord | undefined };

/** How to start one background process. */
export interface SpawnSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** stdout and stderr are appended here. */
  readonly logFile: string;
  /** Environment of the process (default: this one's). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Starts a process that outlives this one (own process group, no stdio ties). Returns its pid. */
export function spawnDetached(spec: SpawnSpec): number {
  mkdirSync(dirname(spec.logFile), { recursive: true });
  const out = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      ...(spec.env ? { env: spec.env } : {}),
      detached: true,
      stdio: ['ignore', out, out],
    });
    if (child.pid === undefined) throw new InfraError(`Could not start ${spec.command}`, `is ${spec.command} on PATH?`);
    // A spawn error (ENOENT) arrives asynchronously; the readiness wait notices the dead pid.
    child.on('error', () => undefined);
    child.unref();
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/** Starts a new log file, keeping the previous one as `<logFile>.1` (the evidence of a crash). */
export function rotateLog(logFile: string): void {
  mkdirSync(dirname(logFile), { recursive: true });
  if (existsSync(logFile)) renameSync(logFile, `${logFile}.1`);
}

/** Runs a short command to completion, appending its output to a log file; throws with the output on failure. */
export async function runToLog(command: string, args: readonly string[], cwd: string, logFile: string, what: string): Promise<void> {
  mkdirSync(dirname(logFile), { recursive: true });
  const { code, output, error } = await new Promise<{ code: number | null; output: string; error?: Error }>((resolve) => {
    const child = spawn(command, [...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.once('error', (e) => resolve({ code: null, output: '', error: e }));
    child.once('close', (c) => resolve({ code: c, output: Buffer.concat(chunks).toString('utf8') }));
  });
  writeFileSync(logFile, `$ ${what}\n${output}\n`, { flag: 'a' });
  if (error || code !== 0) {
    const tail = output.trim().split('\n').slice(-20).join('\n');
    throw new InfraError(
      `${what} failed (${error ? error.message : `exit ${String(code)}`}):\n${tail}`,
      `see ${logFile}`,
      { cause: error },
    );
  }
}

/** Writes a pid file atomically, so a crash never leaves half a record. */
export function writeInstance(pidFile: string, record: InstanceRecord): void {
  mkdirSync(dirname(pidFile), { recursive: true });
  const tmp = `${pidFile}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(tmp, pidFile);
}

/** Reads a pid file; undefined if it is missing, empty or garbled. */
export function readInstance(pidFile: string): InstanceRecord | undefined {
  let text: string;
  try {
    text = readFileSync(pidFile, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as Partial<InstanceRecord>;
    if (typeof value.pid !== 'number' || typeof value.tag !== 'string' || typeof value.service !== 'string') return undefined;
    return value as InstanceRecord;
  } catch {
    return undefined;
  }
}

/** Removes a pid file (no error if it is already gone). */
export function removeInstance(pidFile: string): void {
  rmSync(pidFile, { force: true });
}

/** Classifies a pid file: no file, a live process that is ours, or stale. */
export function inspectInstance(pidFile: string): InstanceState {
  if (!existsSync(pidFile)) return { kind: 'none' };
  const record = readInstance(pidFile);
  if (record === undefined) return { kind: 'stale', record };
  return isOurs(record) ? { kind: 'running', record } : { kind: 'stale', record };
}

/** True if the pid is alive and its command line carries the record's tag. */
export function isOurs(record: InstanceRecord): boolean {
  if (!isAlive(record.pid)) return false;
  const cmd = commandLine(record.pid);
  return cmd !== undefined && cmd.includes(record.tag);
}

/** True if a process with this pid exists (zombies included). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to another user, so it is certainly not ours.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process's command line, or undefined if it is gone or a zombie. */
export function commandLine(pid: number): string | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.length > 0 ? raw.split('\0').join(' ') : undefined;
  } catch {
    // No /proc (macOS): ask ps.
    const ps = spawnSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
    const out = ps.status === 0 ? ps.stdout.trim() : '';
    return out.length > 0 ? out : undefined;
  }
}

/** Stops a process: SIGTERM, wait up to graceMs, then SIGKILL. Resolves once it is gone. */
export async function stopProcess(pid: number, graceMs = 10_000): Promise<'terminated' | 'killed' | 'gone'> {
  if (!signal(pid, 'SIGTERM')) return 'gone';
  if (await waitForExit(pid, graceMs)) return 'terminated';
  signal(pid, 'SIGKILL');
  if (await waitForExit(pid, 5_000)) return 'killed';
  throw new InfraError(`Process ${pid} survived SIGKILL`, `check it with: ps -p ${pid}`);
}

/** Kills a process at once (SIGKILL, like a crash or an OOM kill). Resolves once it is gone. */
export async function killProcess(pid: number): Promise<'killed' | 'gone'> {
  if (!signal(pid, 'SIGKILL')) return 'gone';
  if (await waitForExit(pid, 5_000)) return 'killed';
  throw new InfraError(`Process ${pid} survived SIGKILL`, `check it with: ps -p ${pid}`);
}

/** The last lines of a log file, or a note that there is none yet. */
export async function tailFile(path: string, lines = 40): Promise<string> {
  try {
    const size = statSync(path).size;
    const text = await readFile(path, 'utf8');
    const tail = text.split('\n').slice(-lines - 1).join('\n');
    return size === 0 ? `(${path} is empty)` : tail;
  } catch {
    return `(no log file at ${path})`;
  }
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (hasExited(pid)) return true;
    await sleep(100);
  }
  return false;
}

/**
 * True once the process is gone or a zombie (exited, not yet reaped by its parent) whose
 * threads have all exited too. The main thread of a JVM becomes a zombie, and its command line
 * empty, while its other threads are still tearing down and the process still holds its files
 * and listening ports; a new instance started then fails with "port in use".
 */
function hasExited(pid: number): boolean {
  if (!isAlive(pid)) return true;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    // No /proc (macOS), or it just went: a zombie has no command line.
    return commandLine(pid) === undefined;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state !== 'Z' && state !== 'X') return false;
  try {
    return readdirSync(`/proc/${pid}/task`).length <= 1;
  } catch {
    return true;
  }
}
