/**
 * An in-memory Kafka with the transaction semantics the protocol relies on: per-id
 * producer epochs (a new producer fences older ones and aborts their open transaction),
 * records invisible to read_committed until their transaction commits. One MemoryKafka
 * is the "cluster"; each MemoryTxnSink is one container's producers.
 */
import type { KafkaTxn, ProgressPosition, SentOffsets, TxnOutcome, TxnSink } from '../commit/ports.js';
import { ChangelogTrimmed } from '../commit/ports.js';
import { SluiceError } from '../errors.js';
import { partitionForKey } from '../record/partitioner.js';
import { parseProgress } from '../record/progress.js';
import type { OutgoingRecord, RecordHeader } from '../record/record.js';

/** A record in the in-memory log. */
export interface LoggedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
  readonly timestamp: number;
  state: 'open' | 'committed' | 'aborted';
  readonly txn: string | undefined;
}

/** The producer of a transactional id was fenced by a newer one. */
export class MemoryFencedError extends SluiceError {
  constructor(txnId: string) {
    super('SLUICE_FENCED', `producer of ${txnId} was fenced by a newer producer`, {}, 'a newer invocation owns the task');
  }
}

/** The in-memory cluster. */
export class MemoryKafka {
  private readonly logs = new Map<string, LoggedRecord[][]>();
  private readonly epochs = new Map<string, number>();
  private readonly open = new Map<string, LoggedRecord[]>();
  /** First offset of each partition still held (`topic/partition`), after DeleteRecords. */
  private readonly starts = new Map<string, number>();
  /** Transactions committed and aborted, for cost assertions. */
  readonly counts = { transactions: 0, commits: 0, aborts: 0, records: 0 };

  constructor(private readonly partitions: (topic: string) => number = () => 1, private readonly now: () => number = Date.now) {}

  /** InitProducerId: bumps the epoch of `txnId` and aborts its open transaction. */
  initProducer(txnId: string): number {
    this.finish(txnId, 'aborted');
    const epoch = (this.epochs.get(txnId) ?? 0) + 1;
    this.epochs.set(txnId, epoch);
    return epoch;
  }

  /** Appends records; transactional ones stay open until `finish`. */
  append(records: readonly OutgoingRecord[], txn: { id: string; epoch: number } | undefined): SentOffsets {
    if (txn) this.checkEpoch(txn.id, txn.epoch);
    return records.map((r) => {
      const log = this.log(r.topic);
      const partition = r.partition ?? (r.key ? partitionForKey(r.key, log.length) : 0);
      const part = log[partition];
      if (!part) throw new Error(`topic ${r.topic} has no partition ${partition}`);
      const rec: LoggedRecord = {
        topic: r.topic,
        partition,
        offset: part.length,
        key: r.key,
        value: r.value,
        headers: r.headers,
        timestamp: r.timestamp ?? this.now(),
        state: txn ? 'open' : 'committed',
        txn: txn?.id,
      };
      part.push(rec);
      this.counts.records += 1;
      if (txn) this.open.set(txn.id, [...(this.open.get(txn.id) ?? []), rec]);
      return { topic: r.topic, partition, offset: rec.offset };
    });
  }

  /** Commits or aborts the open transaction of `txnId` (if the epoch is current). */
  end(txnId: string, epoch: number, outcome: 'committed' | 'aborted'): void {
    this.checkEpoch(txnId, epoch);
    this.finish(txnId, outcome);
    this.counts.transactions += 1;
    if (outcome === 'committed') this.counts.commits += 1;
    else this.counts.aborts += 1;
  }

  /** What a read_committed consumer sees on a topic, in partition then offset order. */
  readCommitted(topic: string): LoggedRecord[] {
    return (this.logs.get(topic) ?? []).flatMap((p) => p.filter((r) => r.state === 'committed'));
  }

  /** What a read_uncommitted consumer sees. */
  readUncommitted(topic: string): LoggedRecord[] {
    return (this.logs.get(topic) ?? []).flat();
  }

  /**
   * What a read_committed consumer of one partition sees from `from` up to the last stable offset
   * (the first record of a transaction still open, else the end), and that offset.
   */
  readPartition(topic: string, partition: number, from: number): { records: LoggedRecord[]; stable: number } {
    const part = this.log(topic)[partition];
    if (!part) throw new Error(`topic ${topic} has no partition ${partition}`);
    if (from < (this.starts.get(`${topic}/${partition}`) ?? 0)) throw new ChangelogTrimmed(topic, partition, from);
    const open = part.findIndex((r) => r.state === 'open');
    const stable = open < 0 ? part.length : open;
    return { records: part.slice(Math.max(0, from), stable).filter((r) => r.state === 'committed'), stable };
  }

  /** DeleteRecords: the partition starts at `before` (if later than where it starts now). */
  deleteRecords(topic: string, partition: number, before: number): void {
    const key = `${topic}/${partition}`;
    this.starts.set(key, Math.max(this.starts.get(key) ?? 0, Math.min(before, this.log(topic)[partition]?.length ?? 0)));
  }

  /** The record at a position, whatever its state. */
  at(topic: string, partition: number, offset: number): LoggedRecord | undefined {
    return this.logs.get(topic)?.[partition]?.[offset];
  }

  private finish(txnId: string, outcome: 'committed' | 'aborted'): void {
    for (const r of this.open.get(txnId) ?? []) r.state = outcome;
    this.open.delete(txnId);
  }

  private checkEpoch(txnId: string, epoch: number): void {
    if (this.epochs.get(txnId) !== epoch) throw new MemoryFencedError(txnId);
  }

  private log(topic: string): LoggedRecord[][] {
    let log = this.logs.get(topic);
    if (!log) {
      log = Array.from({ length: this.partitions(topic) }, () => []);
      this.logs.set(topic, log);
    }
    return log;
  }
}

/** One container's producers over a MemoryKafka. */
export class MemoryTxnSink implements TxnSink {
  private readonly producers = new Map<string, number>();

  constructor(readonly kafka: MemoryKafka) {}

  async begin(txnId: string): Promise<KafkaTxn> {
    let epoch = this.producers.get(txnId);
    if (epoch === undefined) {
      epoch = this.kafka.initProducer(txnId);
      this.producers.set(txnId, epoch);
    }
    const e = epoch;
    const drop = (error: unknown): never => {
      if (error instanceof MemoryFencedError) this.producers.delete(txnId);
      throw error;
    };
    return {
      send: async (records) => {
        try {
          return this.kafka.append(records, { id: txnId, epoch: e });
        } catch (error) {
          return drop(error);
        }
      },
      commit: async () => {
        try {
          this.kafka.end(txnId, e, 'committed');
        } catch (error) {
          drop(error);
        }
      },
      abort: async () => {
        try {
          this.kafka.end(txnId, e, 'aborted');
        } catch (error) {
          drop(error);
        }
      },
    };
  }

  async resolve(txnId: string, progress: ProgressPosition, task: string, seq: number): Promise<TxnOutcome> {
    this.producers.set(txnId, this.kafka.initProducer(txnId));
    const rec = this.kafka.at(progress.topic, progress.partition, progress.offset);
    const p = rec && rec.state === 'committed' ? parseProgress(rec.value) : undefined;
    return p && p.task === task && p.seq === seq ? 'committed' : 'aborted';
  }

  async sendDirect(records: readonly OutgoingRecord[]): Promise<SentOffsets> {
    return this.kafka.append(records, undefined);
  }

  async claim(txnId: string): Promise<void> {
    if (!this.producers.has(txnId)) this.producers.set(txnId, this.kafka.initProducer(txnId));
  }
}
