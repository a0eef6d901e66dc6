/**
 * Recovery's question to Kafka (docs/exactly-once-recovery.md): did the transaction of an in-doubt
 * batch commit? Fence every producer of its transactional id, commit a probe record to its progress
 * partition, read that partition read_committed from the batch's progress position until the probe
 * shows up, and say whether the record at that position is the batch's progress record.
 *
 * Invariant: when resolve(txnId, …) returns, no producer that existed before the call can change
 * the outcome of any transaction of txnId, and the answer is what every read_committed reader sees
 * at the progress record's offset, now and later.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Sender } from 'kafkajs';
import type { ProgressPosition, ResolveOptions, SentOffsets, TxnOutcome } from '../commit/ports.js';
import type { ErrorPlace, SluiceError } from '../errors.js';
import { parseProgress } from '../record/progress.js';
import type { OutgoingRecord } from '../record/record.js';
import type { KafkajsTxn, SinkClients, Slot } from './sink-clients.js';
import type { KafkaSinkCounters, SinkLogger } from './sink-counters.js';
import { describeKafkaError, isFencedError, KafkaSinkError, ResolveError } from './sink-errors.js';
import { topicOffsets } from './topic-offsets.js';
import { isProbe, probeRecord } from './resolve-probe.js';

/** How the resolver runs. */
export interface InDoubtOptions {
  readonly resolveTimeoutMs: number;
  readonly stallFenceMs: number;
  readonly counters: KafkaSinkCounters;
  readonly logger: SinkLogger | undefined;
}

/** What the resolver needs of its sink. */
export interface InDoubtPorts {
  /** The cached producer of `txnId`, connected (failures mapped to Sluice errors). */
  slotFor(txnId: string): Promise<Slot>;
  produce(sender: Sender, records: readonly OutgoingRecord[]): Promise<SentOffsets>;
  failure(error: unknown, txnId: string | undefined, op: string, place?: ErrorPlace): SluiceError;
}

/** Decides in-doubt batches for one sink. */
export class InDoubtResolver {
  constructor(
    private readonly clients: SinkClients,
    private readonly ports: InDoubtPorts,
    private readonly options: InDoubtOptions,
  ) {}

  /**
   * Recovery (docs/exactly-once-recovery.md): fence every producer of `txnId`, commit a probe record to the
   * progress partition, read that partition read_committed from `progress.offset` until the
   * probe shows up, and say whether the record at `progress.offset` is `{task, seq}`: the
   * outcome of batch `seq` of `task`, whose progress record was sent there under `txnId`.
   */
  async resolve(txnId: string, progress: ProgressPosition, task: string, seq: number, options: ResolveOptions = {}): Promise<TxnOutcome> {
    this.options.counters.resolves++;
    const place: ErrorPlace = { topic: progress.topic, partition: progress.partition, offset: progress.offset };
    if (![progress.partition, progress.offset].every((n) => Number.isSafeInteger(n) && n >= 0)) {
      throw new ResolveError('SLUICE_PROGRESS_POSITION', 'invalid progress position', place, 'the pending batch records where its progress record went; this one was not written by Sluice');
    }
    // 1. Fence: a fresh producer's first transaction() sends InitProducerId, which bumps the
    //    epoch (older producers of txnId can no longer produce or commit), aborts an open
    //    transaction, and finishes one caught in PREPARE_COMMIT before it answers.
    const old = this.clients.slot(txnId);
    if (old) await this.clients.drop(old);
    const slot = await this.ports.slotFor(txnId);
    // 2. Probe: a committed record after everything written so far; read_committed readers see
    //    it only once every earlier transaction on the partition has ended.
    let txn: KafkajsTxn | undefined;
    let probeOffset: number;
    try {
      txn = await slot.producer.transaction();
      this.options.counters.transactions++;
      const nonce = randomUUID();
      const [at] = await this.ports.produce(txn, [probeRecord(progress.topic, progress.partition, task, nonce)]);
      await txn.commit();
      this.options.counters.commits++;
      probeOffset = at!.offset;
      // 3. Read up to the probe. A transaction left open on the partition by a crashed
      //    invocation holds the read back; if it takes long, fence every writer of the partition.
      const peers = (options.peers ?? []).filter((id) => id !== txnId);
      let fencing: Promise<void> | undefined;
      const stall = peers.length > 0 ? setTimeout(() => {
        fencing = this.fencePeers(peers, progress);
      }, this.options.stallFenceMs) : undefined;
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
      await this.clients.drop(slot);
      throw this.ports.failure(error, txnId, 'resolve', place);
    }
  }

  /**
   * Fences each id with a throwaway producer (InitProducerId aborts its open transaction), not
   * through the slots: a task of this container may be using one of the ids right now, and it
   * will simply fail and be retried.
   */
  private async fencePeers(peers: readonly string[], progress: ProgressPosition): Promise<void> {
    this.options.logger?.warn('resolve is stalled behind an open transaction; fencing every writer of the progress partition', { topic: progress.topic, partition: progress.partition, peers: peers.length });
    for (const id of peers) {
      const producer = this.clients.transactionalProducer(id);
      try {
        await producer.connect();
        const txn = await producer.transaction();
        await txn.abort();
        this.options.counters.peersFenced++;
      } catch (error) {
        this.options.logger?.warn('fencing a writer of the progress partition failed', { txnId: id, error: describeKafkaError(error) });
      } finally {
        await this.clients.disconnect(producer, id);
      }
    }
  }

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
    const consumer: Consumer = this.clients.kafka().consumer({
      // Named under the task's transactional id, so a stage's IAM scope (`<app>.<stage>.*`) covers it.
      groupId: `${txnId}.resolve-${randomUUID()}`,
      readUncommitted: false,
      maxWaitTimeInMs: 250,
      allowAutoTopicCreation: false,
      retry: { restartOnFailure: () => Promise.resolve(false) },
    });
    consumer.on(consumer.events.REQUEST, this.clients.countRequest);
    let found: { value: Buffer | null } | undefined;
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => {
        reject(
          new ResolveError(
            'SLUICE_RESOLVE_TIMEOUT',
            `read_committed did not reach the probe at offset ${probeOffset} within ${this.options.resolveTimeoutMs} ms`,
            place,
            'a transaction left open on this progress partition holds read_committed readers back until it ends (at most transaction.timeout.ms, sooner when its task retries); the invocation fails and is retried',
          ),
        );
      }, this.options.resolveTimeoutMs);
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
      await consumer.disconnect().catch((e: unknown) => this.options.logger?.warn('resolve consumer disconnect failed', { error: String(e) }));
    }
    return found?.value;
  }

  private async logStartOffset(topic: string, partition: number): Promise<number> {
    const admin = await this.clients.adminClient();
    const offsets = await topicOffsets(admin, topic);
    const low = offsets.find((o) => o.partition === partition)?.low;
    if (low === undefined) throw new KafkaSinkError(`partition ${partition} not found`, { topic, partition }, 'was the progress topic recreated with fewer partitions?');
    return Number(low);
  }
}

