/**
 * The savepoint file: JSON lines, a header first, then one line per checkpoint and committed
 * state value of one stage, bytes in base64. The header counts every kind of line, so a cut-off
 * file is refused on import.
 *
 *   {"format":"sluice-savepoint","version":2,"app":"clicks","stage":"by-user","exportedAt":"…","tasks":["by-user.0",…],"counts":{"checkpoint":4,"state":120,"timer":0}}
 *   {"type":"checkpoint","task":"by-user.0","exists":true,"committedSeq":17,"holes":[],"nextOffset":812,"time":{…}}
 *   {"type":"state","task":"by-user.0","key":"ImFubiI=","name":"count","value":"NDI=","expiresAt":1767225600000}
 *
 * Version 2 (state v2, docs/state-layout.md) has no timer lines: a window's timers follow from its
 * state and a process operator's timers are a state entry of their own. Version 1 files (per-key
 * items) still import: their checkpoints carry event time in `extra.time`, and their timer lines
 * become timer-set entries (process operators) or are dropped (windows: derived again).
 */
import { OpsError } from './errors.js';

/** Format name in the header. */
export const SAVEPOINT_FORMAT = 'sluice-savepoint';
/** The format version this code writes; it reads this one and version 1. */
export const SAVEPOINT_VERSION = 2;

/** The first line. */
export interface SavepointHeader {
  readonly format: typeof SAVEPOINT_FORMAT;
  readonly version: number;
  readonly app: string;
  readonly stage: string;
  readonly exportedAt: string;
  /** Every task of the stage when exported (the partition layout). */
  readonly tasks: readonly string[];
  readonly counts: { readonly checkpoint: number; readonly state: number; readonly timer: number };
}

