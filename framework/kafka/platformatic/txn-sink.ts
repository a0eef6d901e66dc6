/**
 * The Kafka side of the commit protocol over @platformatic/kafka (Node ≥ 22): the same TxnSink
 * contract as kafka/txn-sink.ts (kafkajs), which stays the default. Chosen with
 * SLUICE_KAFKA_CLIENT=platformatic (kafka/client-choice.ts), which loads this module only then.
 *
 * Invariants (as the kafkajs sink's):
 * - A producer that failed in any way is closed and dropped; the next begin() of its
 *   transactional id makes a fresh one, whose InitProducerId aborts whatever the old one left open.
 * - When resolve(txnId, …) returns, no producer that existed before the call can change the
 *   outcome of any transaction of txnId, and the answer is what every read_committed reader sees
 *   at the progress record's offset (docs/exactly-once-recovery.md).
 *
 * Where the library needs help (docs/kafka-clients.md):
 * - A new producer's InitProducerId carries producer id 0 / epoch 0 unless told otherwise, which a
 *   broker answers PRODUCER_FENCED when the transactional id already has a producer: it could never
 *   take an id over. Every transaction is begun with producer id -1 / epoch -1 (`FENCE`).
 * - Ending a transaction that has no partitions yet sends EndTxn, which the broker rejects
 *   (INVALID_TXN_STATE); such a transaction is ended on the client only (`cancel`).
 * - Its read_committed filter leaks records of a producer's earlier aborted transaction when the
 *   same producer aborted again later (read-committed.ts); resolve filters fetches itself.
 * - It does not retry EndTxn on UNKNOWN_SERVER_ERROR; the sink re-sends it (errors.ts).
 */
import { randomUUID } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import { Consumer, FetchIsolationLevels, ListOffsetTimestamps, Producer, protocolAPIsById, type ProduceResult } from '@platformatic/kafka';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KafkaTxn, ProgressPosition, ResolveOptions, SentOffsets, TxnOutcome, TxnSink } from '../../commit/ports.js';
import { SluiceError, type ErrorPlace } from '../../errors.js';
import { partitionForKey } from '../partitioner.js';
import { parseProgress } from '../progress.js';
import type { OutgoingRecord } from '../record.js';
import { KafkaSinkError, newKafkaSinkCounters, ProducerFencedError, ResolveError, type KafkaSinkCounters, type KafkaTxnSinkOptions, type SinkLogger } from '../txn-sink.js';
import { requestsOf, type Routed } from './batching.js';
import { platformaticConnection, type PlatformaticClientConfig, type PlatformaticConnection } from './connection.js';
import { endTxnResend, isFencedByBroker, PLATFORMATIC_RETRIES, protocolErrorIds, retryDelayMs } from './errors.js';
import { committedRecords } from './read-committed.js';

/** Options of a PlatformaticTxnSink: the kafkajs sink's, less its kafkajs retry settings. */
export type PlatformaticTxnSinkOptions = Omit<KafkaTxnSinkOptions, 'producerRetry'>;

const DEFAULT_RESOLVE_TIMEOUT_MS = 60_000;
const DEFAULT_STALL_FENCE_MS = 5_000;
const DEFAULT_MAX_REQUEST_BYTES = 900_000;
/** InitProducerId's "no current producer": fences whatever producer holds the id. */
const FENCE = { producerId: -1n, producerEpoch: -1 } as const;
/** How long a read_committed fetch of resolve waits for data at the broker. */
const FETCH_WAIT_MS = 100;

/** The library's Transaction (not exported by name). */
type Txn = Awaited<ReturnType<Producer['beginTransaction']>>;

/** A transactional producer of one transactional id, and its open transaction. */
interface Slot {
  readonly txnId: string;
  readonly producer: Producer;
  current: SinkTxn | undefined;
}

