/**
 * One open transaction behind the KafkaTxn port, whichever Kafka client carries it (kafkajs or
 * @platformatic/kafka, each through a ClientTxn). It never outlives its producer: a failure drops
 * the producer (after trying to abort, so read_committed readers are not held back), and a
 * transaction whose producer was dropped for a newer one of its id is `superseded` and refuses
 * everything as fenced.
 */
import type { KafkaTxn, SentOffsets } from '../commit/ports.js';
import type { SluiceError } from '../errors.js';
import type { OutgoingRecord } from '../record/record.js';
import type { KafkaSinkCounters, SinkLogger } from './sink-counters.js';
import { describeKafkaError, KafkaSinkError, ProducerFencedError } from './sink-errors.js';

/** The states of an open transaction (`superseded`: its producer was dropped for a newer one of the same id). */
export type OpenTxnState = 'open' | 'committing' | 'committed' | 'aborted' | 'failed' | 'superseded';

/** One client's open transaction: the requests a SinkTxn drives. */
export interface ClientTxn {
  produce(records: readonly OutgoingRecord[]): Promise<SentOffsets>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  /** Whether a failed send's error says the broker fenced the producer (an abort would only fail again). */
  fencedBy(error: unknown): boolean;
}

/** What a SinkTxn may do to the sink that opened it. */
export interface TxnOps {
  readonly txnId: string;
  readonly counters: KafkaSinkCounters;
  readonly logger: SinkLogger | undefined;
  /** The transaction ended (committed or aborted); its producer may open the next one. */
  done(t: SinkTxn): void;
  /** Forget and close the producer: the transaction can never commit. */
  drop(): Promise<void>;
  failure(error: unknown, op: string): SluiceError;
}

/** An open transaction behind the KafkaTxn port. */
export class SinkTxn implements KafkaTxn {
  state: OpenTxnState = 'open';

  constructor(
    private readonly ops: TxnOps,
    private readonly client: ClientTxn,
  ) {}

  async send(records: readonly OutgoingRecord[]): Promise<SentOffsets> {
    this.ensureOpen('send');
    try {
      return await this.client.produce(records);
    } catch (error) {
      throw await this.fail(error, 'send');
    }
  }

  async commit(): Promise<void> {
    this.ensureOpen('commit');
    this.state = 'committing';
    try {
      await this.client.commit();
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
      await this.client.abort();
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
    this.state = 'failed';
    if (op === 'send' && !this.client.fencedBy(error)) await this.client.abort().catch(() => undefined);
    await this.ops.drop();
    return this.ops.failure(error, op);
  }
}
