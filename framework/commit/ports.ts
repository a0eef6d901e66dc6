/**
 * The ports the commit protocol talks through. The protocol (commit/protocol.ts) decides;
 * adapters (dynamodb/, kafka/, and the in-memory ones in testing/) do the I/O.
 *
 * Invariants kept by every TaskStore adapter:
 * - a checkpoint write succeeds only if the checkpoint still has the version the writer read,
 *   and bumps the version by one;
 * - at most one batch record is ever written per sequence number (the first prepare of a seq
 *   wins; a record slot only ever moves to higher seqs), so of any number of invocations of a
 *   task (data and control, live and zombie) at most one prepares each batch.
 */
import type { OutgoingRecord } from '../record/record.js';
import type { StateEntry } from '../state/codec.js';
import type { TimeState } from '../time/watermark.js';

/** Identifies a task: one stage reading one partition of one input topic. */
export interface TaskRef {
  readonly app: string;
  readonly stage: string;
  readonly topic: string;
  readonly partition: number;
  /** `<stage>.<partition>` (or `<stage>.<topic>.<partition>` for stages with several inputs). */
  readonly id: string;
}

/** Where a progress record was written; recovery reads exactly there. */
export interface ProgressPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/**
 * Where a task's snapshot is: its whole state as of batch `seq`, in `chunks` items of one bank
 * (two banks alternate, so the snapshot in use is never overwritten by the next one).
 */
export interface SnapshotRef {
  readonly seq: number;
  readonly bank: 0 | 1;
  /** 0 = the empty state. */
  readonly chunks: number;
  /** Random id every chunk of this snapshot carries (a chunk of another snapshot is never read as ours). */
  readonly id: string;
  /** Encoded bytes of the snapshot. */
  readonly bytes: number;
}

/** A task's checkpoint: small (DynamoDB bills an update at the whole item's size), written by confirm, abandon and compaction. */
export interface Checkpoint {
  /** Bumped by every write; writes are conditional on it. 0 = never written. */
  readonly version: number;
  /** Highest committed batch sequence number (0 = none). */
  readonly committedSeq: number;
  /** Sequence numbers ≤ committedSeq that were prepared but never committed. */
  readonly holes: readonly number[];
  /** First input offset not yet processed. -1 = nothing processed (take the batch as it comes). */
  readonly nextOffset: number;
  /** The task's event time as of the last committed batch. */
  readonly time: TimeState;
  /** The task's state as of snapshot.seq; committed batch records after it bring it to committedSeq. */
  readonly snapshot: SnapshotRef;
  /** Encoded bytes of the committed batch records after the snapshot (what a cold start reads besides it). */
  readonly deltaBytes: number;
  /**
   * Changelog protocol only: the offset in the task's changelog partition after the snapshot's
   * batch, where a cold start starts reading (in a task's view in memory: after its last batch).
   */
  readonly log?: number;
}

/**
 * A prepared batch: one immutable record holding everything the batch changes in DynamoDB (its
 * state changes, the new input position and event time). Writing it is the prepare; it counts
 * once its seq is committed (the checkpoint's committedSeq reaches it and it is no hole).
 */
export interface BatchRecord {
  readonly seq: number;
  /** Input position after the batch. */
  readonly nextOffset: number;
  /** Event time after the batch. */
  readonly time: TimeState;
  /** The transactional id whose transaction decides the batch; undefined in at-least-once mode (no transaction). */
  readonly txnId: string | undefined;
  /** Where the batch's progress record went (exactly-once only). */
  readonly progress: ProgressPosition | undefined;
  /** When the batch was prepared (epoch ms), so another trigger can wait for it and tools can show a stuck one. */
  readonly since: number;
  /** Every state entry the batch changed, with its value after the batch (undefined = cleared). */
  readonly changes: readonly StateEntry[];
  /** Encoded bytes of `changes`. */
  readonly changeBytes: number;
  /** `changes` already encoded (codec.ts), when the writer has them: a store may write these bytes as they are. */
  readonly encoded?: Buffer;
  /** A snapshot of the task's state after this batch, written with it: confirming the batch makes it the task's snapshot. */
  readonly snapshot: SnapshotRef | undefined;
  /**
   * The changes were too large for the record (CompactionPolicy.maxRecordBytes): `changes` is empty
   * and only `snapshot` holds the state after the batch, so the batch can only commit with it.
   */
  readonly changesInSnapshot?: boolean;
}

/** A committed state value. */
export interface StateValue {
  readonly bytes: Buffer;
  /** Epoch ms after which the value counts as absent; undefined = never. */
  readonly expiresAt: number | undefined;
}

