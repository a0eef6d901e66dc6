/**
 * The Kafka side of the commit protocol over kafkajs (the TxnSink port): transactional sends that
 * report every record's offset, in-doubt resolution, and plain idempotent sends for at-least-once
 * mode. The parts live by concept: the clients and producer cache (sink-clients.ts), one open
 * transaction (sink-txn.ts), in-doubt resolution (in-doubt.ts), how records become requests
 * (record-batches.ts), errors (sink-errors.ts) and counters (sink-counters.ts).
 *
 * Invariant: a producer that failed in any way (fenced, timed out, broken connection mid-commit)
 * is disconnected and dropped; the next begin() of its transactional id makes a fresh one, whose
 * InitProducerId aborts whatever the old one left open.
 */
import type { Kafka, RetryOptions, Sender } from 'kafkajs';
import type { KafkaTxn, ProgressPosition, ResolveOptions, SentOffsets, TxnOutcome, TxnSink } from '../commit/ports.js';
import { SluiceError, type ErrorPlace } from '../errors.js';
import { InDoubtResolver } from './in-doubt.js';
import type { OutgoingRecord } from '../record/record.js';
import { chunkBySize, offsetsOf, partitionOf, toTopicMessages, type Routed } from './record-batches.js';
import { SinkClients, type KafkajsTxn, type Slot } from './sink-clients.js';
import { newKafkaSinkCounters, type KafkaSinkCounters, type SinkLogger } from './sink-counters.js';
import { describeKafkaError, isFencedError, KafkaSinkError, ProducerFencedError } from './sink-errors.js';
import { SinkTxn, type ClientTxn, type TxnOps } from './sink-txn.js';

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

const DEFAULT_RESOLVE_TIMEOUT_MS = 60_000;
const DEFAULT_STALL_FENCE_MS = 5_000;
const DEFAULT_MAX_REQUEST_BYTES = 900_000;

/** TxnSink over kafkajs: one cached transactional producer per transactional id. */
export class KafkaTxnSink implements TxnSink {
  private readonly counters: KafkaSinkCounters;
  private readonly logger: SinkLogger | undefined;
  private readonly maxRequestBytes: number;
  private readonly clients: SinkClients;
  private readonly resolver: InDoubtResolver;
  private readonly roundRobin = new Map<string, number>();
  private directTurn: Promise<void> = Promise.resolve();
  private closed = false;

  /** `kafka`: the client, or a factory called once on first use. */
  constructor(kafkaSource: Kafka | (() => Kafka), options: KafkaTxnSinkOptions) {
    const t = options.transactionTimeoutMs;
    if (!Number.isInteger(t) || t < 1) {
      throw new KafkaSinkError(`transactionTimeoutMs must be a positive integer, got ${t}`, { field: 'transactionTimeoutMs' }, 'use a value above the function timeout');
    }
    this.counters = options.counters ?? newKafkaSinkCounters();
    this.logger = options.logger;
    this.maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    this.clients = new SinkClients(kafkaSource, { transactionTimeoutMs: t, producerRetry: options.producerRetry ?? PRODUCER_RETRY, counters: this.counters, logger: this.logger });
    this.resolver = new InDoubtResolver(
      this.clients,
      { slotFor: (txnId) => this.slotFor(txnId), produce: (sender, records) => this.produce(sender, records), failure: (error, txnId, op, place) => this.failure(error, txnId, op, place) },
      { resolveTimeoutMs: options.resolveTimeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS, stallFenceMs: options.stallFenceMs ?? DEFAULT_STALL_FENCE_MS, counters: this.counters, logger: this.logger },
    );
  }

  /** The counters this sink adds to. */
  get metrics(): Readonly<KafkaSinkCounters> {
    return this.counters;
  }

