/**
 * `sluice savepoint export|import`: a stage's checkpoints and committed state to and from a
 * JSON-lines file (savepoint-format.ts).
 *
 * Rules:
 * - Both refuse while any task of the stage has a pending batch: its outcome is not known yet.
 * - Export is a consistent cut: checkpoints are read before and after the state; if any version
 *   moved (a batch committed meanwhile) it reads again, and gives up after a few tries.
 * - Import refuses a stage that has any checkpoint unless `force`. Each task is rebased
 *   (DynamoTaskStore.rebase): its state becomes the file's, as a fresh snapshot, and its position
 *   the file's, conditional on the version read.
 * - Batch sequence numbers never go backwards: a rebase puts a task a whole ring above every
 *   number already used in this table, so provenance (task, seq, idx) of new outputs never repeats
 *   one already written, and no batch record written before is read again.
 * - The stage's triggers should be disabled while importing: the conditional checkpoint writes
 *   fence batches in flight, but cannot keep a zombie's outputs from landing in Kafka.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { StateEntry } from '../state/codec.js';
import { INITIAL_TIME, type TimeState } from '../time/watermark.js';
import { OpsError } from './errors.js';
import { parseSavepoint, savepointLines, type Savepoint, type SavepointCheckpoint, type SavepointState, type SavepointTimer } from './savepoint-format.js';
import { assertNoPending, loadTaskState, readCheckpoints, rebaseTasks, tableOf, type StoredCheckpoint } from './stage-items.js';
import { requireStage, stageTasks } from './stages.js';
import { checkTable, type OpsTarget } from './target.js';

/** What an export wrote. */
export interface ExportResult {
  readonly file: string;
  readonly tasks: number;
  readonly state: number;
  readonly timers: number;
}

const CUT_ATTEMPTS = 5;

/** Reads a stage's savepoint (a consistent cut). */
export async function readSavepoint(target: OpsTarget, stageName: string, now: () => number = Date.now): Promise<Savepoint> {
  const { topology } = target;
  const stage = requireStage(topology, stageName);
  const tasks = stageTasks(topology, stage);
  const table = tableOf(target);
  await checkTable(target);
  for (let attempt = 1; attempt <= CUT_ATTEMPTS; attempt++) {
    const before = await readCheckpoints(table, tasks);
    assertNoPending(before, stage.name, 'export a savepoint');
    const state: SavepointState[] = [];
    for (const s of before) {
      for (const e of await loadTaskState(table, s)) {
        if (!e.value) continue;
        state.push({ type: 'state', task: s.task.id, key: e.key.toString('base64'), name: e.name, value: e.value.bytes.toString('base64'), ...(e.value.expiresAt !== undefined ? { expiresAt: e.value.expiresAt } : {}) });
      }
    }
    const after = await readCheckpoints(table, tasks);
    // A batch committed meanwhile (the checkpoint protocol moves the version, the changelog protocol the batch number).
    if (after.some((a, i) => a.checkpoint.version !== before[i]!.checkpoint.version || a.checkpoint.committedSeq !== before[i]!.checkpoint.committedSeq)) continue;
    return {
      header: { format: 'sluice-savepoint', version: 2, app: topology.app, stage: stage.name, exportedAt: new Date(now()).toISOString(), tasks: tasks.map((t) => t.id), counts: { checkpoint: after.length, state: state.length, timer: 0 } },
      checkpoints: after.map((s) => toLine(s)),
      state,
      timers: [],
    };
  }
  throw new OpsError('SLUICE_OPS_CONFLICT', `stage ${stage.name} kept committing batches while the savepoint was read (${CUT_ATTEMPTS} tries)`, { stage: stage.name }, 'disable the stage\'s triggers (or wait for a quiet moment) and export again');
}

/** Exports a stage's savepoint to `file`. */
export async function exportSavepoint(target: OpsTarget, stageName: string, file: string): Promise<ExportResult> {
  const sp = await readSavepoint(target, stageName);
  await writeFile(file, `${savepointLines(sp).join('\n')}\n`, 'utf8');
  return { file, tasks: sp.checkpoints.length, state: sp.state.length, timers: sp.timers.length };
}

/** What an import did. */
export interface ImportResult {
  readonly tasks: number;
  readonly state: number;
  readonly timers: number;
  /** State entries the import replaced (with `force`). */
  readonly deleted: number;
  /** The app the savepoint came from, when it is not this one. */
  readonly fromApp: string | undefined;
}

/** Imports a savepoint file into a stage; see the rules at the top of this file. */
export async function importSavepoint(target: OpsTarget, stageName: string, file: string, options: ImportOptions = {}): Promise<ImportResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new OpsError('SLUICE_OPS_SAVEPOINT', `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`, { field: 'file' }, 'pass the path of a file written by `sluice savepoint export`', { cause: err });
  }
  return importSavepointData(target, stageName, parseSavepoint(text, file), options);
}

/** Imports a parsed savepoint into a stage. */
/** Options of an import. */
export interface ImportOptions {
  readonly force?: boolean;
  /** Progress of the long phases (`delete`, `write`), in items. */
  readonly onProgress?: (phase: 'delete' | 'write', done: number, total: number) => void;
}