/** TxnSink over @platformatic/kafka. */
export class PlatformaticTxnSink implements TxnSink {
  private readonly connection: PlatformaticConnection;
  private readonly counters: KafkaSinkCounters;
  private readonly logger: SinkLogger | undefined;
  private readonly transactionTimeoutMs: number;
  private readonly resolveTimeoutMs: number;
  private readonly stallFenceMs: number;
  private readonly maxRequestBytes: number;
  private readonly slots = new Map<string, Slot>();
  private readonly partitionCounts = new Map<string, Promise<number>>();
  private readonly roundRobin = new Map<string, number>();
  /** Metadata, offsets and resolve's fetches; never joins a group. */
  private reader: Consumer | undefined;
  private direct: Producer | undefined;
  private directTurn: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(config: PlatformaticClientConfig, options: PlatformaticTxnSinkOptions) {
    const t = options.transactionTimeoutMs;
    if (!Number.isInteger(t) || t < 1) {
      throw new KafkaSinkError(`transactionTimeoutMs must be a positive integer, got ${t}`, { field: 'transactionTimeoutMs' }, 'use a value above the function timeout');
    }
    this.connection = platformaticConnection(config);
    this.transactionTimeoutMs = t;
    this.counters = options.counters ?? newKafkaSinkCounters();
    this.logger = options.logger;
    this.resolveTimeoutMs = options.resolveTimeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS;
    this.stallFenceMs = options.stallFenceMs ?? DEFAULT_STALL_FENCE_MS;
    this.maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    countRequests();
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
      // An earlier transaction of this id was never ended (a crashed or zombie invocation in this
      // process). A fresh producer's InitProducerId aborts it on the broker.
      this.logger?.warn('transaction left open; replacing its producer', { txnId });
      await this.drop(slot);
      slot = undefined;
    }
    slot ??= this.slotFor(txnId);
    let txn: Txn;
    try {
      // The first transaction of a producer sends InitProducerId (the fence); later ones send nothing.
      txn = await slot.producer.beginTransaction(FENCE);
    } catch (error) {
      await this.drop(slot);
      throw this.failure(error, txnId, 'begin');
    }
    this.counters.transactions++;
    const open = new SinkTxn(this, slot, txn);
    slot.current = open;
    return open;
  }

  /** Fences older producers of `txnId` the first time this sink uses it (see TxnSink.claim); no-op afterwards. */
  async claim(txnId: string): Promise<void> {
    this.ensureOpen();
    if (this.slots.has(txnId)) return;
    const slot = this.slotFor(txnId);
    try {
      const txn = await slot.producer.beginTransaction(FENCE);
      await txn.cancel(); // ends it on the client only: nothing was added, so there is nothing to end on the broker
    } catch (error) {
      await this.drop(slot);
      throw this.failure(error, txnId, 'begin');
    }
  }

  /**
   * Recovery (DESIGN §2): fence every producer of `txnId`, commit a probe record to the progress
   * partition, read that partition read_committed from `progress.offset` until the probe shows
   * up, and say whether the record at `progress.offset` is `{task, seq}`.
   */
  async resolve(txnId: string, progress: ProgressPosition, task: string, seq: number, options: ResolveOptions = {}): Promise<TxnOutcome> {
    this.ensureOpen();
    this.counters.resolves++;
    const place: ErrorPlace = { topic: progress.topic, partition: progress.partition, offset: progress.offset };
    if (![progress.partition, progress.offset].every((n) => Number.isSafeInteger(n) && n >= 0)) {
      throw new ResolveError('SLUICE_PROGRESS_POSITION', 'invalid progress position', place, 'the pending batch records where its progress record went; this one was not written by Sluice');
    }
    // 1. Fence: a fresh producer's InitProducerId bumps the epoch, aborts an open transaction and
    //    completes one caught in PREPARE_COMMIT before it answers.
    const old = this.slots.get(txnId);
    if (old) await this.drop(old);
    const slot = this.slotFor(txnId);
    let txn: Txn | undefined;
    try {
      txn = await slot.producer.beginTransaction(FENCE);
      this.counters.transactions++;
      // 2. Probe: a committed record after everything written so far.
      const nonce = randomUUID();
      const [at] = await this.produce(txn, [probeRecord(progress.topic, progress.partition, task, nonce)]);
      await endTransaction(txn, 'commit');
      txn = undefined;
      this.counters.commits++;
      const probeOffset = at!.offset;
      // 3. Read up to the probe; if that stalls, fence every writer of the partition.
      const peers = (options.peers ?? []).filter((id) => id !== txnId);
      let fencing: Promise<void> | undefined;
      const stall = peers.length > 0 ? setTimeout(() => (fencing = this.fencePeers(peers, progress)), this.stallFenceMs) : undefined;
      let found: Buffer | null | undefined;
      try {
        found = await this.readUpTo(progress, probeOffset, nonce, place);
      } finally {
        clearTimeout(stall);
        await fencing;
      }
      if (found !== undefined) {
        const p = parseProgress(found);
        if (!p) throw new ResolveError('SLUICE_PROGRESS_POSITION', 'the record at the progress position is not a progress record', place, 'the pending batch points at the wrong record; inspect the progress topic');
        return p.task === task && p.seq === seq ? 'committed' : 'aborted';
      }
      const low = await this.logStartOffset(progress.topic, progress.partition);
      if (low > progress.offset) throw progressLost(low, task, seq, place);
      return 'aborted';
    } catch (error) {
      if (error instanceof ResolveError) throw error;
      // An open probe transaction would hold back every reader of the progress partition.
      if (txn && !isFencedByBroker(error)) await txn.abort().catch(() => undefined);
      await this.drop(slot);
      throw this.failure(error, txnId, 'resolve', place);
    }
  }

  /** At-least-once: sends through an idempotent, non-transactional producer; returns each record's offset. */
  async sendDirect(records: readonly OutgoingRecord[]): Promise<SentOffsets> {
    this.ensureOpen();
    if (records.length === 0) return [];
    // One send at a time, as in the kafkajs sink: a failed idempotent send drops the producer
    // before the next send starts, so no send can reuse sequence numbers of one that failed.
    const turn = this.directTurn.then(() => this.sendDirectNow(records));
    this.directTurn = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  /** Closes every producer and client; the sink cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    const slots = [...this.slots.values()];
    const clients = [this.direct, this.reader];
    this.direct = undefined;
    this.reader = undefined;
    await Promise.all([...slots.map((s) => this.drop(s)), ...clients.map((c) => c?.close(true).catch((e: unknown) => this.logger?.warn('client close failed', { error: describe(e) })))]);
  }

  // --- what SinkTxn uses -----------------------------------------------------------------------

  /** @internal */ get sinkCounters(): KafkaSinkCounters {
    return this.counters;
  }

  /** @internal */ get sinkLogger(): SinkLogger | undefined {
    return this.logger;
  }

  /** Sends records (split into requests as batching.ts says) and returns each record's offset. @internal */
  async produce(sender: Txn | Producer, records: readonly OutgoingRecord[]): Promise<SentOffsets> {
    const routed = await this.route(records);
    const offsets: SentOffsets[number][] = [];
    for (const chunk of requestsOf(routed, this.maxRequestBytes, Date.now())) {
      const result = await sender.send({ messages: chunk.map(toMessage) });
      offsets.push(...offsetsOf(chunk, result));
      this.counters.recordsSent += chunk.length;
    }
    return offsets;
  }

  /** Forgets the slot and closes its producer; its open transaction can then never commit. @internal */
  async drop(slot: Slot): Promise<void> {
    if (this.slots.get(slot.txnId) === slot) this.slots.delete(slot.txnId);
    if (slot.current?.state === 'open') slot.current.state = 'superseded';
    slot.current = undefined;
    await slot.producer.close(true).catch((e: unknown) => this.logger?.warn('producer close failed', { producer: slot.txnId, error: describe(e) }));
  }

  /** Maps a library error to a Sluice one; counts fencings. @internal */
  failure(error: unknown, txnId: string | undefined, op: string, place: ErrorPlace = {}): SluiceError {
    if (error instanceof SluiceError) return error;
    if (txnId !== undefined && isFencedByBroker(error)) {
      this.counters.fenced++;
      return new ProducerFencedError(txnId, place, { cause: error });
    }
    const who = txnId === undefined ? 'direct producer' : `transactional id "${txnId}"`;
    const inDoubt = op === 'commit' ? '; the outcome is unknown until recovery resolves it' : '';
    return new KafkaSinkError(`Kafka ${op} failed (${who}): ${describe(error)}${inDoubt}`, place, 'fail this invocation; Lambda retries it with a fresh producer', { cause: error });
  }

  // --- clients ---------------------------------------------------------------------------------

  private ensureOpen(): void {
    if (this.closed) throw new KafkaSinkError('the sink is closed', {}, 'create a new PlatformaticTxnSink');
  }

  /** The cached producer of `txnId`; creates one if none (the library connects on first use). */
  private slotFor(txnId: string): Slot {
    let slot = this.slots.get(txnId);
    if (!slot) {
      slot = { txnId, producer: this.producer(txnId), current: undefined };
      this.slots.set(txnId, slot);
    }
    return slot;
  }

  /** A new idempotent producer, transactional when `txnId` is given, counted. */
  private producer(txnId?: string): Producer {
    this.counters.producersCreated++;
    return new Producer({
      ...this.clientOptions(),
      idempotent: true,
      ...(txnId !== undefined ? { transactionalId: txnId } : {}),
      // `timeout` is what the library sends as InitProducerId's transaction timeout (and as
      // Produce's ack timeout); its default, 5 s, would abort transactions of any longer batch.
      timeout: this.transactionTimeoutMs,
      autocreateTopics: false,
    });
  }

  private readerClient(): Consumer {
    this.reader ??= new Consumer({ ...this.clientOptions(), groupId: `sluice-sink-reader-${randomUUID()}` });
    return this.reader;
  }

  private clientOptions() {
    return {
      ...this.connection,
      retries: PLATFORMATIC_RETRIES,
      retryDelay: (_client: unknown, _op: string, attempt: number) => retryDelayMs(attempt),
      // kafkajs's default; the library's 5 s would refresh metadata every few batches.
      metadataMaxAge: 300_000,
      context: this.counters,
    };
  }

  /**
   * Fences each id with a throwaway producer (InitProducerId aborts its open transaction), not
   * through the slots: a task of this container may be using one of the ids right now, and it
   * will simply fail and be retried.
   */
  private async fencePeers(peers: readonly string[], progress: ProgressPosition): Promise<void> {
    this.logger?.warn('resolve is stalled behind an open transaction; fencing every writer of the progress partition', { topic: progress.topic, partition: progress.partition, peers: peers.length });
    for (const id of peers) {
      const producer = this.producer(id);
      try {
        await (await producer.beginTransaction(FENCE)).cancel();
        this.counters.peersFenced++;
      } catch (error) {
        this.logger?.warn('fencing a writer of the progress partition failed', { txnId: id, error: describe(error) });
      } finally {
        await producer.close(true).catch(() => undefined);
      }
    }
  }

  private async sendDirectNow(records: readonly OutgoingRecord[]): Promise<SentOffsets> {
    this.ensureOpen();
    const producer = (this.direct ??= this.producer());
    try {
      return await this.produce(producer, records);
    } catch (error) {
      if (this.direct === producer) this.direct = undefined;
      await producer.close(true).catch(() => undefined);
      throw this.failure(error, undefined, 'send');
    }
  }

  // --- reading ---------------------------------------------------------------------------------

  /**
   * Reads the partition read_committed from `progress.offset` until the probe at `probeOffset`
   * has been passed; returns the value of the record at `progress.offset` if it is committed.
   * The broker returns nothing past the last stable offset, so once the probe is seen every
   * transaction before it has ended and the answer is final.
   */
  private async readUpTo(progress: ProgressPosition, probeOffset: number, nonce: string, place: ErrorPlace): Promise<Buffer | null | undefined> {
    const reader = this.readerClient();
    const deadline = Date.now() + this.resolveTimeoutMs;
    let position = progress.offset;
    let found: Buffer | null | undefined;
    let refresh = false;
    while (position <= probeOffset) {
      if (Date.now() > deadline) {
        throw new ResolveError(
          'SLUICE_RESOLVE_TIMEOUT',
          `read_committed did not reach the probe at offset ${probeOffset} within ${this.resolveTimeoutMs} ms`,
          place,
          'a transaction left open on this progress partition holds read_committed readers back until it ends (at most transaction.timeout.ms, sooner when its task retries); the invocation fails and is retried',
        );
      }
      const metadata = await reader.metadata({ topics: [progress.topic], forceUpdate: refresh });
      const topic = metadata.topics.get(progress.topic);
      const leader = topic?.partitions[progress.partition]?.leader;
      if (!topic || leader === undefined) throw new KafkaSinkError(`partition ${progress.partition} not found`, place, 'was the progress topic recreated with fewer partitions?');
      let response;
      try {
        response = await reader.fetch({
          node: leader,
          topics: [{ topicId: topic.id, partitions: [{ partition: progress.partition, currentLeaderEpoch: -1, fetchOffset: BigInt(position), lastFetchedEpoch: -1, partitionMaxBytes: 1_048_576 }] }],
          isolationLevel: FetchIsolationLevels.READ_COMMITTED,
          maxWaitTime: FETCH_WAIT_MS,
          minBytes: 1,
          maxBytes: 1_048_576,
        });
      } catch (error) {
        const ids = protocolErrorIds(error);
        if (ids.includes('OFFSET_OUT_OF_RANGE')) {
          const low = await this.logStartOffset(progress.topic, progress.partition);
          if (low > progress.offset) throw progressLost(low, '', 0, place);
        }
        if (ids.some((id) => id === 'NOT_LEADER_OR_FOLLOWER' || id === 'LEADER_NOT_AVAILABLE' || id === 'FENCED_LEADER_EPOCH') && !refresh) {
          refresh = true;
          continue;
        }
        throw error;
      }
      refresh = false;
      const part = response.responses.flatMap((t) => t.partitions).find((p) => p.partitionIndex === progress.partition);
      const read = committedRecords(part?.records ?? [], part?.abortedTransactions ?? null, position);
      for (const r of read.records) {
        if (r.offset === progress.offset) found = r.value;
        if (r.offset === probeOffset && !isProbe(r.value, nonce)) {
          throw new ResolveError('SLUICE_PROGRESS_POSITION', `offset ${probeOffset} does not hold our probe`, place, 'report this: Kafka returned another record at the offset it acknowledged for the probe');
        }
      }
      // Nothing new (held back by an open transaction before the probe): ask again; the broker waits FETCH_WAIT_MS.
      position = read.next;
    }
    return found;
  }

  private async logStartOffset(topic: string, partition: number): Promise<number> {
    const offsets = await this.readerClient().listOffsets({ topics: [topic], partitions: { [topic]: [partition] }, timestamp: ListOffsetTimestamps.EARLIEST });
    const low = offsets.get(topic)?.[partition];
    if (low === undefined) throw new KafkaSinkError(`partition ${partition} not found`, { topic, partition }, 'was the progress topic recreated with fewer partitions?');
    return Number(low);
  }

  // --- routing ---------------------------------------------------------------------------------

  /**
   * Gives every record an explicit partition (its own, checked; else Kafka's murmur2 partition of
   * its key; else round robin), so the offsets Kafka reports can be matched to records. Checked
   * here because the library takes a partition number modulo the partition count.
   */
  private async route(records: readonly OutgoingRecord[]): Promise<Routed[]> {
    const routed: Routed[] = [];
    for (const record of records) {
      const count = await this.partitionCount(record.topic);
      if (record.partition !== undefined) {
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
      count = this.readerClient()
        .metadata({ topics: [topic] })
        .then((metadata) => {
          const n = metadata.topics.get(topic)?.partitionsCount ?? 0;
          if (n < 1) throw new KafkaSinkError(`topic "${topic}" has no partitions`, { topic }, 'create the topic first (sluice deploy creates the topology topics)');
          return n;
        });
      this.partitionCounts.set(topic, count);
      count.catch(() => this.partitionCounts.delete(topic));
    }
    return count;
  }
}

// --- one transaction -----------------------------------------------------------------------------

/** An open transaction behind the KafkaTxn port. */
class SinkTxn implements KafkaTxn {
  /** `superseded`: its producer was dropped for a newer one of the same id (begin or resolve). */
  state: 'open' | 'committing' | 'committed' | 'aborted' | 'failed' | 'superseded' = 'open';
  /** Whether anything was sent: a transaction with no partitions is ended on the client only. */
  private sent = false;

  constructor(
    private readonly sink: PlatformaticTxnSink,
    private readonly slot: Slot,
    private readonly txn: Txn,
  ) {}

  async send(records: readonly OutgoingRecord[]): Promise<SentOffsets> {
    this.ensureOpen('send');
    if (records.length === 0) return [];
    this.sent = true;
    try {
      return await this.sink.produce(this.txn, records);
    } catch (error) {
      throw await this.fail(error, 'send');
    }
  }

  async commit(): Promise<void> {
    this.ensureOpen('commit');
    this.state = 'committing';
    try {
      await (this.sent ? endTransaction(this.txn, 'commit') : this.txn.cancel());
    } catch (error) {
      throw await this.fail(error, 'commit');
    }
    this.state = 'committed';
    this.sink.sinkCounters.commits++;
    this.done();
  }

  /** Never throws for a transaction that can no longer commit: that is all abort promises. */
  async abort(): Promise<void> {
    if (this.state === 'aborted' || this.state === 'failed' || this.state === 'superseded') return;
    if (this.state !== 'open') throw new KafkaSinkError(`cannot abort a transaction that is ${this.state}`, {}, 'abort only before commit');
    try {
      await (this.sent ? endTransaction(this.txn, 'abort') : this.txn.cancel());
    } catch (error) {
      // The producer is dropped, so the transaction can never commit; the broker aborts it at the
      // next InitProducerId of this id or after transaction.timeout.ms.
      this.state = 'failed';
      this.sink.sinkLogger?.warn('abort failed; producer dropped', { txnId: this.slot.txnId, error: describe(error) });
      await this.sink.drop(this.slot);
      return;
    }
    this.state = 'aborted';
    this.sink.sinkCounters.aborts++;
    this.done();
  }

  private done(): void {
    if (this.slot.current === this) this.slot.current = undefined;
  }

  private ensureOpen(op: string): void {
    if (this.state === 'superseded') throw new ProducerFencedError(this.slot.txnId);
    if (this.state !== 'open') throw new KafkaSinkError(`cannot ${op}: the transaction is ${this.state}`, {}, 'begin a new transaction');
  }

  /** Drops the producer (after trying to abort, so readers are not held back) and says why. */
  private async fail(error: unknown, op: 'send' | 'commit'): Promise<SluiceError> {
    if (this.state === 'superseded') return new ProducerFencedError(this.slot.txnId, {}, { cause: error });
    this.state = 'failed';
    if (op === 'send' && !isFencedByBroker(error)) await this.txn.abort().catch(() => undefined);
    await this.sink.drop(this.slot);
    return this.sink.failure(error, this.slot.txnId, op);
  }
}

/** Commits or aborts, sending EndTxn again while the answer is not definite (errors.ts endTxnResend). */
async function endTransaction(txn: Txn, how: 'commit' | 'abort'): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await (how === 'commit' ? txn.commit() : txn.abort());
      return;
    } catch (error) {
      const decision = endTxnResend(error, attempt);
      if (!decision.again) throw error;
      endTxnResends++;
      await sleep(decision.delayMs);
    }
  }
}