  /** Opens a transaction under `txnId`, reusing the cached producer; throws ProducerFencedError or KafkaSinkError. */
  async begin(txnId: string): Promise<KafkaTxn> {
    this.ensureOpen();
    let slot = this.clients.slot(txnId);
    if (slot?.current) {
      // An earlier transaction of this id was never ended (its invocation crashed or is a
      // zombie in this process). A fresh producer's InitProducerId aborts it on the broker.
      this.logger?.warn('transaction left open; replacing its producer', { txnId });
      await this.clients.drop(slot);
      slot = undefined;
    }
    slot ??= await this.slotFor(txnId);
    let txn;
    try {
      txn = await slot.producer.transaction();
    } catch (error) {
      await this.clients.drop(slot);
      throw this.failure(error, txnId, 'begin');
    }
    this.counters.transactions++;
    const open = new SinkTxn(this.txnOps(slot), this.clientTxn(txn));
    slot.current = open;
    return open;
  }

  /** Fences older producers of `txnId` the first time this sink uses it (see TxnSink.claim); no-op afterwards. */
  async claim(txnId: string): Promise<void> {
    this.ensureOpen();
    if (this.clients.slot(txnId)) return;
    const slot = await this.slotFor(txnId);
    try {
      // kafkajs sends InitProducerId at a producer's first transaction(): that is the fence. An
      // abort with nothing sent ends the transaction on the client only.
      const txn = await slot.producer.transaction();
      await txn.abort();
    } catch (error) {
      await this.clients.drop(slot);
      throw this.failure(error, txnId, 'begin');
    }
  }

  /** Recovery's resolve: fence, probe, read (in-doubt.ts). */
  async resolve(txnId: string, progress: ProgressPosition, task: string, seq: number, options: ResolveOptions = {}): Promise<TxnOutcome> {
    this.ensureOpen();
    return this.resolver.resolve(txnId, progress, task, seq, options);
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
    const pending = this.clients.directProducer();
    try {
      return await this.produce(await pending, records);
    } catch (error) {
      // A failed idempotent send may leave kafkajs's sequence numbers behind the broker's.
      await this.clients.dropDirect(pending);
      throw this.failure(error, undefined, 'send');
    }
  }

  /** Disconnects every producer and client; the sink cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await this.clients.close();
  }

  private ensureOpen(): void {
    if (this.closed) throw new KafkaSinkError('the sink is closed', {}, 'create a new KafkaTxnSink');
  }

  /** The cached producer of `txnId`, connected, or the connect failure as a Sluice error. */
  private async slotFor(txnId: string): Promise<Slot> {
    try {
      return await this.clients.slotFor(txnId);
    } catch (error) {
      throw this.failure(error, txnId, 'connect');
    }
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
      drop: () => this.clients.drop(slot),
      failure: (error, op) => this.failure(error, slot.txnId, op),
    };
  }

  /** A kafkajs transaction as a SinkTxn drives it. */
  private clientTxn(txn: KafkajsTxn): ClientTxn {
    return {
      produce: (records) => this.produce(txn, records),
      commit: () => txn.commit(),
      abort: () => txn.abort(),
      fencedBy: isFencedError,
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
    return new KafkaSinkError(`Kafka ${op} failed (${who}): ${describeKafkaError(error)}${inDoubt}`, place, 'fail this invocation; Lambda retries it with a fresh producer', { cause: error });
  }

  /** Sends records (split into requests of at most maxRequestBytes) and returns each record's offset. */
  private async produce(sender: Sender, records: readonly OutgoingRecord[]): Promise<SentOffsets> {
    const routed: Routed[] = [];
    for (const record of records) routed.push({ record, partition: partitionOf(record, await this.clients.partitionCount(record.topic), this.roundRobin) });
    const offsets: SentOffsets[number][] = [];
    for (const chunk of chunkBySize(routed, this.maxRequestBytes)) {
      const sent = await sender.sendBatch({ acks: -1, topicMessages: toTopicMessages(chunk) });
      offsets.push(...offsetsOf(chunk, sent));
      this.counters.recordsSent += chunk.length;
    }
    return offsets;
  }
}
