/**
 * A cross-process lock around `up`/`down`, so a CLI `infra up` and a test run starting at
 * the same moment do not both format the broker. The lock is a file holding the owner's pid;
 * a lock whose owner died is taken over.
 */
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InfraError } from '../../errors.js';
import { isAlive } from './process.js';

// Calls from this process queue here first, so the file lock only arbitrates between processes
// (and a lock file naming our own pid can only be a leftover).
let queue: Promise<unknown> = Promise.resolve();

/** Runs fn while holding the lock file; waits up to timeoutMs for another holder. */
export function withLock<T>(lockFile: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const run = queue.then(() => withFileLock(lockFile, timeoutMs, fn));
  queue = run.catch(() => undefined);
  return run;
}

/**
 * Holds the lock file alone, without queueing behind this process's other `withLock` calls: for
 * work done while an outer `withLock` is held (a LocalStack start installs its venv), which would
 * otherwise wait for itself. Callers serialise their own calls within the process.
 */
export async function withFileLock<T>(lockFile: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(lockFile), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (tryAcquire(lockFile)) break;
    const owner = lockOwner(lockFile);
    if (owner === undefined || owner === process.pid || !isAlive(owner)) {
      // Left behind by a crashed run (or unreadable): take it over.
      rmSync(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new InfraError(
        `Another sluice process (pid ${owner}) is starting or stopping the local infrastructure`,
        `wait for it to finish, or remove ${lockFile} if pid ${owner} is not a sluice process`,
      );
    }
    await sleep(200);
  }
  try {
    return await fn();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

function tryAcquire(lockFile: string): boolean {
  try {
    const fd = openSync(lockFile, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

function lockOwner(lockFile: string): number | undefined {
  try {
    const pid = Number(readFileSync(lockFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
