/**
 * The exactly-once commit protocol for one task and one batch (DESIGN §2).
 *
 * Invariant: a batch's effects — output records, dead letters, state changes and the
 * new input position — become visible together or not at all, exactly once, however
 * often Lambda delivers, retries or duplicates the batch and however many zombie
 * invocations run. The Kafka transaction commit is the single decision point; the
 * checkpoint's version condition makes every other step safe to repeat or to lose.
 *
 *   read checkpoint → (recover pending) → skip offsets < nextOffset → process →
 *   send in txn (+ progress record) → prepare (staged state + pending, conditional) →
 *   commit txn → confirm (committedSeq, nextOffset; conditional)
 */
import type { KafkaRecord, OutgoingRecord } from '../kafka/record.js';
import { deadLetterHeaders, provenanceHeaders } from '../kafka/provenance.js';
import type { DeadLetter, StageOutputRecord } from '../runtime/element.js';
import { EDGE_HEADER } from '../runtime/input.js';
import type { Checkpoint, CheckpointStore, FaultHook, KafkaTxn, Pending, SentOffsets, StateWrite, TaskRef, TxnOutcome, TxnSink } from './ports.js';
import { SimulatedCrash } from './ports.js';
import { nextSeq } from '../state/staged.js';
export { nextSeq } from '../state/staged.js';
import { progressRecord } from '../kafka/progress.js';
import { partitionForKey } from '../kafka/partitioner.js';

/** Everything the protocol needs for one task. */
export interface CommitDeps {
  readonly store: CheckpointStore;
  readonly sink: TxnSink;
  readonly mode: 'exactly-once' | 'at-least-once';
  readonly progressTopic: string;
  readonly progressPartitions: number;
  readonly fault?: FaultHook | undefined;
  /** The transactional ids writing a progress partition (see ResolveOptions.peers). */
  readonly progressPeers?: ((partition: number) => readonly string[]) | undefined;
}

/** The batch a task wants committed, built by the runtime from the operator results. */
export interface BatchEffects {
  readonly outputs: readonly StageOutputRecord[];
  readonly deadLetters: readonly DeadLetter[];
  readonly deadLetterTopic: string;
  readonly stage: string;
  readonly nextOffset: number;
  readonly state: readonly StateWrite[];
  readonly extra: Readonly<Record<string, unknown>>;
  /** Transactional id to commit under (default: the task's data id). */
  readonly txnId?: string;
  /**
   * Runs after the outputs were sent, with their offsets: returns more records for the same
   * transaction (watermark marks, whose fences are those offsets) and the checkpoint extras.
   */
  readonly finish?: (sent: SentOffsets) => { readonly records: readonly OutgoingRecord[]; readonly extra: Readonly<Record<string, unknown>> };
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
export function freshRecords(ckpt: Checkpoint, records: readonly KafkaRecord[]): KafkaRecord[] {
  return ckpt.nextOffset < 0 ? [...records] : records.filter((r) => r.offset >= ckpt.nextOffset);
}

/** How a pending batch was resolved. */
export interface Recovery {
  readonly seq: number;
  readonly outcome: TxnOutcome;
}

/**
 * Resolves a pending batch left by a crashed or zombie invocation: fence its
 * transactional id, ask Kafka whether its progress record committed, then confirm or
 * abandon it in the checkpoint. Returns undefined when nothing was pending.
 */
export async function recover(deps: CommitDeps, task: TaskRef, ckpt: Checkpoint): Promise<Recovery | undefined> {
  const pending = ckpt.pending;
  if (!pending) return undefined;
  const outcome: TxnOutcome = pending.progress
    ? await deps.sink.resolve(pending.txnId, pending.progress, task.id, pending.seq, { peers: deps.progressPeers?.(pending.progress.partition) ?? [] })
    : 'aborted';
  await deps.fault?.('after-recovery-fence', task, pending.seq);
  if (outcome === 'committed') await deps.store.confirm(task, ckpt.version, pending);
  else await deps.store.abandon(task, ckpt.version, pending);
  return { seq: pending.seq, outcome };
}

/** Builds the records a batch writes, each with provenance headers (task, seq, index). */
export function outgoingRecords(task: TaskRef, seq: number, effects: BatchEffects): OutgoingRecord[] {
  const out: OutgoingRecord[] = [];
  let idx = 0;
  for (const o of effects.outputs) {
    const headers = [...o.headers, ...provenanceHeaders({ task: task.id, seq, idx: idx++ })];
    if (o.edge !== undefined) headers.push({ name: EDGE_HEADER, value: Buffer.from(String(o.edge)) });
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
        ...provenanceHeaders({ task: task.id, seq, idx: idx++ }),
      ],
    });
  }
  return out;
}