let endTxnResends = 0;

/** EndTxn requests the platformatic sinks of this process sent again after UNKNOWN_SERVER_ERROR (for tests and metrics). */
export function platformaticEndTxnResendCount(): number {
  return endTxnResends;
}

// --- request counting ----------------------------------------------------------------------------

let counting = false;

/**
 * Counts every request of the sink's clients into its counters. The library announces each
 * request on a diagnostics channel with its connection, whose `context` is the client's
 * `context` option: the sink passes its counters object.
 */
function countRequests(): void {
  if (counting) return;
  counting = true;
  subscribe('tracing:plt:kafka:connections:api:start', (message) => {
    const { connection, apiKey } = message as { connection?: { context?: unknown }; apiKey?: number };
    const counters = connection?.context as KafkaSinkCounters | undefined;
    if (!counters || typeof counters.requestsByApi !== 'object' || apiKey === undefined) return;
    counters.requests++;
    const api = protocolAPIsById[apiKey] ?? `api${apiKey}`;
    counters.requestsByApi[api] = (counters.requestsByApi[api] ?? 0) + 1;
  });
}

// --- pure helpers --------------------------------------------------------------------------------

function toMessage({ record, partition }: Routed) {
  const headers = new Map<Buffer, Buffer>();
  // Buffer keys are compared by identity, so a repeated name stays, in order.
  for (const h of record.headers) headers.set(Buffer.from(h.name, 'utf8'), h.value);
  return {
    topic: record.topic,
    partition,
    ...(record.key ? { key: record.key } : {}),
    ...(record.value ? { value: record.value } : {}),
    headers,
    ...(record.timestamp !== undefined ? { timestamp: BigInt(record.timestamp) } : {}),
  };
}

