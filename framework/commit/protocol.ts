/**
 * The exactly-once commit protocol of one task, as named phases (docs/exactly-once.md):
 *
 *   take     claim the transactional id; read the checkpoint (a warm container reads only the
 *            checkpoint and keeps its memory if the version is the one it knows); wait briefly
 *            for the other trigger's just-prepared batch; recover a pending batch (fence, ask
 *            Kafka, then confirm or abandon it)
 *   open     the batch's sequence number and its Kafka transaction; outputs are sent into it
 *   commit   marks and the progress record into the transaction → prepare: the batch record
 *            (the batch's state changes, position and event time; at most one per seq, the
 *            arbiter between racing invocations) and, when due, a snapshot of the task's state
 *            → commit the Kafka transaction (the decision point) → confirm in the checkpoint
 *   compact  outside a batch, when the ring of batch records would otherwise overwrite one that
 *            is still needed
 *
 * Invariant: a batch's effects — output records, dead letters, marks, state changes and the new
 * input position — become visible together or not at all, exactly once, however often Lambda
 * delivers, retries or duplicates the batch and however many zombie invocations run. The Kafka
 * commit decides; the record's slot lets only one invocation prepare each batch; the
 * checkpoint's version condition serialises confirm, abandon and compaction. The protocol never
 * calls into the runtime: the runtime drives the phases with plain data.
 */
import type { KafkaRecord, OutgoingRecord } from '../record/record.js';
import { commitProvenance, deadLetterHeaders } from '../record/provenance.js';
import { progressRecord } from '../record/progress.js';
import { partitionForKey } from '../record/partitioner.js';
import type { DeadLetter, StageOutputRecord } from '../runtime/element.js';
import { EDGE_HEADER } from '../runtime/input.js';
import type { StateEntry } from '../state/codec.js';
import { encodeEntries } from '../state/codec.js';
import { buildSnapshot } from '../state/committed.js';
import type { TimeState } from '../time/watermark.js';
import type { BatchRecord, Checkpoint, FaultHook, KafkaTxn, SentOffsets, SnapshotWrite, TaskRef, TaskStore, TxnOutcome, TxnSink } from './ports.js';
import { SimulatedCrash } from './ports.js';
import { DEFAULT_COMPACTION, MAX_RECORD_CHANGE_BYTES, nextBank, nextSeq, shouldCompact, type CompactionPolicy } from './checkpoint.js';

/** Everything the protocol needs for one task. */
export interface CommitDeps {
  readonly store: TaskStore;
  readonly sink: TxnSink;
  readonly mode: 'exactly-once' | 'at-least-once';
  readonly progressTopic: string;
  readonly progressPartitions: number;
  readonly fault?: FaultHook | undefined;
  /** The transactional ids writing a progress partition (see ResolveOptions.peers). */
  readonly progressPeers?: ((partition: number) => readonly string[]) | undefined;
  /** When a batch also writes a snapshot (default DEFAULT_COMPACTION). */
  readonly compaction?: CompactionPolicy | undefined;
  /** How long a batch waits for a pending batch of the task's other trigger to finish before recovering it (ms). */
  readonly pendingGraceMs?: number | undefined;
  /** Random ids of snapshots (default crypto's UUID). */
  readonly snapshotId?: (() => string) | undefined;
}

/** The transactional id of a task's data invocations. */
export function txnIdOf(task: TaskRef): string {
  return `${task.app}.${task.id}`;
}

/** The transactional id of a task's control invocations. */
export function controlTxnIdOf(task: TaskRef): string {
  return `${txnIdOf(task)}.ctl`;
}

/** The records of a batch that are new to the task (input dedupe by nextOffset). */
export function freshRecords(ckpt: Pick<Checkpoint, 'nextOffset'>, records: readonly KafkaRecord[]): KafkaRecord[] {
  return ckpt.nextOffset < 0 ? [...records] : records.filter((r) => r.offset >= ckpt.nextOffset);
}

/** How a pending batch was resolved. */
export interface Recovery {
  readonly seq: number;
  readonly outcome: TxnOutcome;
}

