/**
 * The Kafka side of the commit protocol over kafkajs: transactional sends that report every
 * record's offset, in-doubt resolution, and plain idempotent sends for at-least-once mode.
 *
 * Invariants:
 * - A producer that failed in any way (fenced, timed out, broken connection mid-commit) is
 *   disconnected and dropped; the next begin() of its transactional id makes a fresh one, whose
 *   InitProducerId aborts whatever the old one left open.
 * - When resolve(txnId, …) returns, no producer that existed before the call can change the
 *   outcome of any transaction of txnId, and the answer is what every read_committed reader
 *   sees at the progress record's offset, now and later (docs/exactly-once-recovery.md).
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, IHeaders, Kafka, Message, Producer, RecordMetadata, RetryOptions, Sender } from 'kafkajs';
import type { KafkaTxn, ProgressPosition, ResolveOptions, SentOffsets, TxnOutcome, TxnSink } from '../commit/ports.js';
import { SluiceError, type ErrorPlace } from '../errors.js';
import { partitionForKey } from '../record/partitioner.js';
import { parseProgress } from '../record/progress.js';
import type { OutgoingRecord, RecordHeader } from '../record/record.js';

/** The progress record format resolve() reads, defined in progress.ts and shared with the protocol. */
export { parseProgress, progressRecord, type Progress } from '../record/progress.js';

/** Kafka work done through one sink, for "Kafka operations per 1,000 events"; the sink only adds to it. */
export interface KafkaSinkCounters {
  /** Protocol requests sent by every client the sink owns (producers, resolve consumers, admin). */
  requests: number;
  /** Transactions begun, resolve()'s probe transactions included. */
  transactions: number;
  /** Records sent, transactional and direct, probes included. */
  recordsSent: number;
  /** Transactions committed. */
  commits: number;
  /** Transactions aborted on request. */
  aborts: number;
  /** Other tasks' transactional ids fenced because a resolve stalled behind their open transaction. */
  peersFenced: number;
  /** In-doubt resolutions. */
  resolves: number;
  /** Producers dropped because they were fenced. */
  fenced: number;
  /** Producers created (each costs a connect, metadata and an InitProducerId). */
  producersCreated: number;
  /** `requests` by Kafka API name (kafkajs names, e.g. `Produce`, `EndTxn`, `GroupCoordinator` = FindCoordinator). */
  requestsByApi: Record<string, number>;
}

/** A zeroed counter set. */
export function newKafkaSinkCounters(): KafkaSinkCounters {
  return { requests: 0, transactions: 0, recordsSent: 0, commits: 0, aborts: 0, peersFenced: 0, resolves: 0, fenced: 0, producersCreated: 0, requestsByApi: {} };
}

