/**
 * `sluice savepoint export|import`: a stage's checkpoints and committed state (keyed state and
 * timers) to and from a JSON-lines file (savepoint-format.ts).
 *
 * Rules:
 * - Both refuse while any task of the stage has a pending batch: its outcome is not known yet.
 * - Export is a consistent cut: checkpoints are read before and after the items; if any version
 *   moved (a batch committed meanwhile) it reads again, and gives up after a few tries.
 * - Import refuses a stage that has any checkpoint or state unless `force`; with `force` it
 *   deletes the stage's state and timers first. Imported values are written as committed
 *   (nothing staged), then every checkpoint in transactions conditional on the versions read.
 * - Batch sequence numbers never go backwards: an imported checkpoint's committedSeq is the
 *   larger of the file's and the one already used in this table, so provenance (task, seq, idx)
 *   of new outputs never repeats one already written.
 * - The stage's triggers should be disabled while importing: the conditional checkpoint writes
 *   fence batches in flight, but cannot keep a new batch from reading half-imported state.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Checkpoint } from '../commit/ports.js';
import { decodeStateItem, nextSeq, resolveCommitted, stateItemKey, timerPartitionKey, ttlOf, type Item, type ItemKey } from '../dynamodb/layout.js';
import { OpsError } from './errors.js';
import { parseSavepoint, savepointLines, type Savepoint, type SavepointCheckpoint, type SavepointState, type SavepointTimer } from './savepoint-format.js';
import {
  assertNoPending,
  deleteItems,
  itemKeyOf,
  putItems,
  queryTimerItems,
  readCheckpoints,
  scanStateItems,
  writeCheckpoints,
  type StoredCheckpoint,
  type TableRef,
} from './stage-items.js';
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
    const stateItems = await scanStateItems(table, topology.app, stage.name);
    const timerItems = (await Promise.all(tasks.map(async (t) => (await queryTimerItems(table, topology.app, t.id)).map((item) => ({ task: t, item }))))).flat();
    const after = await readCheckpoints(table, tasks);
    if (after.some((a, i) => a.checkpoint.version !== before[i]!.checkpoint.version)) continue;
    const byTask = new Map(after.map((s) => [s.task.id, s.checkpoint]));
    const at = now();
    const state: SavepointState[] = [];
    for (const item of stateItems) {
      const owner = item['p']?.S ?? '';
      const ckpt = byTask.get(owner);
      if (!ckpt) {
        throw new OpsError('SLUICE_OPS_SAVEPOINT', `state item ${item['pk']?.S}/${item['sk']?.S} belongs to task "${owner}", which stage ${stage.name} does not have`, { stage: stage.name }, 'the partition count changed since the state was written; such state cannot be exported');
      }
      const value = resolveCommitted(decodeStateItem(item), ckpt, at);
      if (value === undefined) continue;
      state.push({ type: 'state', task: owner, key: keyOfStatePk(item['pk']?.S ?? '', topology.app, stage.name), name: item['sk']?.S ?? '', value: value.bytes.toString('base64'), ...(value.expiresAt !== undefined ? { expiresAt: value.expiresAt } : {}) });
    }
    const timers: SavepointTimer[] = [];
    for (const { task, item } of timerItems) {
      const value = resolveCommitted(decodeStateItem(item), byTask.get(task.id)!, at);
      if (value === undefined) continue;
      timers.push({ type: 'timer', task: task.id, sk: item['sk']?.S ?? '', value: value.bytes.toString('base64'), ...(value.expiresAt !== undefined ? { expiresAt: value.expiresAt } : {}) });
    }
    return {
      header: { format: 'sluice-savepoint', version: 1, app: topology.app, stage: stage.name, exportedAt: new Date(at).toISOString(), tasks: tasks.map((t) => t.id), counts: { checkpoint: after.length, state: state.length, timer: timers.length } },
      checkpoints: after.map((s) => toLine(s)),
      state,
      timers,
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
  /** Items of the stage deleted first (with `force`). */
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
  const stateItems = await scanStateItems(table, topology.app, stage.name);
  const timerItems = (await Promise.all(tasks.map((t) => queryTimerItems(table, topology.app, t.id)))).flat();
  const occupied = current.filter((c) => c.exists).length;
  if (!options.force && (occupied > 0 || stateItems.length > 0 || timerItems.length > 0)) {
    throw new OpsError(
      'SLUICE_OPS_NOT_EMPTY',
      `stage ${stage.name} is not empty: ${occupied} checkpoint(s), ${stateItems.length} state item(s), ${timerItems.length} timer(s)`,
      { stage: stage.name },
      'import into a fresh stage, or pass --force to replace its checkpoints and delete its state and timers',
    );
  }
  const deleted = await deleteItems(table, [...stateItems, ...timerItems].map(itemKeyOf), (d, t) => options.onProgress?.('delete', d, t));
  await putItems(table, [
    ...sp.state.map((s) => committedItem(stateItemKey(topology.app, stage.name, Buffer.from(s.key, 'base64'), s.name), s.task, s)),
    ...sp.timers.map((t) => committedItem({ pk: timerPartitionKey(topology.app, t.task), sk: t.sk }, t.task, t)),
  ], (d, t) => options.onProgress?.('write', d, t));
  const lines = new Map(sp.checkpoints.map((c) => [c.task, c]));
  await writeCheckpoints(
    table,
    current.map((c) => {
      const line = lines.get(c.task.id);
      return {
        task: c.task,
        expectedVersion: c.checkpoint.version,
        committedSeq: Math.max(line?.committedSeq ?? 0, ...(line?.holes ?? []), lastUsedSeq(c.checkpoint)),
        // Every staged value of the stage is gone (deleted or never there) and imported values
        // are committed outright, so no hole can matter any more.
        holes: [],
        nextOffset: line?.nextOffset ?? -1,
        extra: line?.extra ?? {},
      };
    }),
    stage.name,
  );
  return { tasks: tasks.length, state: sp.state.length, timers: sp.timers.length, deleted, fromApp: sp.header.app === topology.app ? undefined : sp.header.app };
}

/** The highest batch seq a task has used (committed, abandoned or pending); 0 if none (pure). */
export function lastUsedSeq(checkpoint: Checkpoint): number {
  return nextSeq(checkpoint) - 1;
}

/** A state or timer item holding `value` as committed, owned by `task` (pure). */
export function committedItem(key: ItemKey, task: string, value: { value: string; expiresAt?: number }): Item {
  const item: Item = { pk: { S: key.pk }, sk: { S: key.sk }, p: { S: task }, v: { B: Buffer.from(value.value, 'base64') } };
  if (value.expiresAt !== undefined) item['ve'] = { N: String(value.expiresAt) };
  const ttl = ttlOf([value.expiresAt ?? null]);
  if (ttl !== undefined) item['ttl'] = { N: String(ttl) };
  return item;
}

function toLine(s: StoredCheckpoint): SavepointCheckpoint {
  const c = s.checkpoint;
  return { type: 'checkpoint', task: s.task.id, exists: s.exists, committedSeq: c.committedSeq, holes: [...c.holes], nextOffset: c.nextOffset, extra: c.extra };
}

/** The base64 key bytes of a state item's partition key. */
function keyOfStatePk(pk: string, app: string, stage: string): string {
  const prefix = stateItemKey(app, stage, Buffer.alloc(0), 'prefix').pk;
  return Buffer.from(pk.slice(prefix.length), 'base64url').toString('base64');
}

function tableOf(target: OpsTarget): TableRef {
  return { client: target.dynamo, table: target.table };
}
