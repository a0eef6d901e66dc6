/**
 * The kafkajs clients a KafkaTxnSink owns: the Kafka client (made on first use), one cached
 * transactional producer per transactional id (a slot, with the transaction it has open), the
 * idempotent producer of at-least-once sends, one admin client, partition counts, and the count
 * of every request they send.
 *
 * Invariant: a producer that is dropped is disconnected and forgotten; its slot's open
 * transaction is marked superseded, so it can never commit through this sink.
 */
import type { Admin, Kafka, Producer, RetryOptions } from 'kafkajs';
import type { KafkaSinkCounters, SinkLogger } from './sink-counters.js';
import { KafkaSinkError } from './sink-errors.js';
import type { OpenTxnState } from './sink-txn.js';

/** A kafkajs transaction. */
export type KafkajsTxn = Awaited<ReturnType<Producer['transaction']>>;

/** A cached transactional producer and the transaction it has open, if any. */
export interface Slot {
  readonly txnId: string;
  readonly producer: Producer;
  readonly connected: Promise<void>;
  current: { state: OpenTxnState } | undefined;
}

/** How the clients are made. */
export interface SinkClientsOptions {
  readonly transactionTimeoutMs: number;
  readonly producerRetry: RetryOptions;
  readonly counters: KafkaSinkCounters;
  readonly logger: SinkLogger | undefined;
}

/** The clients of one sink. */
export class SinkClients {
  private readonly slots = new Map<string, Slot>();
  private readonly partitionCounts = new Map<string, Promise<number>>();
  private kafkaClient: Kafka | undefined;
  private direct: Promise<Producer> | undefined;
  private admin: Promise<Admin> | undefined;

  constructor(
    private readonly kafkaSource: Kafka | (() => Kafka),
    private readonly options: SinkClientsOptions,
  ) {}

  /** The Kafka client, made on first use. */
  kafka(): Kafka {
    this.kafkaClient ??= typeof this.kafkaSource === 'function' ? this.kafkaSource() : this.kafkaSource;
    return this.kafkaClient;
  }

  /** The cached slot of `txnId`, if any (not connected yet, maybe). */
  slot(txnId: string): Slot | undefined {
    return this.slots.get(txnId);
  }

  /** The cached producer of `txnId`, connected; creates one if none. Throws what connect threw (the slot is dropped). */
  async slotFor(txnId: string): Promise<Slot> {
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
      throw error;
    }
    return slot;
  }

  /** A new (unconnected) transactional producer of `txnId`, counted. */
  transactionalProducer(txnId: string): Producer {
    const producer = this.kafka().producer({
      transactionalId: txnId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.options.transactionTimeoutMs,
      allowAutoTopicCreation: false,
      retry: this.options.producerRetry,
    });
    producer.on(producer.events.REQUEST, this.countRequest);
    this.options.counters.producersCreated++;
    return producer;
  }

  /** Forgets the slot and disconnects its producer; its open transaction can then never commit. */
  async drop(slot: Slot): Promise<void> {
    if (this.slots.get(slot.txnId) === slot) this.slots.delete(slot.txnId);
    if (slot.current?.state === 'open') slot.current.state = 'superseded';
    slot.current = undefined;
    await slot.connected.then(() => this.disconnect(slot.producer, slot.txnId), () => undefined);
  }

  /** Disconnects a producer; a failure is logged, never thrown. */
  async disconnect(producer: Producer, which: string): Promise<void> {
    await producer.disconnect().catch((e: unknown) => this.options.logger?.warn('producer disconnect failed', { producer: which, error: String(e) }));
  }

  /** The idempotent, non-transactional producer of at-least-once sends, connected. */
  directProducer(): Promise<Producer> {
    this.direct ??= this.connectDirect();
    return this.direct;
  }

  /** Drops the direct producer `pending` (after a failed send: kafkajs's sequence numbers may lag the broker's). */
  async dropDirect(pending: Promise<Producer>): Promise<void> {
    if (this.direct === pending) this.direct = undefined;
    await pending.then((p) => this.disconnect(p, 'direct producer'), () => undefined);
  }

  /** The topic's partition count, looked up once (Sluice never changes it). */
  partitionCount(topic: string): Promise<number> {
    let count = this.partitionCounts.get(topic);
    if (!count) {
      count = this.adminClient()
        .then((admin) => admin.fetchTopicMetadata({ topics: [topic] }))
        .then(({ topics }) => {
          const n = topics.find((t) => t.name === topic)?.partitions.length ?? 0;
          if (n < 1) throw new KafkaSinkError(`topic "${topic}" has no partitions`, { topic }, 'create the topic first (`sls deploy` or `sluice dev` create the topology topics)');
          return n;
        });
      this.partitionCounts.set(topic, count);
      count.catch(() => this.partitionCounts.delete(topic));
    }
    return count;
  }

  /** The admin client, connected on first use. */
  adminClient(): Promise<Admin> {
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

  /** Listener of kafkajs's request events (give it to any other client the sink makes). */
  readonly countRequest = (event: { payload: { apiName: string } }): void => {
    const { counters } = this.options;
    counters.requests++;
    const api = event.payload.apiName;
    counters.requestsByApi[api] = (counters.requestsByApi[api] ?? 0) + 1;
  };

  /** Disconnects every producer and client. */
  async close(): Promise<void> {
    const slots = [...this.slots.values()];
    const direct = this.direct;
    const admin = this.admin;
    this.direct = undefined;
    this.admin = undefined;
    await Promise.all([
      ...slots.map((s) => this.drop(s)),
      direct?.then((p) => this.disconnect(p, 'direct producer'), () => undefined),
      admin?.then((a) => a.disconnect().catch((e: unknown) => this.options.logger?.warn('admin disconnect failed', { error: String(e) })), () => undefined),
    ]);
  }

  private async connectDirect(): Promise<Producer> {
    const producer = this.kafka().producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: this.options.producerRetry });
    producer.on(producer.events.REQUEST, this.countRequest);
    this.options.counters.producersCreated++;
    try {
      await producer.connect();
      return producer;
    } catch (error) {
      this.direct = undefined;
      await this.disconnect(producer, 'direct producer');
      throw error;
    }
  }
}
