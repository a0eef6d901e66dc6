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
import { Producer, type ProduceResult } from '@platformatic/kafka';
import type { KafkaTxn, ProgressPosition, ResolveOptions, SentOffsets, TxnOutcome, TxnSink } from '../../commit/ports.js';
import { SluiceError, type ErrorPlace } from '../../errors.js';
import { parseProgress } from '../../record/progress.js';
import type { OutgoingRecord } from '../../record/record.js';
import { KafkaSinkError, ProducerFencedError, ResolveError } from '../sink-errors.js';
import { newKafkaSinkCounters, type KafkaSinkCounters, type SinkLogger } from '../sink-counters.js';
import { type KafkaTxnSinkOptions } from '../txn-sink.js';
import { requestsOf, type Routed } from './batching.js';
import { platformaticConnection, type PlatformaticClientConfig, type PlatformaticClientOptions, type PlatformaticConnection } from './connection.js';
import { isFencedByBroker, PLATFORMATIC_RETRIES, protocolErrorIds, retryDelayMs } from './errors.js';
import { PartitionReader } from './reader.js';
import { countRequests } from './requests.js';
import { SinkTxn, type TxnOps } from '../sink-txn.js';
import { endTransaction, platformaticClientTxn, type Txn } from './transaction.js';
import { isProbe, probeRecord } from '../resolve-probe.js';
import { offsetsFromBases, partitionOf } from '../record-batches.js';

/** EndTxn re-sends after UNKNOWN_SERVER_ERROR in this process (transaction.ts). */
export { platformaticEndTxnResendCount } from './transaction.js';

/** Options of a PlatformaticTxnSink: the kafkajs sink's, less its kafkajs retry settings. */
export type PlatformaticTxnSinkOptions = Omit<KafkaTxnSinkOptions, 'producerRetry'>;

const DEFAULT_RESOLVE_TIMEOUT_MS = 60_000;
const DEFAULT_STALL_FENCE_MS = 5_000;
const DEFAULT_MAX_REQUEST_BYTES = 900_000;
/** InitProducerId's "no current producer": fences whatever producer holds the id. */
const FENCE = { producerId: -1n, producerEpoch: -1 } as const;
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
  private readonly roundRobin = new Map<string, number>();
  private reader: PartitionReader | undefined;
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
    const open = new SinkTxn(this.txnOps(slot), platformaticClientTxn(txn, (t, records) => this.produce(t, records)));
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
   * Recovery (docs/exactly-once-recovery.md): fence every producer of `txnId`, commit a probe record to the progress
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
      const stall = peers.length > 0 ? setTimeout(() => {
        fencing = this.fencePeers(peers, progress);
      }, this.stallFenceMs) : undefined;
      let found: Buffer | null | undefined;
      try {
        found = await this.readerClient().readUpTo(progress, probeOffset, this.resolveTimeoutMs, (offset, value) => {
          if (offset === probeOffset && !isProbe(value, nonce)) {
            throw new ResolveError('SLUICE_PROGRESS_POSITION', `offset ${probeOffset} does not hold our probe`, place, 'report this: Kafka returned another record at the offset it acknowledged for the probe');
          }
        });
      } finally {
        clearTimeout(stall);
        await fencing;
      }
      if (found !== undefined) {
        const p = parseProgress(found);
        if (!p) throw new ResolveError('SLUICE_PROGRESS_POSITION', 'the record at the progress position is not a progress record', place, 'the pending batch points at the wrong record; inspect the progress topic');
        return p.task === task && p.seq === seq ? 'committed' : 'aborted';
      }
      return 'aborted'; // not visible, and not deleted by retention (readUpTo checks)
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

  // --- producers -------------------------------------------------------------------------------

  /** Sends records (split into requests as batching.ts says) and returns each record's offset. */
  private async produce(sender: Txn | Producer, records: readonly OutgoingRecord[]): Promise<SentOffsets> {
    const routed = await this.route(records);
    const offsets: SentOffsets[number][] = [];
    for (const chunk of requestsOf(routed, this.maxRequestBytes, Date.now())) {
      const result = await sender.send({ messages: chunk.map(toMessage) });
      offsets.push(...offsetsOf(chunk, result));
      this.counters.recordsSent += chunk.length;
    }
    return offsets;
  }

  /** Forgets the slot and closes its producer; its open transaction can then never commit. */
  private async drop(slot: Slot): Promise<void> {
    if (this.slots.get(slot.txnId) === slot) this.slots.delete(slot.txnId);
    if (slot.current?.state === 'open') slot.current.state = 'superseded';
    slot.current = undefined;
    await slot.producer.close(true).catch((e: unknown) => this.logger?.warn('producer close failed', { producer: slot.txnId, error: describe(e) }));
  }

  /** Maps a library error to a Sluice one; counts fencings. */
  private failure(error: unknown, txnId: string | undefined, op: string, place: ErrorPlace = {}): SluiceError {
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

  private readerClient(): PartitionReader {
    this.reader ??= new PartitionReader(this.clientOptions());
    return this.reader;
  }

  /** What a SinkTxn may do to its slot. */
  private txnOps(slot: Slot): TxnOps {
    return {
      txnId: slot.txnId,
      counters: this.counters,
      logger: this.logger,
      done: (t) => {
        if (slot.current === t) slot.current = undefined;
      },
      drop: () => this.drop(slot),
      failure: (error, op) => this.failure(error, slot.txnId, op),
    };
  }

  private clientOptions(): PlatformaticClientOptions {
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

  // --- routing ---------------------------------------------------------------------------------

  /**
   * Gives every record an explicit partition (its own, checked; else Kafka's murmur2 partition of
   * its key; else round robin), so the offsets Kafka reports can be matched to records. Checked
   * here because the library takes a partition number modulo the partition count.
   */
  private async route(records: readonly OutgoingRecord[]): Promise<Routed[]> {
    const routed: Routed[] = [];
    for (const record of records) {
      const count = await this.readerClient().partitionCount(record.topic);
      routed.push({ record, partition: partitionOf(record, count, this.roundRobin) });
    }
    return routed;
  }
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

/** The offsets of a produce request's records. */
function offsetsOf(chunk: readonly Routed[], result: ProduceResult): SentOffsets {
  return offsetsFromBases(chunk, (result.offsets ?? []).map((o) => ({ topic: o.topic, partition: o.partition, baseOffset: o.offset })), '@platformatic/kafka');
}


function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const ids = protocolErrorIds(error);
  const cause = error.cause instanceof Error && error.cause.message !== error.message ? ` (caused by: ${describe(error.cause)})` : '';
  return `${error.name}${ids.length > 0 ? ` [${[...new Set(ids)].join(', ')}]` : ''}: ${error.message}${cause}`;
}