/** Where the sink reports what the caller need not act on (dropped producers, failed cleanups). */
export interface SinkLogger {
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** How a KafkaTxnSink is built. */
export interface KafkaTxnSinkOptions {
  /** transaction.timeout.ms of every transactional producer: above the function timeout, at most the broker's transaction.max.timeout.ms. */
  readonly transactionTimeoutMs: number;
  /** Counters to add to (share one object between sinks to sum them). */
  readonly counters?: KafkaSinkCounters;
  /** Default: silent. */
  readonly logger?: SinkLogger;
  /** How long resolve() may read the progress partition before it gives up, default 60 s. */
  readonly resolveTimeoutMs?: number;
  /** How long resolve() waits for the probe before it fences the partition's other writers (ResolveOptions.peers), default 5 s. */
  readonly stallFenceMs?: number;
  /** Estimated bytes per produce request, default 900 000; bigger sends are split. Keep below the topics' max.message.bytes. */
  readonly maxRequestBytes?: number;
  /** Retries of the sink's producers, default PRODUCER_RETRY. */
  readonly producerRetry?: RetryOptions;
}

/**
 * Retries of retriable produce errors. The short first backoff is for kafkajs#1315: a
 * transaction's first AddPartitionsToTxn often gets CONCURRENT_TRANSACTIONS while the previous
 * commit's markers are still being written; kafkajs retries it after its default 300 ms,
 * the Java client after 20 ms. Every field is set so the behaviour does not depend on
 * NODE_ENV (kafkajs switches to other defaults when NODE_ENV=test). About 20 s in all.
 */
export const PRODUCER_RETRY: Readonly<Required<Omit<RetryOptions, 'restartOnFailure'>>> = {
  initialRetryTime: 20,
  maxRetryTime: 30_000,
  factor: 0.2,
  multiplier: 2,
  retries: 10,
};

/**
 * The producer of a transactional id was fenced: a newer producer of that id exists (another
 * invocation, or a recovery), or the broker aborted its transaction after transaction.timeout.ms.
 */
export class ProducerFencedError extends SluiceError {
  constructor(
    readonly txnId: string,
    place: ErrorPlace = {},
    options?: { cause?: unknown },
  ) {
    super(
      'SLUICE_FENCED',
      `the producer of transactional id "${txnId}" was fenced: a newer producer of this id took over, or the broker aborted the transaction after transaction.timeout.ms`,
      place,
      'fail this invocation; the retry creates a fresh producer and recovery decides any prepared batch (a fenced commit is not proof of an abort)',
      options,
    );
  }
}

/** A Kafka operation of the sink failed; any producer involved was dropped. */
export class KafkaSinkError extends SluiceError {
  constructor(message: string, place: ErrorPlace = {}, hint?: string, options?: { cause?: unknown }) {
    super('SLUICE_KAFKA_SINK', message, place, hint, options);
  }
}

/** Codes of ResolveError. */
export type ResolveErrorCode = 'SLUICE_RESOLVE_TIMEOUT' | 'SLUICE_PROGRESS_LOST' | 'SLUICE_PROGRESS_POSITION';

/** resolve() could not decide an in-doubt batch; nothing was decided, so retrying is safe. */
export class ResolveError extends SluiceError {
  constructor(code: ResolveErrorCode, message: string, place: ErrorPlace, hint: string, options?: { cause?: unknown }) {
    super(code, message, place, hint, options);
  }
}

const DEFAULT_RESOLVE_TIMEOUT_MS = 60_000;
const DEFAULT_STALL_FENCE_MS = 5_000;
const DEFAULT_MAX_REQUEST_BYTES = 900_000;

/** A cached transactional producer and the transaction it has open, if any. */
interface Slot {
  readonly txnId: string;
  readonly producer: Producer;
  readonly connected: Promise<void>;
  current: SinkTxn | undefined;
}

/** A record with the partition it goes to. */
interface Routed {
  readonly record: OutgoingRecord;
  readonly partition: number;
}

/** TxnSink over kafkajs: one cached transactional producer per transactional id. */
export class KafkaTxnSink implements TxnSink {
  private readonly counters: KafkaSinkCounters;
  private readonly logger: SinkLogger | undefined;
  private readonly transactionTimeoutMs: number;
  private readonly resolveTimeoutMs: number;
  private readonly stallFenceMs: number;
  private readonly maxRequestBytes: number;
  private readonly producerRetry: RetryOptions;
  private readonly slots = new Map<string, Slot>();
  private readonly partitionCounts = new Map<string, Promise<number>>();
  private readonly roundRobin = new Map<string, number>();
  private kafkaClient: Kafka | undefined;
  private direct: Promise<Producer> | undefined;
  private directTurn: Promise<void> = Promise.resolve();
  private admin: Promise<Admin> | undefined;
  private closed = false;

  /** `kafka`: the client, or a factory called once on first use. */
  constructor(
    private readonly kafkaSource: Kafka | (() => Kafka),
    options: KafkaTxnSinkOptions,
  ) {
    const t = options.transactionTimeoutMs;
    if (!Number.isInteger(t) || t < 1) {
      throw new KafkaSinkError(`transactionTimeoutMs must be a positive integer, got ${t}`, { field: 'transactionTimeoutMs' }, 'use a value above the function timeout');
    }
    this.transactionTimeoutMs = t;
    this.counters = options.counters ?? newKafkaSinkCounters();
    this.logger = options.logger;
    this.resolveTimeoutMs = options.resolveTimeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS;
    this.stallFenceMs = options.stallFenceMs ?? DEFAULT_STALL_FENCE_MS;
    this.maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    this.producerRetry = options.producerRetry ?? PRODUCER_RETRY;
  }

  /** The counters this sink adds to. */
  get metrics(): Readonly<KafkaSinkCounters> {
    return this.counters;
  }