/** Kafka writes each partition's records of one request as one batch: offset = base offset + position in the batch. */
function offsetsOf(chunk: readonly Routed[], result: ProduceResult): SentOffsets {
  const base = new Map<string, number>();
  for (const o of result.offsets ?? []) {
    const offset = Number(o.offset);
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new KafkaSinkError(`Kafka acknowledged a batch without a base offset (${String(o.offset)})`, { topic: o.topic, partition: o.partition }, 'report this: the producer must use acks=-1');
    }
    base.set(`${o.topic}\u0000${o.partition}`, offset);
  }
  const next = new Map<string, number>();
  return chunk.map(({ record, partition }) => {
    const key = `${record.topic}\u0000${partition}`;
    const start = base.get(key);
    if (start === undefined) throw new KafkaSinkError('the send was acknowledged without this partition', { topic: record.topic, partition }, 'report this');
    const i = next.get(key) ?? 0;
    next.set(key, i + 1);
    return { topic: record.topic, partition, offset: start + i };
  });
}

/** The probe resolve() commits; keyed apart from the task's progress records so compaction keeps them. */
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

function progressLost(low: number, task: string, seq: number, place: ErrorPlace): ResolveError {
  const which = task ? `batch ${seq} of task ${task}` : 'the pending batch';
  return new ResolveError(
    'SLUICE_PROGRESS_LOST',
    `the progress record was deleted by retention (log start offset ${low}), so the outcome of ${which} cannot be read`,
    place,
    "keep the progress topic's retention (and cleanup.policy=delete or compact) longer than any batch can stay pending",
  );
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const ids = protocolErrorIds(error);
  const cause = error.cause instanceof Error && error.cause.message !== error.message ? ` (caused by: ${describe(error.cause)})` : '';
  return `${error.name}${ids.length > 0 ? ` [${[...new Set(ids)].join(', ')}]` : ''}: ${error.message}${cause}`;
}