/** When a timer fires: event time (watermark) or processing time (ticks). */
export interface TimerRef {
  readonly kind: 'event' | 'processing';
  readonly time: number;
}

/** A registered timer of one key and one operator (`name`). */
export interface TimerEntry extends TimerRef {
  readonly key: Buffer;
  readonly name: string;
}

/** Thrown when a task write finds another invocation got there first: someone else owns the task now. */
export class CheckpointConflict extends Error {
  constructor(readonly task: string, readonly expectedVersion: number) {
    super(`checkpoint of task ${task} changed under us (expected version ${expectedVersion}): another invocation owns the task`);
    this.name = 'CheckpointConflict';
  }
}

/** What a read of a task finds: its checkpoint, and the batch prepared after it if that is still undecided. */
export interface TaskView {
  readonly checkpoint: Checkpoint;
  readonly pending: BatchRecord | undefined;
}

/** A task's committed state as loaded: the whole of it, or only what changed after a given batch. */
export interface StateLoad {
  /** Whole state (no `after`): live entries; after a batch: the changes of every committed batch after it, in order. */
  readonly entries: readonly StateEntry[];
  /** Batch records read. */
  readonly records: number;
}

/** A snapshot to write: the task's whole state, encoded. */
export interface SnapshotWrite {
  readonly ref: SnapshotRef;
  readonly chunks: readonly Buffer[];
  /**
   * The checkpoint version the writer started from. A chunk place only takes chunks written from
   * a later version than the chunk it holds (or the same snapshot again): a snapshot in use was
   * written from an older version than any writer that knows it is in use, so it is never
   * overwritten, and of two writers from one version only the first gets the bank.
   */
  readonly baseVersion: number;
}

/** DynamoDB side of the protocol: checkpoints, batch records and snapshots of tasks. */
export interface TaskStore {
  /** Reads the task's checkpoint (strongly consistent; version 0 if none) and the record prepared after it, if any. */
  read(task: TaskRef): Promise<TaskView>;
  /** Reads only the checkpoint (strongly consistent; version 0 if none): what a warm container checks its memory against. */
  readCheckpoint(task: TaskRef): Promise<Checkpoint>;
  /**
   * The committed state as of `checkpoint`: its snapshot plus every committed batch record after it;
   * with `after`, only the changes of committed batches after that seq (a warm container catching up).
   */
  load(task: TaskRef, checkpoint: Checkpoint, after?: number): Promise<StateLoad>;
  /**
   * Prepare: writes `record`, unless its slot already holds this seq or a later one (then
   * CheckpointConflict: another invocation prepared it).
   */
  prepare(task: TaskRef, record: BatchRecord): Promise<void>;
  /** Writes the chunks of a snapshot to its bank (see SnapshotWrite.baseVersion); CheckpointConflict if a place is taken. */
  writeSnapshot(task: TaskRef, snapshot: SnapshotWrite): Promise<void>;
  /** Confirm (or recovery's promote): the checkpoint takes the record's seq, position, time and snapshot. Conditional on `from.version`. */
  confirm(task: TaskRef, from: Checkpoint, record: BatchRecord): Promise<Checkpoint>;
  /** Recovery's discard: the record's seq becomes a hole; position and state stay. Conditional on `from.version`. */
  abandon(task: TaskRef, from: Checkpoint, record: BatchRecord): Promise<Checkpoint>;
  /** Compaction outside a batch: makes a snapshot whose chunks were written the task's. Conditional on `from.version`. */
  compact(task: TaskRef, from: Checkpoint, snapshot: SnapshotRef): Promise<Checkpoint>;
  /** Whether every chunk of `snapshot` is stored (at-least-once recovery of a batch whose changes only its snapshot holds). */
  snapshotComplete(task: TaskRef, snapshot: SnapshotRef): Promise<boolean>;
  /**
   * Changelog protocol: the checkpoint becomes `next` (a snapshot, the batch it is as of and the
   * changelog offset after it, or the same checkpoint with only its version bumped). Conditional
   * on `from.version`; `next.version` must be `from.version + 1`.
   */
  advance(task: TaskRef, from: Checkpoint, next: Checkpoint): Promise<Checkpoint>;
}

/** A task's changelog partition (changelog protocol). */
export interface LogPartition {
  readonly topic: string;
  readonly partition: number;
}

/** A record read from a changelog partition. */
export interface LogRecord {
  readonly offset: number;
  readonly value: Buffer | null;
}