  /** Opens a transaction under `txnId`, reusing the cached producer; throws ProducerFencedError or KafkaSinkError. */
  async begin(txnId: string): Promise<KafkaTxn> {
    this.ensureOpen();
    let slot = this.slots.get(txnId);
    if (slot?.current) {
      // An earlier transaction of this id was never ended (its invocation crashed or is a
      // zombie in this process). A fresh producer's InitProducerId aborts it on the broker.
      this.logger?.warn('transaction left open; replacing its producer', { txnId });
      await this.drop(slot);
      slot = undefined;
    }
    slot ??= await this.slotFor(txnId);
    let txn;
    try {
      txn = await slot.producer.transaction();
    } catch (error) {
      await this.drop(slot);
      throw this.failure(error, txnId, 'begin');
    }
    this.counters.transactions++;
    const open = new SinkTxn(this.txnOps(slot, txn));
    slot.current = open;
    return open;
  }

  /** Fences older producers of `txnId` the first time this sink uses it (see TxnSink.claim); no-op afterwards. */
  async claim(txnId: string): Promise<void> {
    this.ensureOpen();
    if (this.slots.has(txnId)) return;
    const slot = await this.slotFor(txnId);
    try {
      // kafkajs sends InitProducerId at a producer's first transaction(): that is the fence. An
      // abort with nothing sent ends the transaction on the client only.
      const txn = await slot.producer.transaction();
      await txn.abort();
    } catch (error) {
      await this.drop(slot);
      throw this.failure(error, txnId, 'begin');
    }
  }

  /**
   * Recovery (DESIGN §2): fence every producer of `txnId`, commit a probe record to the
   * progress partition, read that partition read_committed from `progress.offset` until the
   * probe shows up, and say whether the record at `progress.offset` is `{task, seq}`.
   */
  async resolve(txnId: string, progress: ProgressPosition, task: string, seq: number, options: ResolveOptions = {}): Promise<TxnOutcome> {
    this.ensureOpen();
    this.counters.resolves++;
    const place: ErrorPlace = { topic: progress.topic, partition: progress.partition, offset: progress.offset };
    if (![progress.partition, progress.offset].every((n) => Number.isSafeInteger(n) && n >= 0)) {
      throw new ResolveError('SLUICE_PROGRESS_POSITION', 'invalid progress position', place, 'the pending batch records where its progress record went; this one was not written by Sluice');
    }
    // 1. Fence: a fresh producer's first transaction() sends InitProducerId, which bumps the
    //    epoch (older producers of txnId can no longer produce or commit), aborts an open
    //    transaction, and finishes one caught in PREPARE_COMMIT before it answers.
    const old = this.slots.get(txnId);
    if (old) await this.drop(old);
    const slot = await this.slotFor(txnId);
    // 2. Probe: a committed record after everything written so far; read_committed readers see
    //    it only once every earlier transaction on the partition has ended.
    let txn: KafkajsTxn | undefined;
    let probeOffset: number;
    try {
      txn = await slot.producer.transaction();
      this.counters.transactions++;
      const nonce = randomUUID();
      const [at] = await this.produce(txn, [probeRecord(progress.topic, progress.partition, task, nonce)]);
      await txn.commit();
      this.counters.commits++;
      probeOffset = at!.offset;
      // 3. Read up to the probe. A transaction left open on the partition by a crashed
      //    invocation holds the read back; if it takes long, fence every writer of the partition.
      const peers = (options.peers ?? []).filter((id) => id !== txnId);
      let fencing: Promise<void> | undefined;
      const stall = peers.length > 0 ? setTimeout(() => {
        fencing = this.fencePeers(peers, progress);
      }, this.stallFenceMs) : undefined;
      let found: Buffer | null | undefined;
      try {
        found = await this.readUpToWithRetry(progress, probeOffset, nonce, txnId);
      } finally {
        clearTimeout(stall);
        await fencing; // no producer of it outlives the call
      }
      if (found !== undefined) {
        const p = parseProgress(found);
        if (!p) throw new ResolveError('SLUICE_PROGRESS_POSITION', 'the record at the progress position is not a progress record', place, 'the pending batch points at the wrong record; inspect the progress topic');
        return p.task === task && p.seq === seq ? 'committed' : 'aborted';
      }
      // Not seen: aborted, unless retention removed it (the read then starts at the log start).
      const low = await this.logStartOffset(progress.topic, progress.partition);
      if (low > progress.offset) {
        throw new ResolveError(
          'SLUICE_PROGRESS_LOST',
          `the progress record was deleted by retention (log start offset ${low}), so the outcome of batch ${seq} of task ${task} cannot be read`,
          place,
          "keep the progress topic's retention (and cleanup.policy=delete or compact) longer than any batch can stay pending",
        );
      }
      return 'aborted';
    } catch (error) {
      if (error instanceof ResolveError) throw error;
      // An open probe transaction would hold back every reader of the progress partition.
      if (txn?.isActive() && !isFencedError(error)) await txn.abort().catch(() => undefined);
      await this.drop(slot);
      throw this.failure(error, txnId, 'resolve', place);
    }
  }

