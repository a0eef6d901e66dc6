/**
 * The changelog commit protocol of one task (pipeline option `commit: 'changelog'`,
 * docs/changelog-protocol.md), as named phases:
 *
 *   take     claim the task's one transactional id (a container's first use fences every older
 *            producer of it, data and control alike, and so decides their open transactions); then
 *            read the task's changelog partition from where this container's view of the task
 *            ends (warm) or from its DynamoDB snapshot (cold), up to the last stable offset
 *   open     the batch's sequence number (the view's + 1) and its Kafka transaction
 *   commit   outputs, marks and one changelog record (sequence number, input position, event time,
 *            state changes; changes longer than a Kafka record go in consecutive parts, each a
 *            record) into the transaction → commit it: the decision point. Nothing is written to
 *            DynamoDB
 *   compact  now and then, after a commit: the task's state, position and event time as of that
 *            batch become its DynamoDB snapshot, with the changelog offset after it; the changelog
 *            before the previous snapshot is then trimmed
 *
 * Invariant: a batch's outputs, marks, state changes and input position become visible together
 * or not at all, exactly once. The changelog partition has one writer, the task's transactional
 * id; Kafka's fencing serialises its invocations (data, control, zombies): a producer's transaction
 * can commit only if no producer of the id was initialised after it, and a newer producer's take
 * reads every transaction committed before its initialisation. So the committed changelog records
 * of a task carry the sequence numbers 1, 2, 3, … with no gap or repeat, and every committed batch
 * started from the view its predecessor committed.
 */
import type { StateEntry } from '../state/codec.js';
import { decodeEntries, encodeEntries } from '../state/codec.js';
import { buildSnapshot } from '../state/committed.js';
import { stateMapKey, isLive } from '../state/task-state.js';
import { changelogBatches, changelogRecords, MAX_CHANGELOG_PART_BYTES } from '../record/changelog.js';
import type { OutgoingRecord } from '../record/record.js';
import type { TimeState } from '../time/watermark.js';
import type { Checkpoint, FaultHook, KafkaTxn, LogPartition, LogRecord, TaskLog, TaskRef, TaskStore, TxnSink } from './ports.js';
import { ChangelogTrimmed, CheckpointConflict, SimulatedCrash } from './ports.js';
import { emptySnapshot, nextBank, TaskStateCorrupt, type CompactionPolicy } from './checkpoint.js';
import type { OpenBatch } from './protocol.js';

/** What the changelog protocol needs besides the batch's sink (commit/protocol.ts CommitDeps). */
export interface ChangelogDeps {
  readonly store: TaskStore;
  readonly log: TaskLog;
  readonly fault?: FaultHook | undefined;
  /** When a task writes a snapshot (default DEFAULT_LOG_COMPACTION). */
  readonly compaction?: CompactionPolicy | undefined;
  readonly snapshotId?: (() => string) | undefined;
}

/**
 * Snapshot every 1,000 batches, or once the changes since the snapshot outweigh it (and 256 KB): a
 * cold start then reads at most about twice the state's size, and snapshots cost DynamoDB at most
 * about one write of each changed byte.
 */
export const DEFAULT_LOG_COMPACTION: CompactionPolicy = { everyBatches: 1_000, minBytes: 256 * 1024 };

/**
 * A task as a container knows it: `base`, the DynamoDB checkpoint it last read or wrote (a snapshot,
 * the batch it is as of, the changelog offset after it; undefined after a failed compaction: read
 * it again), and `view`, the task after its last committed batch (committedSeq, nextOffset, time,
 * deltaBytes since the snapshot, and in `log` the changelog offset to read from next).
 */
export interface LogTask {
  readonly base: Checkpoint | undefined;
  readonly view: Checkpoint;
}

/** What take found. */
export interface TakenLogTask {
  readonly task: LogTask;
  /** Cold: the snapshot's entries, then every committed batch's changes after it, in order (apply them in order). */
  readonly loaded: readonly StateEntry[] | undefined;
  /** Warm: the changes of the batches other invocations committed since this container's view, in order (a rebase read makes the take cold: `loaded`). */
  readonly changes: readonly StateEntry[];
  /** Changelog records read. */
  readonly records: number;
}

// --- take ----------------------------------------------------------------------------------------

/**
 * Phase 1. Claims `txnId` first (so every transaction of an older producer of the task is decided
 * before the read), then reads the changelog: from the warm view's end, or from the snapshot.
 */
