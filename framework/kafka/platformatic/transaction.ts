/**
 * One open @platformatic/kafka transaction behind the KafkaTxn port, and how a transaction is
 * ended. The states and failure rules are those of the kafkajs sink's SinkTxn: any failure drops
 * the producer, a superseded transaction reports itself fenced, abort never throws for a
 * transaction that can no longer commit.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Producer } from '@platformatic/kafka';
import type { KafkaTxn, SentOffsets } from '../../commit/ports.js';
import type { SluiceError } from '../../errors.js';
import type { OutgoingRecord } from '../../record/record.js';
import { KafkaSinkError, ProducerFencedError } from '../sink-errors.js';
import { type KafkaSinkCounters, type SinkLogger } from '../sink-counters.js';
import { endTxnResend, isFencedByBroker } from './errors.js';

/** The library's Transaction (not exported by name). */
export type Txn = Awaited<ReturnType<Producer['beginTransaction']>>;

/** What a SinkTxn may do to the sink that opened it. */
export interface TxnOps {
  readonly txnId: string;
  readonly counters: KafkaSinkCounters;
  readonly logger: SinkLogger | undefined;
  produce(txn: Txn, records: readonly OutgoingRecord[]): Promise<SentOffsets>;
  /** The transaction ended (committed or aborted); its producer may open the next one. */
  done(t: SinkTxn): void;
  /** Forget and close the producer: the transaction can never commit. */
  drop(): Promise<void>;
  failure(error: unknown, op: string): SluiceError;
}

/** An open transaction. */
export class SinkTxn implements KafkaTxn {
  /** `superseded`: its producer was dropped for a newer one of the same id (begin or resolve). */
  state: 'open' | 'committing' | 'committed' | 'aborted' | 'failed' | 'superseded' = 'open';
  /** Whether anything was sent: a transaction with no partitions is ended on the client only. */
  private sent = false;

  constructor(
    private readonly ops: TxnOps,
    private readonly txn: Txn,
  ) {}

  async send(records: readonly OutgoingRecord[]): Promise<SentOffsets> {
    this.ensureOpen('send');
    if (records.length === 0) return [];
    this.sent = true;
    try {
      return await this.ops.produce(this.txn, records);
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
    this.ops.counters.commits++;
    this.ops.done(this);
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
      this.ops.logger?.warn('abort failed; producer dropped', { txnId: this.ops.txnId, error: String(error) });
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
    this.state = 'failed';
    if (op === 'send' && !isFencedByBroker(error)) await this.txn.abort().catch(() => undefined);
    await this.ops.drop();
    return this.ops.failure(error, op);
  }
}

/**
 * Commits or aborts, sending EndTxn again while the answer is not definite (errors.ts
 * endTxnResend). The library keeps the transaction open after a failed EndTxn, so calling
 * commit() again re-sends EndTxn with the same producer id and epoch.
 */
export async function endTransaction(txn: Txn, how: 'commit' | 'abort'): Promise<void> {
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