  /**
   * Fences each id with a throwaway producer (InitProducerId aborts its open transaction), not
   * through the slots: a task of this container may be using one of the ids right now, and it
   * will simply fail and be retried.
   */
  private async fencePeers(peers: readonly string[], progress: ProgressPosition): Promise<void> {
    this.logger?.warn('resolve is stalled behind an open transaction; fencing every writer of the progress partition', { topic: progress.topic, partition: progress.partition, peers: peers.length });
    for (const id of peers) {
      const producer = this.transactionalProducer(id);
      try {
        await producer.connect();
        const txn = await producer.transaction();
        await txn.abort();
        this.counters.peersFenced++;
      } catch (error) {
        this.logger?.warn('fencing a writer of the progress partition failed', { txnId: id, error: describe(error) });
      } finally {
        await this.disconnect(producer, id);
      }
    }
  }

  /** At-least-once: sends through an idempotent, non-transactional producer; returns each record's offset. */
  async sendDirect(records: readonly OutgoingRecord[]): Promise<SentOffsets> {
    this.ensureOpen();
    if (records.length === 0) return [];
    // One send at a time (tasks of one invocation share the producer). kafkajs rolls an
    // idempotent producer's sequence numbers back when a produce request fails, even one that
    // reached the broker (a timeout); a concurrent send could then reuse those numbers and be
    // acknowledged by the broker as a duplicate — records lost without an error. Serialised, a
    // failed send drops the producer before the next send starts, and the next one gets a new
    // producer id.
    const turn = this.directTurn.then(() => this.sendDirectNow(records));
    this.directTurn = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  private async sendDirectNow(records: readonly OutgoingRecord[]): Promise<SentOffsets> {
    this.ensureOpen();
    this.direct ??= this.connectDirect();
    const pending = this.direct;
    try {
      return await this.produce(await pending, records);
    } catch (error) {
      // A failed idempotent send may leave kafkajs's sequence numbers behind the broker's.
      if (this.direct === pending) this.direct = undefined;
      await pending.then((p) => this.disconnect(p, 'direct producer'), () => undefined);
      throw this.failure(error, undefined, 'send');
    }
  }

  /** Disconnects every producer and client; the sink cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    const slots = [...this.slots.values()];
    const direct = this.direct;
    const admin = this.admin;
    this.direct = undefined;
    this.admin = undefined;
    await Promise.all([
      ...slots.map((s) => this.drop(s)),
      direct?.then((p) => this.disconnect(p, 'direct producer'), () => undefined),
      admin?.then((a) => a.disconnect().catch((e: unknown) => this.logger?.warn('admin disconnect failed', { error: String(e) })), () => undefined),
    ]);
  }

  /** Listener of kafkajs's request events. */
  private readonly countRequest = (event: { payload: { apiName: string } }): void => {
    this.counters.requests++;
    const api = event.payload.apiName;
    this.counters.requestsByApi[api] = (this.counters.requestsByApi[api] ?? 0) + 1;
  };

  // --- producers -------------------------------------------------------------------------------

  private kafka(): Kafka {
    this.kafkaClient ??= typeof this.kafkaSource === 'function' ? this.kafkaSource() : this.kafkaSource;
    return this.kafkaClient;
  }

  private ensureOpen(): void {
    if (this.closed) throw new KafkaSinkError('the sink is closed', {}, 'create a new KafkaTxnSink');
  }

  /** The cached producer of `txnId`, connected; creates one if none. */
  private async slotFor(txnId: string): Promise<Slot> {
    let slot = this.slots.get(txnId);
    if (!slot) {
      const producer = this.transactionalProducer(txnId);
      slot = { txnId, producer, connected: producer.connect(), current: undefined };
      this.slots.set(txnId, slot);
    }
    try {
      await slot.connected;
    } catch (error) {
      await this.drop(slot);
      throw this.failure(error, txnId, 'connect');
    }
    return slot;
  }

  /** A new (unconnected) transactional producer of `txnId`, counted. */
  private transactionalProducer(txnId: string): Producer {
    const producer = this.kafka().producer({
      transactionalId: txnId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.transactionTimeoutMs,
      allowAutoTopicCreation: false,
      retry: this.producerRetry,
    });
    producer.on(producer.events.REQUEST, this.countRequest);
    this.counters.producersCreated++;
    return producer;
  }

  /** Forgets the slot and disconnects its producer; its open transaction can then never commit. */
  private async drop(slot: Slot): Promise<void> {
    if (this.slots.get(slot.txnId) === slot) this.slots.delete(slot.txnId);
    if (slot.current?.state === 'open') slot.current.state = 'superseded';
    slot.current = undefined;
    await slot.connected.then(() => this.disconnect(slot.producer, slot.txnId), () => undefined);
  }

  private async disconnect(producer: Producer, which: string): Promise<void> {
    await producer.disconnect().catch((e: unknown) => this.logger?.warn('producer disconnect failed', { producer: which, error: String(e) }));
  }

  private async connectDirect(): Promise<Producer> {
    const producer = this.kafka().producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: this.producerRetry });
    producer.on(producer.events.REQUEST, this.countRequest);
    this.counters.producersCreated++;
    try {
      await producer.connect();
      return producer;
    } catch (error) {
      this.direct = undefined;
      await this.disconnect(producer, 'direct producer');
      throw error;
    }
  }