/** The task as a batch starts from it. */
export interface TakenTask {
  readonly checkpoint: Checkpoint;
  /** Whether the task was read whole (false: only the checkpoint was, and its version matched the warm container's own). */
  readonly read: boolean;
  readonly recovery: Recovery | undefined;
  /** A pending batch this call promoted: a warm state that predates it must apply its changes. */
  readonly promoted: BatchRecord | undefined;
}

// --- take ----------------------------------------------------------------------------------------

/**
 * Phase 1. `warm` is the checkpoint this container wrote (or read) last for the task, if it holds
 * the task's state: then only the checkpoint is read, and if its version is the one this
 * container knows, nothing changed since and the container's memory (state, event time,
 * position) is current. A batch could otherwise decide to write nothing (a tick, redelivered
 * records) on stale memory, and no write would ever correct it. Otherwise (or cold) the record
 * after the checkpoint is read too, and a pending batch is recovered.
 */
export async function takeTask(deps: CommitDeps, task: TaskRef, txnId: string, warm: Checkpoint | undefined): Promise<TakenTask> {
  // First take over our transactional id (a no-op in a warm container): a crashed attempt's
  // open transaction would otherwise hold back read_committed readers of its partitions until
  // the broker's transaction timeout — our own recovery's read among them.
  if (deps.mode === 'exactly-once') await deps.sink.claim(txnId);
  if (warm) {
    const current = await deps.store.readCheckpoint(task);
    if (current.version === warm.version) return { checkpoint: warm, read: false, recovery: undefined, promoted: undefined };
  }
  let view = await deps.store.read(task);
  view = await awaitOtherTrigger(deps, task, view, txnId);
  const pending = view.pending;
  if (!pending) return { checkpoint: view.checkpoint, read: true, recovery: undefined, promoted: undefined };
  const outcome: TxnOutcome =
    pending.txnId === undefined
      ? 'committed' // at-least-once: a record is written after its outputs were sent; keep it
      : pending.progress
        ? await deps.sink.resolve(pending.txnId, pending.progress, task.id, pending.seq, { peers: deps.progressPeers?.(pending.progress.partition) ?? [] })
        : 'aborted';
  await deps.fault?.('after-recovery-fence', task, pending.seq);
  const { promoted, outcome: decided } = await atLeastOncePromotion(deps, task, pending, outcome);
  const checkpoint = decided === 'committed' ? await deps.store.confirm(task, view.checkpoint, promoted) : await deps.store.abandon(task, view.checkpoint, pending);
  return { checkpoint, read: true, recovery: { seq: pending.seq, outcome: decided }, promoted: decided === 'committed' ? promoted : undefined };
}

/**
 * What recovery keeps of a pending record. An exactly-once record commits in Kafka only after its
 * snapshot is complete, so it is kept as written. An at-least-once record is kept whatever happened
 * after it was written, but its snapshot may be half written: it is promoted without it, on its
 * changes; and when the snapshot is the only copy of its changes (changesInSnapshot), it is kept
 * only if the snapshot is complete, else abandoned (its input is redelivered: at least once).
 */
async function atLeastOncePromotion(deps: CommitDeps, task: TaskRef, pending: BatchRecord, outcome: TxnOutcome): Promise<{ promoted: BatchRecord; outcome: TxnOutcome }> {
  if (pending.txnId !== undefined) return { promoted: pending, outcome };
  if (!pending.changesInSnapshot) return { promoted: { ...pending, snapshot: undefined }, outcome };
  const complete = pending.snapshot !== undefined && (await deps.store.snapshotComplete(task, pending.snapshot));
  return { promoted: pending, outcome: complete ? outcome : 'aborted' };
}

/**
 * A batch the other trigger of the task (data vs control) prepared moments ago is most likely
 * about to commit: recovering it now would fence a live producer and waste its work. Wait a
 * little (polling) for it to be decided; recover only if it is still pending `pendingGraceMs`
 * after it was prepared. Waiting never affects what commits, only who does the work.
 */