export async function takeFromLog(deps: ChangelogDeps & { readonly sink: { claim(txnId: string): Promise<void> } }, task: TaskRef, at: LogPartition, txnId: string, warm: LogTask | undefined, keyed: boolean): Promise<TakenLogTask> {
  await deps.sink.claim(txnId);
  if (warm) {
    try {
      const read = await readAfter(deps.log, task, at, warm.view);
      // A tool replaced the task's state meanwhile: what was read is the whole state.
      if (read.replaced) return { task: { base: warm.base, view: read.view }, loaded: read.changes, changes: [], records: read.records };
      return { task: { base: warm.base, view: read.view }, loaded: undefined, changes: read.changes, records: read.records };
    } catch (error) {
      // This container fell so far behind that a newer snapshot's compaction trimmed what it had
      // not read: start cold, from that snapshot.
      if (!(error instanceof ChangelogTrimmed)) throw error;
    }
  }
  const { base, read } = await readFromCheckpoint(deps.store, deps.log, task, at);
  const snapshot = keyed && base.snapshot.chunks > 0 && !read.replaced ? (await deps.store.load(task, atSnapshot(base))).entries : [];
  return { task: { base, view: read.view }, loaded: [...snapshot, ...read.changes], changes: [], records: read.records };
}

/**
 * The task's checkpoint and the changelog after it. A compaction may move the checkpoint on and
 * trim the changelog between the two reads: then the checkpoint is read again.
 */
export async function readFromCheckpoint(store: Pick<TaskStore, 'readCheckpoint'>, log: TaskLog, task: TaskRef, at: LogPartition): Promise<{ base: Checkpoint; read: Awaited<ReturnType<typeof readAfter>> }> {
  for (let attempt = 1; ; attempt += 1) {
    const base = await store.readCheckpoint(task);
    try {
      return { base, read: await readAfter(log, task, at, { ...base, log: base.log ?? 0 }) };
    } catch (error) {
      if (!(error instanceof ChangelogTrimmed) || attempt >= 3) throw error;
    }
  }
}

/** The checkpoint protocol's view of a changelog checkpoint: its snapshot is all there is in DynamoDB. */
function atSnapshot(ckpt: Checkpoint): Checkpoint {
  return { ...ckpt, committedSeq: ckpt.snapshot.seq, holes: [] };
}

/** Reads the changelog after `view` and folds what it finds into it (pure but for the read). */
async function readAfter(log: TaskLog, task: TaskRef, at: LogPartition, view: Checkpoint): Promise<{ view: Checkpoint; changes: StateEntry[]; records: number; replaced: boolean }> {
  const from = view.log ?? 0;
  const { records, next } = await log.read(at, from);
  const { incompleteAt, ...folded } = foldChangelog(task.id, view, records);
  return { ...folded, view: { ...folded.view, log: incompleteAt ?? Math.max(next, folded.view.log ?? 0) } };
}

/**
 * A task's view after the changelog records read (pure). Records of batches the view already
 * has are skipped; a record of another task, parts of a batch out of order, or a gap in the
 * sequence numbers, mean the changelog does not add up. A tool's rebase record (`replace`)
 * replaces the state: `changes` then start from its entries (the whole state) and `replaced` says
 * so. A read that ended inside a batch's parts (a reader cut short) stops the view before that
 * batch: `incompleteAt` is where to read again.
 */
export function foldChangelog(taskId: string, view: Checkpoint, records: readonly LogRecord[]): { view: Checkpoint; changes: StateEntry[]; records: number; replaced: boolean; incompleteAt: number | undefined } {
  const read = changelogBatches(taskId, records);
  if ('corrupt' in read) throw new TaskStateCorrupt(taskId, `changelog record at offset ${read.corrupt.offset} ${read.corrupt.reason}`);
  let v = view;
  let changes: StateEntry[] = [];
  let count = 0;
  let replaced = false;
  for (const { entry: e, first, offset } of read.batches) {
    if (e.seq <= v.committedSeq) continue;
    if (e.seq !== v.committedSeq + 1) throw new TaskStateCorrupt(taskId, `changelog jumps from batch ${v.committedSeq} to ${e.seq} at offset ${first}`);
    if (e.replace) {
      changes = [];
      replaced = true;
    }
    if (e.changes) changes.push(...decodeEntries(e.changes));
    v = { ...v, committedSeq: e.seq, nextOffset: e.nextOffset, time: e.time, deltaBytes: v.deltaBytes + (e.changes?.length ?? 0), log: offset + 1 };
    count += 1;
  }
  return { view: v, changes, records: count, replaced, incompleteAt: read.incompleteAt };
}