  /** What a SinkTxn may do to its slot. */
  private txnOps(slot: Slot, txn: KafkajsTxn): TxnOps {
    return {
      txnId: slot.txnId,
      txn,
      counters: this.counters,
      logger: this.logger,
      produce: (records) => this.produce(txn, records),
      done: (t) => {
        if (slot.current === t) slot.current = undefined;
      },
      drop: () => this.drop(slot),
      failure: (error, op) => this.failure(error, slot.txnId, op),
    };
  }

  /** Maps a kafkajs error to a Sluice one; counts fencings. */
  private failure(error: unknown, txnId: string | undefined, op: string, place: ErrorPlace = {}): SluiceError {
    if (error instanceof SluiceError) return error;
    if (txnId !== undefined && isFencedError(error)) {
      this.counters.fenced++;
      return new ProducerFencedError(txnId, place, { cause: error });
    }
    const who = txnId === undefined ? 'direct producer' : `transactional id "${txnId}"`;
    const inDoubt = op === 'commit' ? '; the outcome is unknown until recovery resolves it' : '';
    return new KafkaSinkError(`Kafka ${op} failed (${who}): ${describe(error)}${inDoubt}`, place, 'fail this invocation; Lambda retries it with a fresh producer', { cause: error });
  }

  // --- sending ---------------------------------------------------------------------------------

  /** Sends records (split into requests of at most maxRequestBytes) and returns each record's offset. */
  private async produce(sender: Sender, records: readonly OutgoingRecord[]): Promise<SentOffsets> {
    const routed = await this.route(records);
    const offsets: SentOffsets[number][] = [];
    for (const chunk of chunkBySize(routed, this.maxRequestBytes)) {
      const sent = await sender.sendBatch({ acks: -1, topicMessages: toTopicMessages(chunk) });
      offsets.push(...offsetsOf(chunk, sent));
      this.counters.recordsSent += chunk.length;
    }
    return offsets;
  }

