/**
 * One open kafkajs transaction behind the KafkaTxn port. It never outlives its producer: a failure
 * drops the producer (after trying to abort, so read_committed readers are not held back), and a
 * transaction whose producer was dropped for a newer one of its id is `superseded` and refuses
 * everything as fenced.
 */
import type { Producer } from 'kafkajs';
import type { KafkaTxn, SentOffsets } from '../commit/ports.js';
import type { SluiceError } from '../errors.js';
import type { OutgoingRecord } from '../record/record.js';
import type { OpenTxnState } from './sink-clients.js';
import type { KafkaSinkCounters, SinkLogger } from './sink-counters.js';
import { describeKafkaError, isFencedError, KafkaSinkError, ProducerFencedError } from './sink-errors.js';

/** A kafkajs transaction. */
export type KafkajsTxn = Awaited<ReturnType<Producer['transaction']>>;

/** What a SinkTxn may do to the sink. */
export interface TxnOps {
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
export class SinkTxn implements KafkaTxn {
  /** `superseded`: its producer was dropped for a newer one of the same id (begin or resolve). */
  state: OpenTxnState = 'open';

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
      this.ops.logger?.warn('abort failed; producer dropped', { txnId: this.ops.txnId, error: describeKafkaError(error) });
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
