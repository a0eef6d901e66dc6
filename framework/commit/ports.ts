/**
 * The ports the commit protocol talks through. The protocol (commit/protocol.ts) decides;
 * adapters (dynamodb/, kafka/, and the in-memory ones in testing/) do the I/O.
 *
 * Invariant kept by every adapter: a checkpoint write succeeds only if the checkpoint
 * still has the version the writer read, and bumps the version by one. That single
 * condition serialises every invocation of a task (data and control, live and zombie).
 */
import type { OutgoingRecord } from '../kafka/record.js';

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

/** A batch that was prepared but whose Kafka transaction's outcome is not yet recorded. */
export interface Pending {
  readonly seq: number;
  /** Input position after the batch. */
  readonly nextOffset: number;
  /** The transactional id whose transaction decides the batch. */
  readonly txnId: string;
  /** Where the batch's progress record went (exactly-once only). */
  readonly progress: ProgressPosition | undefined;
  /** Opaque protocol extras (e.g. watermarks) confirmed together with the batch. */
  readonly extra: Readonly<Record<string, unknown>>;
  /** When the batch was prepared (epoch ms), so tools can tell a stuck in-doubt batch. */
  readonly since?: number;
}

/** A task's checkpoint item. */
export interface Checkpoint {
  /** Bumped by every write; writes are conditional on it. 0 = never written. */
  readonly version: number;
  /** Highest committed batch sequence number (0 = none). */
  readonly committedSeq: number;
  /** Sequence numbers ≤ committedSeq that were prepared but never committed. */
  readonly holes: readonly number[];
  /** First input offset not yet processed. -1 = nothing processed (take the batch as it comes). */
  readonly nextOffset: number;
  readonly pending: Pending | undefined;
  /** Opaque protocol extras (e.g. watermarks) as of the last committed batch. */
  readonly extra: Readonly<Record<string, unknown>>;
}

/** Identifies one state item: a state name of one key (key bytes) in one stage. */
export interface StateKey {
  readonly key: Buffer;
  readonly name: string;
}

/** A committed state value as read (already resolved through the staged/committed rule). */
export interface StateValue {
  readonly bytes: Buffer;
  /** Epoch ms after which the value counts as absent; undefined = never. */
  readonly expiresAt: number | undefined;
}

/** A change to one state item made by a batch. `value: undefined` clears it. */
export interface StateWrite {
  readonly key: Buffer;
  readonly name: string;
  readonly value: StateValue | undefined;
  /** The committed value the batch started from (written alongside the staged one so aborts lose nothing). */
  readonly previous: StateValue | undefined;
  /** Set for timers: the item lives in the task's timer index instead of the key's state. */
  readonly timer?: TimerRef;
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

/** Thrown when a checkpoint write finds another version: someone else owns the task now. */
export class CheckpointConflict extends Error {
  constructor(readonly task: string, readonly expectedVersion: number) {
    super(`checkpoint of task ${task} changed under us (expected version ${expectedVersion}): another invocation owns the task`);
    this.name = 'CheckpointConflict';
  }
}

/** DynamoDB side of the protocol: checkpoints and staged state. */
export interface CheckpointStore {
  /** Reads the task's checkpoint (strongly consistent); version 0 if none. */
  read(task: TaskRef): Promise<Checkpoint>;
  /** Reads committed state values of the given keys as seen from `checkpoint`; missing/expired keys are absent. */
  loadState(task: TaskRef, keys: readonly StateKey[], checkpoint: Checkpoint): Promise<Map<string, StateValue>>;
  /**
   * Step 3 (prepare): stage `writes` tagged with `pending.seq` and set `pending`, conditional on
   * `expectedVersion`. Returns the new version. Throws CheckpointConflict.
   */
  prepare(task: TaskRef, expectedVersion: number, pending: Pending, writes: readonly StateWrite[]): Promise<number>;
  /** Step 5 (confirm) or recovery's promote: committedSeq = pending.seq, nextOffset = pending.nextOffset, pending cleared. */
  confirm(task: TaskRef, expectedVersion: number, pending: Pending): Promise<number>;
  /** Recovery's discard: pending.seq becomes a hole, pending cleared, input position unchanged. */
  abandon(task: TaskRef, expectedVersion: number, pending: Pending): Promise<number>;
  /** Committed timers of the task of `kind` due at or before `upTo`, in time order (one Query). */
  dueTimers(task: TaskRef, kind: TimerRef['kind'], upTo: number, checkpoint: Checkpoint): Promise<TimerEntry[]>;
  /** At-least-once: write state values directly and move the input position, one conditional write where possible. */
  commitDirect(task: TaskRef, expectedVersion: number, seq: number, nextOffset: number, writes: readonly StateWrite[], extra: Readonly<Record<string, unknown>>): Promise<number>;
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
  | 'before-send'
  | 'after-send'
  | 'after-prepare'
  | 'after-kafka-commit'
  | 'after-confirm'
  | 'after-recovery-fence';

/** Hook called at every step boundary; throwing from it simulates a crash there. */
export type FaultHook = (step: CommitStep, task: TaskRef, seq: number) => void | Promise<void>;

/** Thrown by fault hooks to simulate a crash: the protocol must not clean up after it. */
export class SimulatedCrash extends Error {
  constructor(readonly step: CommitStep, readonly task: string, readonly seq: number) {
    super(`simulated crash at ${step} (task ${task}, seq ${seq})`);
    this.name = 'SimulatedCrash';
  }
}