  /**
   * Gives every record an explicit partition, so the offsets Kafka reports can be matched to
   * records: the record's own (checked), else Kafka's murmur2 partition of its key, else round
   * robin. Partition counts come from metadata, once per topic and sink.
   */
  private async route(records: readonly OutgoingRecord[]): Promise<Routed[]> {
    const routed: Routed[] = [];
    for (const record of records) {
      const count = await this.partitionCount(record.topic);
      if (record.partition !== undefined) {
        // Checked here because kafkajs silently leaves out records for a partition it has no leader for.
        if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= count) {
          throw new KafkaSinkError(
            `partition ${record.partition} does not exist: the topic has ${count}`,
            { topic: record.topic, partition: record.partition },
            'the partition count the pipeline was compiled for differs from the topic; see `sluice deploy`',
          );
        }
        routed.push({ record, partition: record.partition });
      } else if (record.key) {
        routed.push({ record, partition: partitionForKey(record.key, count) });
      } else {
        const next = this.roundRobin.get(record.topic) ?? 0;
        this.roundRobin.set(record.topic, next + 1);
        routed.push({ record, partition: next % count });
      }
    }
    return routed;
  }

  /** The topic's partition count, looked up once per sink (Sluice never changes it). */
  private partitionCount(topic: string): Promise<number> {
    let count = this.partitionCounts.get(topic);
    if (!count) {
      count = this.adminClient()
        .then((admin) => admin.fetchTopicMetadata({ topics: [topic] }))
        .then(({ topics }) => {
          const n = topics.find((t) => t.name === topic)?.partitions.length ?? 0;
          if (n < 1) throw new KafkaSinkError(`topic "${topic}" has no partitions`, { topic }, 'create the topic first (sluice deploy creates the topology topics)');
          return n;
        });
      this.partitionCounts.set(topic, count);
      count.catch(() => this.partitionCounts.delete(topic));
    }
    return count;
  }

  private adminClient(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka().admin();
      admin.on(admin.events.REQUEST, this.countRequest);
      const connected = admin.connect().then(() => admin);
      connected.catch(() => {
        if (this.admin === connected) this.admin = undefined;
      });
      this.admin = connected;
    }
    return this.admin;
  }

  // --- resolving -------------------------------------------------------------------------------

  /**
   * Reads the partition read_committed from `progress.offset` until the probe at `probeOffset`
   * appears; returns the value of the record at `progress.offset`, undefined if it is not visible.
   */
  /**
   * The read is idempotent (the probe is committed; nothing after it changes the answer), so a
   * failure of kafkajs's throwaway consumer itself (e.g. its group join throwing a TypeError
   * under load) is retried a few times instead of failing the invocation.
   */
  private async readUpToWithRetry(progress: ProgressPosition, probeOffset: number, nonce: string, txnId: string): Promise<Buffer | null | undefined> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.readUpTo(progress, probeOffset, nonce, txnId);
      } catch (error) {
        if (error instanceof ResolveError || attempt >= 3) throw error;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  }

  private async readUpTo(progress: ProgressPosition, probeOffset: number, nonce: string, txnId: string): Promise<Buffer | null | undefined> {
    const place: ErrorPlace = { topic: progress.topic, partition: progress.partition, offset: progress.offset };
    if (probeOffset <= progress.offset) {
      throw new ResolveError('SLUICE_PROGRESS_POSITION', `the probe landed at offset ${probeOffset}, not after the progress position`, place, 'the pending batch points past the end of the partition; was the topic recreated?');
    }
    const { topic, partition } = progress;
    // kafkajs can only read through a consumer group: a throwaway one, never committing.
    // fromBeginning: if retention removed progress.offset, kafkajs falls back to the log start,
    // the probe still ends the read, and resolve() then reports the loss.
    const consumer: Consumer = this.kafka().consumer({
      // Named under the task's transactional id, so a stage's IAM scope (`<app>.<stage>.*`) covers it.
      groupId: `${txnId}.resolve-${randomUUID()}`,
      readUncommitted: false,
      maxWaitTimeInMs: 250,
      allowAutoTopicCreation: false,
      retry: { restartOnFailure: () => Promise.resolve(false) },
    });
    consumer.on(consumer.events.REQUEST, this.countRequest);
    let found: { value: Buffer | null } | undefined;
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => {
        reject(
          new ResolveError(
            'SLUICE_RESOLVE_TIMEOUT',
            `read_committed did not reach the probe at offset ${probeOffset} within ${this.resolveTimeoutMs} ms`,
            place,
            'a transaction left open on this progress partition holds read_committed readers back until it ends (at most transaction.timeout.ms, sooner when its task retries); the invocation fails and is retried',
          ),
        );
      }, this.resolveTimeoutMs);
      // Seek and pause when the assignment is known and before the first fetch, so no fetch
      // from another position can race the seek.
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        const others = (payload.memberAssignment[topic] ?? []).filter((p) => p !== partition);
        if (others.length > 0) consumer.pause([{ topic, partitions: others }]);
        consumer.seek({ topic, partition, offset: String(progress.offset) });
      });
      consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
      consumer
        .connect()
        .then(() => consumer.subscribe({ topic, fromBeginning: true }))
        .then(() =>
          consumer.run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              if (batch.topic !== topic || batch.partition !== partition) return;
              for (const m of batch.messages) {
                const offset = Number(m.offset);
                if (offset === progress.offset) found = { value: m.value };
                if (offset === probeOffset) {
                  if (!isProbe(m.value, nonce)) reject(new ResolveError('SLUICE_PROGRESS_POSITION', `offset ${probeOffset} does not hold our probe`, place, 'report this: Kafka returned another record at the offset it acknowledged for the probe'));
                  resolve();
                  return;
                }
              }
            },
          }),
        )
        .catch(reject);
    });
    try {
      await done;
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch((e: unknown) => this.logger?.warn('resolve consumer disconnect failed', { error: String(e) }));
    }
    return found?.value;
  }

  private async logStartOffset(topic: string, partition: number): Promise<number> {
    const admin = await this.adminClient();
    const offsets = await admin.fetchTopicOffsets(topic);
    const low = offsets.find((o) => o.partition === partition)?.low;
    if (low === undefined) throw new KafkaSinkError(`partition ${partition} not found`, { topic, partition }, 'was the progress topic recreated with fewer partitions?');
    return Number(low);
  }
}