/** Imports a parsed savepoint into a stage. */
export async function importSavepointData(target: OpsTarget, stageName: string, sp: Savepoint, options: ImportOptions = {}): Promise<ImportResult> {
  const { topology } = target;
  const stage = requireStage(topology, stageName);
  if (sp.header.stage !== stage.name) {
    throw new OpsError('SLUICE_OPS_SAVEPOINT', `the savepoint is of stage "${sp.header.stage}", not "${stage.name}"`, { stage: stage.name }, `import it into stage ${sp.header.stage}`);
  }
  const tasks = stageTasks(topology, stage);
  const ids = tasks.map((t) => t.id);
  if (ids.length !== sp.header.tasks.length || !ids.every((id) => sp.header.tasks.includes(id))) {
    throw new OpsError(
      'SLUICE_OPS_SAVEPOINT',
      `the savepoint has tasks ${sp.header.tasks.join(', ')}; stage ${stage.name} has ${ids.join(', ')}`,
      { stage: stage.name },
      'partition counts decide which task owns a key, so a savepoint only fits a stage with the same inputs and partition counts',
    );
  }
  const table = tableOf(target);
  await checkTable(target);
  const current = await readCheckpoints(table, tasks);
  assertNoPending(current, stage.name, 'import a savepoint');
  const occupied = current.filter((c) => c.exists);
  if (!options.force && occupied.length > 0) {
    throw new OpsError(
      'SLUICE_OPS_NOT_EMPTY',
      `stage ${stage.name} is not empty: ${occupied.length} task(s) have a checkpoint (${occupied.map((c) => c.task.id).join(', ')})`,
      { stage: stage.name },
      'import into a fresh stage, or pass --force to replace its checkpoints and state',
    );
  }
  const entries = new Map<string, StateEntry[]>(tasks.map((t) => [t.id, []]));
  for (const s of sp.state) entries.get(s.task)!.push({ key: Buffer.from(s.key, 'base64'), name: s.name, value: { bytes: Buffer.from(s.value, 'base64'), expiresAt: s.expiresAt } });
  for (const e of timerEntriesOfV1(sp.timers)) entries.get(e.task)!.push(e.entry);
  const lines = new Map(sp.checkpoints.map((c) => [c.task, c]));
  let deleted = 0;
  if (options.force) for (const c of occupied) deleted += (await loadTaskState(table, c)).length;
  let written = 0;
  await rebaseTasks(
    table,
    current.map((c) => {
      const line = lines.get(c.task.id);
      const own = entries.get(c.task.id) ?? [];
      written += own.length;
      options.onProgress?.('write', written, sp.state.length);
      return { stored: c, entries: own, nextOffset: line?.nextOffset ?? -1, time: timeOfLine(line), atLeastSeq: Math.max(line?.committedSeq ?? 0, ...(line?.holes ?? [])) };
    }),
    stage.name,
  );
  return { tasks: tasks.length, state: sp.state.length, timers: sp.timers.length, deleted, fromApp: sp.header.app === topology.app ? undefined : sp.header.app };
}

/** A checkpoint line's event time: `time` (version 2) or `extra.time` (version 1). */
function timeOfLine(line: SavepointCheckpoint | undefined): TimeState {
  const t = (line?.time ?? (line?.extra?.['time'] as Readonly<Record<string, unknown>> | undefined)) as Partial<TimeState> | undefined;
  return t ? { ...INITIAL_TIME, ...t } : INITIAL_TIME;
}

/**
 * Version-1 timer lines as state entries (pure): a process operator's timers (`process-<node>`)
 * become its timer set (time/task-timers.ts); a window's timers are dropped, as they follow from
 * the window's state. The sort key is `<e|p>#<time + 2^53 − 1, 17 digits>#<base64url key>#<name>`.
 */
export function timerEntriesOfV1(timers: readonly SavepointTimer[]): Array<{ task: string; entry: StateEntry }> {
  const sets = new Map<string, { task: string; key: Buffer; name: string; e: number[]; p: number[] }>();
  for (const t of timers) {
    const [kind, time, key, ...rest] = t.sk.split('#');
    const name = rest.join('#');
    if (!name.startsWith('process-')) continue;
    const id = `${t.task}\u0000${key}\u0000${name}`;
    const set = sets.get(id) ?? { task: t.task, key: Buffer.from(key ?? '', 'base64url'), name, e: [], p: [] };
    (kind === 'e' ? set.e : set.p).push(Number(BigInt(time ?? '0') - BigInt(Number.MAX_SAFE_INTEGER)));
    sets.set(id, set);
  }
  return [...sets.values()].map((s) => ({
    task: s.task,
    entry: { key: s.key, name: s.name, value: { bytes: Buffer.from(JSON.stringify({ e: s.e.sort((a, b) => a - b), p: s.p.sort((a, b) => a - b) })), expiresAt: undefined } },
  }));
}

function toLine(s: StoredCheckpoint): SavepointCheckpoint {
  const c = s.checkpoint;
  return { type: 'checkpoint', task: s.task.id, exists: s.exists, committedSeq: c.committedSeq, holes: [...c.holes], nextOffset: c.nextOffset, time: c.time as unknown as Readonly<Record<string, unknown>> };
}