async function awaitOtherTrigger(deps: CommitDeps, task: TaskRef, view: Awaited<ReturnType<TaskStore['read']>>, txnId: string): Promise<Awaited<ReturnType<TaskStore['read']>>> {
  const pending = view.pending;
  const grace = deps.pendingGraceMs ?? 0;
  if (!pending || pending.txnId === txnId || grace <= 0) return view;
  const deadline = pending.since + grace;
  let latest = view;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    latest = await deps.store.read(task);
    if (latest.pending?.seq !== pending.seq) return latest;
  }
  return latest;
}

// --- open ----------------------------------------------------------------------------------------

/** A batch being written: its sequence number, and the sender of its records (into its transaction, exactly-once). */
export interface OpenBatch {
  readonly seq: number;
  readonly txnId: string;
  /** Records sent so far (their provenance indexes continue from here). */
  readonly sentCount: number;
  /** Sends records of the batch, adding provenance headers; resolves with their offsets. */
  send(records: readonly OutgoingRecord[]): Promise<SentOffsets>;
}

/**
 * Phase 2: the batch's seq and (exactly-once) its Kafka transaction. `restartOnFence` (default
 * true): a cached producer found fenced at the first send is replaced and the send made again —
 * right when the checkpoint read at take vouches for the container's memory; the changelog
 * protocol passes false (a fenced producer means its memory may be stale: the batch must rerun).
 */
export async function openBatch(deps: Pick<CommitDeps, 'mode' | 'sink' | 'fault'>, task: TaskRef, ckpt: Pick<Checkpoint, 'committedSeq' | 'holes'>, txnId: string, restartOnFence = true): Promise<OpenBatch & { readonly txn: KafkaTxn | undefined }> {
  const seq = nextSeq(ckpt);
  await deps.fault?.('before-send', task, seq);
  return deps.mode === 'exactly-once' ? new TxnBatch(deps, task, seq, txnId, await deps.sink.begin(txnId), restartOnFence) : new DirectBatch(deps, task, seq, txnId);
}

class DirectBatch implements OpenBatch {
  readonly txn = undefined;
  sentCount = 0;

  constructor(
    private readonly deps: Pick<CommitDeps, 'sink'>,
    private readonly task: TaskRef,
    readonly seq: number,
    readonly txnId: string,
  ) {}

  async send(records: readonly OutgoingRecord[]): Promise<SentOffsets> {
    const tagged = withProvenance(records, this.task, this.seq, this.sentCount);
    this.sentCount += records.length;
    return tagged.length > 0 ? this.deps.sink.sendDirect(tagged) : [];
  }
}

class TxnBatch implements OpenBatch {
  sentCount = 0;

  constructor(
    private readonly deps: Pick<CommitDeps, 'sink'>,
    private readonly task: TaskRef,
    readonly seq: number,
    readonly txnId: string,
    public txn: KafkaTxn,
    private readonly restartOnFence: boolean,
  ) {}

  async send(records: readonly OutgoingRecord[]): Promise<SentOffsets> {
    const tagged = withProvenance(records, this.task, this.seq, this.sentCount);
    const first = this.sentCount === 0;
    this.sentCount += records.length;
    try {
      return await this.txn.send(tagged);
    } catch (error) {
      // A warm container's cached producer may have been fenced by another container that
      // handled this task since. Before anything else was sent nothing is lost: start over once
      // with a fresh producer. (Later the offsets of earlier sends are already in use.)
      if (!first || !this.restartOnFence || (error as { code?: unknown }).code !== 'SLUICE_FENCED') {
        if (!(error instanceof SimulatedCrash)) await this.txn.abort().catch(() => undefined);
        throw error;
      }
      this.txn = await this.deps.sink.begin(this.txnId);
      return this.txn.send(tagged);
    }
  }
}

// --- commit --------------------------------------------------------------------------------------