// --- one transaction -----------------------------------------------------------------------------

type KafkajsTxn = Awaited<ReturnType<Producer['transaction']>>;

/** What a SinkTxn may do to the sink. */
interface TxnOps {
  readonly txnId: string;
  readonly txn: KafkajsTxn;
  readonly counters: KafkaSinkCounters;
  readonly logger: SinkLogger | undefined;
  produce(records: readonly OutgoingRecord[]): Promise<SentOffsets>;
  done(t: SinkTxn): void;
  drop(): Promise<void>;
  failure(error: unknown, op: string): SluiceError;
}

/** An open kafkajs transaction behind the KafkaTxn port. */
class SinkTxn implements KafkaTxn {
  /** `superseded`: its producer was dropped for a newer one of the same id (begin or resolve). */
  state: 'open' | 'committing' | 'committed' | 'aborted' | 'failed' | 'superseded' = 'open';

  constructor(private readonly ops: TxnOps) {}

  async send(records: readonly OutgoingRecord[]): Promise<SentOffsets> {
    this.ensureOpen('send');
    try {
      return await this.ops.produce(records);
    } catch (error) {
      throw await this.fail(error, 'send');
    }
  }

  async commit(): Promise<void> {
    this.ensureOpen('commit');
    this.state = 'committing';
    try {
      await this.ops.txn.commit();
    } catch (error) {
      throw await this.fail(error, 'commit');
    }
    this.state = 'committed';
    this.ops.counters.commits++;
    this.ops.done(this);
  }

  /** Never throws for a transaction that can no longer commit: that is all abort promises. */
  async abort(): Promise<void> {
    if (this.state === 'aborted' || this.state === 'failed' || this.state === 'superseded') return;
    if (this.state !== 'open') throw new KafkaSinkError(`cannot abort a transaction that is ${this.state}`, {}, 'abort only before commit');
    try {
      await this.ops.txn.abort();
    } catch (error) {
      // The producer is dropped, so the transaction can never commit; the broker aborts it at
      // the next InitProducerId of this id or after transaction.timeout.ms.
      this.state = 'failed';
      this.ops.logger?.warn('abort failed; producer dropped', { txnId: this.ops.txnId, error: describe(error) });
      await this.ops.drop();
      return;
    }
    this.state = 'aborted';
    this.ops.counters.aborts++;
    this.ops.done(this);
  }

  private ensureOpen(op: string): void {
    if (this.state === 'superseded') throw new ProducerFencedError(this.ops.txnId);
    if (this.state !== 'open') throw new KafkaSinkError(`cannot ${op}: the transaction is ${this.state}`, {}, 'begin a new transaction');
  }

  /** Drops the producer (after trying to abort, so readers are not held back) and says why. */
  private async fail(error: unknown, op: 'send' | 'commit'): Promise<SluiceError> {
    if (this.state === 'superseded') return new ProducerFencedError(this.ops.txnId, {}, { cause: error });
    const fenced = isFencedError(error);
    this.state = 'failed';
    if (op === 'send' && !fenced) await this.ops.txn.abort().catch(() => undefined);
    await this.ops.drop();
    return this.ops.failure(error, op);
  }
}

// --- pure helpers --------------------------------------------------------------------------------