// --- wait (control batches) ----------------------------------------------------------------------

/**
 * Before a control batch takes the task: its marks cover the task's input up to `fence`, and the
 * task's view has not read that far. Both triggers fire on the same upstream commit, so the data
 * batch that reads it is usually running right now; a claim now would fence it (and its rerun
 * would fence this batch), and the marks would only be queued. So this reads the changelog —
 * without a claim, so fencing no one — until a committed batch has passed the fence, for at most
 * `budgetMs`; then take proceeds as always and the marks apply at once. Changes nothing: take reads
 * everything again after its claim. Returns whether the fence was passed.
 */
export async function awaitPosition(log: TaskLog, task: TaskRef, at: LogPartition, view: Checkpoint, fence: number, budgetMs: number, pauseMs = 20): Promise<boolean> {
  const until = Date.now() + budgetMs;
  let v = view;
  for (;;) {
    if (v.nextOffset > fence) return true;
    if (Date.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    try {
      v = (await readAfter(log, task, at, v)).view;
    } catch (error) {
      if (error instanceof ChangelogTrimmed) return false;
      throw error;
    }
  }
}

// --- commit --------------------------------------------------------------------------------------

/** What a batch commits besides what it already sent. */
export interface LogBatchOutcome {
  /** Records sent last, with the changelog record (marks, or the outputs when there are no marks). */
  readonly tail: readonly OutgoingRecord[];
  readonly nextOffset: number;
  readonly time: TimeState;
  /** The batch's state changes, encoded (state/codec.ts); undefined when it changed none. */
  readonly changes: Buffer | undefined;
}

/**
 * Phases 2–3 after the outputs were sent: the changelog record into the transaction, then the
 * commit. Returns the task after the batch. Before the commit returns, nothing of the batch is
 * visible; a failure aborts the transaction (a simulated crash leaves it open, as a dead process
 * would: the next claim of the id aborts it).
 */
export async function commitToLog(deps: ChangelogDeps, task: TaskRef, at: LogPartition, t: LogTask, open: OpenBatch & { readonly txn: KafkaTxn | undefined }, outcome: LogBatchOutcome): Promise<LogTask> {
  const { seq } = open;
  if (!open.txn) throw new Error('the changelog protocol needs a transaction');
  try {
    const log = changelogRecords(at.topic, at.partition, { task: task.id, seq, nextOffset: outcome.nextOffset, time: outcome.time, changes: outcome.changes }, deps.compaction?.maxRecordBytes ?? MAX_CHANGELOG_PART_BYTES);
    const sent = await open.send([...outcome.tail, ...log]);
    const offset = sent[sent.length - 1]!.offset;
    await deps.fault?.('after-send', task, seq);
    await open.txn.commit();
    await deps.fault?.('after-kafka-commit', task, seq);
    const view: Checkpoint = { ...t.view, committedSeq: seq, nextOffset: outcome.nextOffset, time: outcome.time, deltaBytes: t.view.deltaBytes + (outcome.changes?.length ?? 0), log: offset + 1 };
    return { base: t.base, view };
  } catch (error) {
    if (!(error instanceof SimulatedCrash)) await open.txn.abort().catch(() => undefined);
    throw error;
  }
}

// --- compact -------------------------------------------------------------------------------------

/** Whether the task should write a snapshot after its last batch (pure). */
export function logCompactionDue(view: Checkpoint, policy: CompactionPolicy = DEFAULT_LOG_COMPACTION): boolean {
  if (view.committedSeq <= view.snapshot.seq) return false;
  return view.committedSeq - view.snapshot.seq >= policy.everyBatches || (view.deltaBytes >= policy.minBytes && view.deltaBytes >= view.snapshot.bytes);
}

/**
 * The task's state as of its last committed batch (`entries`, with t.view) becomes its DynamoDB
 * snapshot. With state: first bump the checkpoint's version (the right to write the bank not in
 * use from that version: a compaction that died half way never blocks the next one, and a zombie
 * compaction's chunks never land on a newer one's), then the chunks, then the checkpoint naming
 * them. Without state, one checkpoint write. Every write is conditional on the version read; a
 * compaction that loses to another one changes nothing and is dropped (the batch is committed
 * already, so this never fails it: a failure leaves `base` unknown, to be read again next time).
 */
export async function compactLog(deps: ChangelogDeps, task: TaskRef, at: LogPartition, t: LogTask, entries: Iterable<StateEntry> | undefined): Promise<LogTask> {
  try {
    const base = t.base ?? (await deps.store.readCheckpoint(task));
    const seq = t.view.committedSeq;
    if (base.committedSeq >= seq) return { base, view: { ...t.view, version: base.version, snapshot: base.snapshot } };
    let from = base;
    let snapshot = emptySnapshot(seq);
    if (entries) {
      from = await deps.store.advance(task, base, { ...base, version: base.version + 1 });
      await deps.fault?.('after-compaction-claim', task, seq);
      const write = buildSnapshot(entries, seq, nextBank(from), (deps.snapshotId ?? randomId)(), from.version);
      await deps.store.writeSnapshot(task, write);
      await deps.fault?.('after-snapshot', task, seq);
      snapshot = write.ref;
    }
    const next: Checkpoint = { version: from.version + 1, committedSeq: seq, holes: [], nextOffset: t.view.nextOffset, time: t.view.time, snapshot, deltaBytes: 0, log: t.view.log ?? 0 };
    await deps.store.advance(task, from, next);
    await deps.fault?.('after-confirm', task, seq);
    // The changelog before the snapshot replaced now is needed by nobody who reads the checkpoint
    // (one snapshot's worth is kept for readers that read the previous checkpoint; an older reader
    // finds its records trimmed and starts over from the checkpoint). Best effort: a failed trim
    // is done by the next compaction.
    if ((base.log ?? 0) > 0) await deps.log.trim(at, base.log ?? 0).catch(() => undefined);
    return { base: next, view: { ...t.view, version: next.version, snapshot, deltaBytes: 0 } };
  } catch (error) {
    if (error instanceof SimulatedCrash) throw error;
    return { base: undefined, view: t.view };
  }
}

// --- reading a task from outside -----------------------------------------------------------------

/**
 * A task's committed view and state as an outside reader has them (tools, the fault-injection
 * checker): the DynamoDB snapshot plus the changelog after it. No claim: a transaction still open
 * is not read (the read stops at the last stable offset).
 */
export async function readLogTask(store: TaskStore, log: TaskLog, task: TaskRef, at: LogPartition, now: number): Promise<{ checkpoint: Checkpoint; entries: StateEntry[] }> {
  const { base, read } = await readFromCheckpoint(store, log, task, at);
  const snapshot = base.snapshot.chunks > 0 && !read.replaced ? (await store.load(task, atSnapshot(base))).entries : [];
  const state = new Map<string, StateEntry>();
  for (const e of [...snapshot, ...read.changes]) state.set(stateMapKey(e.key, e.name), e);
  return { checkpoint: read.view, entries: [...state.values()].filter((e) => isLive(e.value, now)) };
}

// --- rebase (tools) ------------------------------------------------------------------------------

/**
 * A tool's rebase (reset, savepoint import) under the changelog protocol: the task's state
 * becomes `entries` and its position `nextOffset`. Claims the task's transactional id first, so
 * every invocation of the task is fenced and every transaction of it decided; then reads the task
 * and, if it is still where the tool read it (`expected`: its committed batch), commits one
 * changelog record (or its parts) of the next batch number that replaces the state (`replace`).
 * A live task's next batch is fenced, reruns, and reads the record. CheckpointConflict if the
 * task moved.
 */
export async function rebaseLog(
  deps: { readonly store: TaskStore; readonly log: TaskLog; readonly sink: TxnSink },
  task: TaskRef,
  at: LogPartition,
  expected: Pick<Checkpoint, 'version' | 'committedSeq'> | undefined,
  entries: Iterable<StateEntry>,
  nextOffset: number,
  time: TimeState,
  now: number,
): Promise<Checkpoint> {
  const txnId = `${task.app}.${task.id}`;
  await deps.sink.claim(txnId);
  const { checkpoint: view } = await readLogTask(deps.store, deps.log, task, at, now);
  if (expected && view.committedSeq !== expected.committedSeq) throw new CheckpointConflict(task.id, expected.version);
  const list = [...entries];
  const changes = list.length > 0 ? encodeEntries(list) : undefined;
  const seq = view.committedSeq + 1;
  const txn = await deps.sink.begin(txnId);
  try {
    const sent = await txn.send(changelogRecords(at.topic, at.partition, { task: task.id, seq, nextOffset, time, changes, replace: true }));
    await txn.commit();
    return { ...view, committedSeq: seq, nextOffset, time, deltaBytes: view.deltaBytes + (changes?.length ?? 0), log: sent[sent.length - 1]!.offset + 1 };
  } catch (error) {
    await txn.abort().catch(() => undefined);
    throw error;
  }
}

function randomId(): string {
  return crypto.randomUUID();
}