/** What a batch commits besides what it already sent. */
export interface BatchOutcome {
  /**
   * Records sent last, with the progress record: the batch's watermark marks (which need the
   * offsets of its outputs, sent before), or its outputs themselves when it sends no marks.
   */
  readonly tail: readonly OutgoingRecord[];
  readonly nextOffset: number;
  readonly time: TimeState;
  /** State entries the batch changed, with their values after it, as planned by planChanges. */
  readonly changes: PlannedChanges;
  /** The task's whole state after the batch, when planChanges said to snapshot with this batch. */
  readonly snapshot: Iterable<StateEntry> | undefined;
}

/** A batch's state changes, encoded once, and whether the batch also writes a snapshot. */
export interface PlannedChanges {
  readonly entries: readonly StateEntry[];
  readonly encoded: Buffer | undefined;
  readonly snapshot: boolean;
  /** Too large for the batch record: the snapshot written with the batch is their only copy. */
  readonly inSnapshot: boolean;
}

/** Encodes a batch's changes and decides whether the batch also writes a snapshot (pure); stages without keyed state never do. */
export function planChanges(deps: Pick<CommitDeps, 'compaction'>, ckpt: Checkpoint, seq: number, entries: readonly StateEntry[], keyed: boolean): PlannedChanges {
  const encoded = entries.length === 0 ? undefined : encodeEntries(entries);
  const policy = deps.compaction ?? DEFAULT_COMPACTION;
  const inSnapshot = keyed && (encoded?.length ?? 0) > (policy.maxRecordBytes ?? MAX_RECORD_CHANGE_BYTES);
  return { entries, encoded, snapshot: inSnapshot || (keyed && shouldCompact(ckpt, seq, encoded?.length ?? 0, policy)), inSnapshot };
}

/**
 * Phase 3: marks and progress record, prepare, Kafka commit, confirm. Returns the new checkpoint.
 * Throws CheckpointConflict (another invocation prepared this batch, or moved the checkpoint) or
 * whatever a port throws; before the prepare nothing of the batch is visible, after it a
 * recovery decides the batch.
 */
export async function commitBatch(deps: CommitDeps, task: TaskRef, ckpt: Checkpoint, open: OpenBatch & { readonly txn: KafkaTxn | undefined }, outcome: BatchOutcome): Promise<Checkpoint> {
  const { seq } = open;
  let prepared = false;
  try {
    let progress: BatchRecord['progress'];
    if (open.txn) {
      const at = partitionForKey(Buffer.from(task.id), deps.progressPartitions);
      const sent = await open.send([...outcome.tail, progressRecord(deps.progressTopic, at, task.id, seq, outcome.nextOffset)]);
      progress = sent[sent.length - 1];
    } else if (outcome.tail.length > 0) {
      await open.send(outcome.tail);
    }
    await deps.fault?.('after-send', task, seq);
    const snapshot: SnapshotWrite | undefined = outcome.snapshot ? buildSnapshot(outcome.snapshot, seq, nextBank(ckpt), (deps.snapshotId ?? randomId)(), ckpt.version) : undefined;
    const record: BatchRecord = {
      seq,
      nextOffset: outcome.nextOffset,
      time: outcome.time,
      txnId: open.txn ? open.txnId : undefined,
      progress,
      since: Date.now(),
      ...(outcome.changes.inSnapshot
        ? { changes: [], changeBytes: 0, changesInSnapshot: true }
        : { changes: outcome.changes.entries, changeBytes: outcome.changes.encoded?.length ?? 0, ...(outcome.changes.encoded ? { encoded: outcome.changes.encoded } : {}) }),
      snapshot: snapshot?.ref,
    };
    await deps.store.prepare(task, record);
    prepared = true;
    await deps.fault?.('after-record', task, seq);
    if (snapshot) await deps.store.writeSnapshot(task, snapshot);
    await deps.fault?.('after-prepare', task, seq);
    if (open.txn) await open.txn.commit();
    await deps.fault?.('after-kafka-commit', task, seq);
    const next = await deps.store.confirm(task, ckpt, record);
    await deps.fault?.('after-confirm', task, seq);
    return next;
  } catch (error) {
    // Before prepare the batch is ours to abort. After prepare, a recovery decides; aborting only
    // makes the outcome "aborted" sooner and is harmless if the commit already happened (it
    // fails). A simulated crash leaves everything as a dead process would: the transaction stays open.
    if (!prepared && open.txn && !(error instanceof SimulatedCrash)) await open.txn.abort().catch(() => undefined);
    throw error;
  }
}