/**
 * True if a kafkajs error (or any error in its `cause` chain) says the producer's epoch is
 * stale: INVALID_PRODUCER_EPOCH (47, what brokers answer kafkajs's old request versions),
 * PRODUCER_FENCED (90, unknown to kafkajs: "Unknown error code 90"), or a message saying so.
 */
export function isFencedError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    const { type } = e as Error & { type?: unknown };
    if (type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED') return true;
    if (/fenced|unknown error code 90\b/i.test(e.message)) return true;
  }
  return false;
}

/**
 * Sluice headers as kafkajs headers. kafkajs takes an object: a repeated name becomes an array
 * (kafkajs writes one header per element, in order). Limit: records keep the order of values
 * of one name, but headers are grouped by name (names in first-seen order, except that
 * integer-like names such as "7" come first).
 */
export function toKafkaHeaders(headers: readonly RecordHeader[]): IHeaders {
  const out: Record<string, Buffer | Buffer[]> = Object.create(null) as Record<string, Buffer | Buffer[]>;
  for (const { name, value } of headers) {
    const seen = out[name];
    out[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}

/** Kafka writes each partition's records of one request as one batch: offset = base offset + position in the batch. */
function offsetsOf(chunk: readonly Routed[], sent: readonly RecordMetadata[]): SentOffsets {
  const base = new Map<string, number>();
  for (const m of sent) {
    const offset = Number(m.baseOffset);
    if (m.baseOffset === undefined || !Number.isSafeInteger(offset) || offset < 0) {
      throw new KafkaSinkError(`Kafka acknowledged a batch without a base offset (${String(m.baseOffset)})`, { topic: m.topicName, partition: m.partition }, 'report this: the producer must use acks=-1');
    }
    base.set(`${m.topicName}\u0000${m.partition}`, offset);
  }
  const next = new Map<string, number>();
  return chunk.map(({ record, partition }) => {
    const key = `${record.topic}\u0000${partition}`;
    const start = base.get(key);
    if (start === undefined) throw new KafkaSinkError('kafkajs acknowledged the send without this partition', { topic: record.topic, partition }, 'kafkajs leaves out partitions it knows no leader for; check the topic');
    const i = next.get(key) ?? 0;
    next.set(key, i + 1);
    return { topic: record.topic, partition, offset: start + i };
  });
}

function toTopicMessages(chunk: readonly Routed[]): { topic: string; messages: Message[] }[] {
  const byTopic = new Map<string, Message[]>();
  for (const { record, partition } of chunk) {
    let messages = byTopic.get(record.topic);
    if (!messages) byTopic.set(record.topic, (messages = []));
    messages.push({
      key: record.key,
      value: record.value,
      partition,
      headers: toKafkaHeaders(record.headers),
      ...(record.timestamp !== undefined ? { timestamp: String(record.timestamp) } : {}),
    });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** Consecutive runs of records whose estimated encoded size stays within `maxBytes` (a bigger record goes alone). */
function chunkBySize(routed: readonly Routed[], maxBytes: number): Routed[][] {
  const chunks: Routed[][] = [];
  let current: Routed[] = [];
  let size = 0;
  for (const r of routed) {
    const s = estimatedSize(r.record);
    if (current.length > 0 && size + s > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(r);
    size += s;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Upper estimate of a record's bytes in a record batch (varint lengths, attributes, deltas). */
function estimatedSize(r: OutgoingRecord): number {
  let size = 32 + (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const h of r.headers) size += 10 + Buffer.byteLength(h.name) + h.value.length;
  return size;
}

/** The probe resolve() commits. Its key differs from the task's progress key so log compaction never removes a progress record in its favour. */
function probeRecord(topic: string, partition: number, task: string, nonce: string): OutgoingRecord {
  return { topic, partition, key: Buffer.from(`${task}#probe`), value: Buffer.from(JSON.stringify({ task, probe: nonce })), headers: [] };
}

function isProbe(value: Buffer | null, nonce: string): boolean {
  try {
    return (JSON.parse(value?.toString('utf8') ?? 'null') as { probe?: unknown } | null)?.probe === nonce;
  } catch {
    return false;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { type } = error as Error & { type?: unknown };
  const cause = error.cause instanceof Error && error.cause.message !== error.message ? ` (caused by: ${describe(error.cause)})` : '';
  return `${error.name}${typeof type === 'string' ? ` ${type}` : ''}: ${error.message}${cause}`;
}