/** Result of committing one batch. */
export interface CommitResult {
  readonly seq: number;
  readonly version: number;
  readonly recordsWritten: number;
}

/**
 * Steps 2–5 for a batch processed against checkpoint `ckpt` (which has no pending batch).
 * Throws CheckpointConflict (another invocation owns the task) or whatever a port throws;
 * in every such case nothing of the batch is visible and the invocation must fail.
 */
export async function commitBatch(deps: CommitDeps, task: TaskRef, ckpt: Checkpoint, effects: BatchEffects): Promise<CommitResult> {
  const seq = nextSeq(ckpt);
  const records = outgoingRecords(task, seq, effects);
  await deps.fault?.('before-send', task, seq);
  if (deps.mode === 'at-least-once') {
    const sent = records.length > 0 ? await deps.sink.sendDirect(records) : [];
    const finished = effects.finish?.(sent);
    if (finished && finished.records.length > 0) await deps.sink.sendDirect(withProvenance(finished.records, task, seq, records.length));
    await deps.fault?.('after-send', task, seq);
    const version = await deps.store.commitDirect(task, ckpt.version, seq, effects.nextOffset, effects.state, finished?.extra ?? effects.extra);
    await deps.fault?.('after-confirm', task, seq);
    return { seq, version, recordsWritten: records.length };
  }

  const txnId = effects.txnId ?? txnIdOf(task);
  const progressPartition = partitionForKey(Buffer.from(task.id), deps.progressPartitions);
  const progress = progressRecord(deps.progressTopic, progressPartition, task.id, seq, effects.nextOffset);
  let extra = effects.extra;
  const open = async (): Promise<{ txn: KafkaTxn; sent: SentOffsets }> => {
    const txn = await deps.sink.begin(txnId);
    try {
      if (!effects.finish) return { txn, sent: await txn.send([...records, progress]) };
      // Marks need the offsets of this batch's outputs, so they go in a second send of the same transaction.
      const first = records.length > 0 ? await txn.send(records) : [];
      const finished = effects.finish(first);
      extra = finished.extra;
      const marks = withProvenance(finished.records, task, seq, records.length);
      return { txn, sent: [...first, ...(await txn.send([...marks, progress]))] };
    } catch (error) {
      if (!(error instanceof SimulatedCrash)) await txn.abort().catch(() => undefined);
      throw error;
    }
  };
  let opened: { txn: KafkaTxn; sent: SentOffsets };
  try {
    opened = await open();
  } catch (error) {
    // A warm container's cached producer may have been fenced by another container that
    // handled this task since; nothing was prepared, so start over once with a fresh producer.
    if ((error as { code?: unknown }).code !== 'SLUICE_FENCED') throw error;
    opened = await open();
  }
  const { txn, sent } = opened;
  let prepared = false;
  try {
    const progressAt = sent[sent.length - 1]!;
    await deps.fault?.('after-send', task, seq);
    const pending: Pending = { seq, nextOffset: effects.nextOffset, txnId, progress: progressAt, extra, since: Date.now() };
    const prepVersion = await deps.store.prepare(task, ckpt.version, pending, effects.state);
    prepared = true;
    await deps.fault?.('after-prepare', task, seq);
    await txn.commit();
    await deps.fault?.('after-kafka-commit', task, seq);
    const version = await deps.store.confirm(task, prepVersion, pending);
    await deps.fault?.('after-confirm', task, seq);
    return { seq, version, recordsWritten: records.length };
  } catch (error) {
    // Before prepare the batch is ours to abort. After prepare, a recovery decides; abort only
    // makes the outcome "aborted" sooner and is harmless if the commit already happened (it fails).
    // A simulated crash leaves everything as a dead process would: the transaction stays open.
    if (!prepared && !(error instanceof SimulatedCrash)) await txn.abort().catch(() => undefined);
    throw error;
  }
}

function errorCodeOf(error: Error): { errorCode?: string } {
  const code = (error as Error & { code?: unknown }).code;
  return typeof code === 'string' ? { errorCode: code } : {};
}

/** Adds provenance headers to records written after the batch's outputs (marks), continuing their index. */
function withProvenance(records: readonly OutgoingRecord[], task: TaskRef, seq: number, firstIdx: number): OutgoingRecord[] {
  return records.map((r, i) => ({ ...r, headers: [...r.headers, ...provenanceHeaders({ task: task.id, seq, idx: firstIdx + i })] }));
}