// --- compact -------------------------------------------------------------------------------------

/**
 * Compaction outside a batch: a snapshot of `entries` (the state as of ckpt.committedSeq) becomes
 * the task's. It goes through the ring like a batch with no input: a record of the next seq that
 * names the snapshot and carries no changes (changesInSnapshot, no transaction), then the chunks,
 * then the confirm. So the record's slot arbitrates it against batches and other compactions (the
 * first prepare wins), and one that dies half way is a pending record that recovery decides: kept
 * if its snapshot is complete, else abandoned. (Writing chunks before any record, a failed confirm
 * left chunks that no retry from the same checkpoint could replace: the task was stuck.)
 */
export async function compactTask(deps: CommitDeps, task: TaskRef, ckpt: Checkpoint, entries: Iterable<StateEntry>): Promise<Checkpoint> {
  const seq = nextSeq(ckpt);
  const snapshot = buildSnapshot(entries, seq, nextBank(ckpt), (deps.snapshotId ?? randomId)(), ckpt.version);
  const record: BatchRecord = {
    seq,
    nextOffset: ckpt.nextOffset,
    time: ckpt.time,
    txnId: undefined,
    progress: undefined,
    since: Date.now(),
    changes: [],
    changeBytes: 0,
    changesInSnapshot: true,
    snapshot: snapshot.ref,
  };
  await deps.store.prepare(task, record);
  await deps.fault?.('after-record', task, seq);
  await deps.store.writeSnapshot(task, snapshot);
  await deps.fault?.('after-snapshot', task, seq);
  return deps.store.confirm(task, ckpt, record);
}

// --- records -------------------------------------------------------------------------------------

/** What a batch emits, as the runtime hands it over. */
export interface BatchEmissions {
  readonly outputs: readonly StageOutputRecord[];
  readonly deadLetters: readonly DeadLetter[];
  readonly deadLetterTopic: string;
  readonly stage: string;
}

/** The records of a batch's outputs and dead letters (provenance is added when they are sent). */
export function outgoingRecords(effects: BatchEmissions): OutgoingRecord[] {
  const out: OutgoingRecord[] = [];
  for (const o of effects.outputs) {
    const headers = o.edge === undefined ? [...o.headers] : [...o.headers, { name: EDGE_HEADER, value: Buffer.from(String(o.edge)) }];
    out.push({ topic: o.topic, ...(o.partition === undefined ? {} : { partition: o.partition }), key: o.key, value: o.value, headers, timestamp: o.timestamp });
  }
  for (const d of effects.deadLetters) {
    out.push({
      topic: effects.deadLetterTopic,
      key: d.record.key,
      value: d.record.value,
      timestamp: d.record.timestamp,
      headers: [
        ...d.record.headers,
        ...deadLetterHeaders({
          stage: effects.stage,
          topic: d.record.topic,
          partition: d.record.partition,
          offset: d.record.offset,
          timestamp: d.record.timestamp,
          errorClass: d.error.name || d.error.constructor.name,
          errorMessage: `${d.operator}: ${d.error.message}`,
          ...errorCodeOf(d.error),
        }),
      ],
    });
  }
  return out;
}

function errorCodeOf(error: Error): { errorCode?: string } {
  const code = (error as Error & { code?: unknown }).code;
  return typeof code === 'string' ? { errorCode: code } : {};
}

/** Adds provenance headers (task, seq, index from `firstIdx`) to records of a batch. */
function withProvenance(records: readonly OutgoingRecord[], task: TaskRef, seq: number, firstIdx: number): OutgoingRecord[] {
  if (records.length === 0) return [];
  const provenance = commitProvenance(task.id, seq);
  return records.map((r, i) => ({ ...r, headers: [...r.headers, ...provenance(firstIdx + i)] }));
}

function randomId(): string {
  return crypto.randomUUID();
}