/** A task's checkpoint (never with a pending batch). */
export interface SavepointCheckpoint {
  readonly type: 'checkpoint';
  readonly task: string;
  /** false when the task had never committed. */
  readonly exists: boolean;
  readonly committedSeq: number;
  readonly holes: readonly number[];
  readonly nextOffset: number;
  /** The task's event time (version 2). */
  readonly time?: Readonly<Record<string, unknown>>;
  /** Version 1: protocol extras, event time in `extra.time`. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** One committed state value. */
export interface SavepointState {
  readonly type: 'state';
  readonly task: string;
  /** Key bytes, base64. */
  readonly key: string;
  readonly name: string;
  /** Value bytes, base64. */
  readonly value: string;
  readonly expiresAt?: number;
}

/** One committed timer item (its sort key says kind, time, key and operator). */
export interface SavepointTimer {
  readonly type: 'timer';
  readonly task: string;
  readonly sk: string;
  readonly value: string;
  readonly expiresAt?: number;
}

/** A parsed savepoint. */
export interface Savepoint {
  readonly header: SavepointHeader;
  readonly checkpoints: readonly SavepointCheckpoint[];
  readonly state: readonly SavepointState[];
  readonly timers: readonly SavepointTimer[];
}

/** The file's lines, header first (pure). */
export function savepointLines(sp: Omit<Savepoint, 'header'> & { header: Omit<SavepointHeader, 'counts' | 'format' | 'version'> }): string[] {
  const header: SavepointHeader = {
    format: SAVEPOINT_FORMAT,
    version: SAVEPOINT_VERSION,
    ...sp.header,
    counts: { checkpoint: sp.checkpoints.length, state: sp.state.length, timer: sp.timers.length },
  };
  return [header, ...sp.checkpoints, ...sp.state, ...sp.timers].map((l) => JSON.stringify(l));
}

/** Parses and checks a savepoint file's text (pure); errors name the line. */
export function parseSavepoint(text: string, file: string): Savepoint {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const bad = (line: number, why: string): OpsError =>
    new OpsError('SLUICE_OPS_SAVEPOINT', `${file}:${line}: ${why}`, { field: 'file' }, 'savepoint files are written by `sluice savepoint export`; do not edit them by hand');
  const parsed = lines.map((l, i) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      throw bad(i + 1, 'not JSON');
    }
  });
  const header = parsed[0];
  if (!header || header['format'] !== SAVEPOINT_FORMAT) throw bad(1, `not a savepoint (the first line must have "format":"${SAVEPOINT_FORMAT}")`);
  const version = header['version'];
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) throw bad(1, 'the header has no valid version');
  if (version > SAVEPOINT_VERSION) {
    throw new OpsError('SLUICE_OPS_SAVEPOINT', `${file} is savepoint format version ${version}; this Sluice reads up to ${SAVEPOINT_VERSION}`, { field: 'file' }, 'import it with the Sluice version that exported it, or a newer one');
  }
  const str = (v: unknown): v is string => typeof v === 'string' && v !== '';
  const int = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
  if (!str(header['app']) || !str(header['stage']) || !Array.isArray(header['tasks']) || !header['tasks'].every(str)) throw bad(1, 'the header needs app, stage and tasks');
  const counts = header['counts'] as Record<string, unknown> | undefined;
  if (!counts || !int(counts['checkpoint']) || !int(counts['state']) || !int(counts['timer'])) throw bad(1, 'the header needs counts');
  const tasks = new Set(header['tasks'] as string[]);
  const checkpoints: SavepointCheckpoint[] = [];
  const state: SavepointState[] = [];
  const timers: SavepointTimer[] = [];
  parsed.slice(1).forEach((l, i) => {
    const n = i + 2;
    if (!str(l['task']) || !tasks.has(l['task'])) throw bad(n, `task ${JSON.stringify(l['task'])} is not in the header's tasks`);
    const expiresOk = l['expiresAt'] === undefined || int(l['expiresAt']);
    switch (l['type']) {
      case 'checkpoint':
        if (!int(l['committedSeq']) || !int(l['nextOffset']) || !Array.isArray(l['holes']) || !l['holes'].every(int) || typeof l['exists'] !== 'boolean') {
          throw bad(n, 'a checkpoint needs exists, committedSeq, holes and nextOffset');
        }
        if (version === 1 ? typeof l['extra'] !== 'object' || l['extra'] === null : l['time'] !== undefined && (typeof l['time'] !== 'object' || l['time'] === null)) {
          throw bad(n, version === 1 ? 'a version-1 checkpoint needs extra' : 'a checkpoint\'s time must be an object');
        }
        checkpoints.push(l as unknown as SavepointCheckpoint);
        return;
      case 'state':
        if (typeof l['key'] !== 'string' || !str(l['name']) || typeof l['value'] !== 'string' || !expiresOk) throw bad(n, 'a state line needs key, name, value (base64) and an integer expiresAt if any');
        state.push(l as unknown as SavepointState);
        return;
      case 'timer':
        if (version > 1) throw bad(n, 'timer lines exist only in version-1 savepoints');
        if (!str(l['sk']) || typeof l['value'] !== 'string' || !expiresOk) throw bad(n, 'a timer line needs sk and value');
        timers.push(l as unknown as SavepointTimer);
        return;
      default:
        throw bad(n, `unknown line type ${JSON.stringify(l['type'])}`);
    }
  });
  const seen = new Set(checkpoints.map((c) => c.task));
  if (seen.size !== checkpoints.length) throw bad(1, 'a task has two checkpoint lines');
  const got = { checkpoint: checkpoints.length, state: state.length, timer: timers.length };
  if (got.checkpoint !== counts['checkpoint'] || got.state !== counts['state'] || got.timer !== counts['timer']) {
    throw new OpsError(
      'SLUICE_OPS_SAVEPOINT',
      `${file} is incomplete: the header counts ${JSON.stringify(counts)}, the file has ${JSON.stringify(got)}`,
      { field: 'file' },
      'the file was cut off or edited; export it again',
    );
  }
  return { header: header as unknown as SavepointHeader, checkpoints, state, timers };
}