/**
 * Kafka side of the changelog protocol: reading a task's changelog. Writing goes through the
 * batch's transaction (TxnSink).
 */
export interface TaskLog {
  /**
   * Every record of `at` from offset `from` that a read_committed consumer sees, up to the
   * partition's last stable offset as the call finds it, and that offset (at least `from`): where
   * to read from next time. Below it every transaction is decided, so nothing committed can ever
   * appear there later; a transaction still open (the writer's own, or a newer producer's that has
   * fenced the reader) is read by a later call.
   */
  read(at: LogPartition, from: number): Promise<{ readonly records: readonly LogRecord[]; readonly next: number }>;
  /**
   * Deletes the records of `at` before offset `before` (Kafka's DeleteRecords): what no snapshot
   * needs any more. A later read from below `before` fails with ChangelogTrimmed.
   */
  trim(at: LogPartition, before: number): Promise<void>;
}

/** A changelog read started below the partition's first offset: those records were trimmed after a newer snapshot. */
export class ChangelogTrimmed extends Error {
  constructor(readonly topic: string, readonly partition: number, readonly from: number) {
    super(`changelog ${topic}/${partition} no longer holds offset ${from} (trimmed after a newer snapshot)`);
    this.name = 'ChangelogTrimmed';
  }
}

/** Offsets Kafka assigned to the records of one send, in the order given. */
export type SentOffsets = ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly offset: number }>;

/** One open Kafka transaction. */
export interface KafkaTxn {
  /** Sends records inside the transaction; resolves with each record's partition and offset. */
  send(records: readonly OutgoingRecord[]): Promise<SentOffsets>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** The outcome of an in-doubt batch, as Kafka has it. */
export type TxnOutcome = 'committed' | 'aborted';

/** Kafka side of the protocol: transactional writes and in-doubt resolution. */
/** Options of TxnSink.resolve. */
export interface ResolveOptions {
  /**
   * Every transactional id that writes the progress partition. If the read stalls (a transaction
   * left open by a crashed invocation whose task has had nothing to commit since, so nothing
   * fenced it), the sink fences them all: a live transaction among them fails and is retried,
   * which the protocol allows at any step, and the stall ends instead of lasting until the
   * broker's transaction timeout.
   */
  readonly peers?: readonly string[];
}

export interface TxnSink {
  /** Opens a transaction under `txnId` (creating/fencing the producer as needed). */
  begin(txnId: string): Promise<KafkaTxn>;
  /**
   * Recovery: fences every producer of `txnId` (so the outcome cannot change afterwards),
   * then reads the progress record at `progress` with read_committed and says whether it
   * is there with this task and seq.
   */
  resolve(txnId: string, progress: ProgressPosition, task: string, seq: number, options?: ResolveOptions): Promise<TxnOutcome>;
  /** At-least-once: plain idempotent send, no transaction. */
  sendDirect(records: readonly OutgoingRecord[]): Promise<SentOffsets>;
  /**
   * Makes this container the owner of `txnId` without opening a transaction: the first time it
   * uses the id, it fences older producers, which aborts a transaction a crashed invocation left
   * open (that would hold back every read_committed reader of its partitions until the broker's
   * transaction timeout). A no-op once the container holds the id.
   */
  claim(txnId: string): Promise<void>;
}

/** Where failures are injected in tests: named step boundaries of the protocol. */
export type CommitStep =
  /** A cold container loaded the task's state (snapshot and records), before processing. */
  | 'after-restore'
  | 'before-send'
  | 'after-send'
  /** The batch record is written; a snapshot of this batch (compaction) is not yet. */
  | 'after-record'
  | 'after-prepare'
  | 'after-kafka-commit'
  | 'after-confirm'
  | 'after-recovery-fence'
  /** A compaction outside a batch wrote its snapshot's chunks, not yet the checkpoint. */
  | 'after-snapshot'
  /** Changelog protocol: a compaction bumped the checkpoint's version (its right to a bank), no chunk written yet. */
  | 'after-compaction-claim';

/** Hook called at every step boundary; throwing from it simulates a crash there. */
export type FaultHook = (step: CommitStep, task: TaskRef, seq: number) => void | Promise<void>;

/** Thrown by fault hooks to simulate a crash: the protocol must not clean up after it. */
export class SimulatedCrash extends Error {
  constructor(readonly step: CommitStep, readonly task: string, readonly seq: number) {
    super(`simulated crash at ${step} (task ${task}, seq ${seq})`);
    this.name = 'SimulatedCrash';
  }
}
