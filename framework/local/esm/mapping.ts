/**
 * An emulator of Lambda's Kafka event-source mapping: polls a topic with a consumer group
 * and read_committed, delivers each partition's records in order (one batch per partition in
 * flight), builds the exact MSK or self-managed event, invokes the function, and commits the
 * group offsets only after success. Like Lambda, one invocation may carry several partitions
 * (`bundlePartitions`, on by default): partitions that have records at the same moment share an
 * invocation of at most `batchSize` records and 6 MB in all. A failed invocation is retried
 * whole with backoff, then (if `maxRetries` is set) sent to an on-failure topic and skipped, as
 * Lambda's provisioned mode allows.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import { SluiceError } from '../../errors.js';
import { encodeEvent } from '../../lambda/decode.js';
import type { KafkaRecord } from '../../record/record.js';
import { recordFromKafkajs } from '../../kafka/kafkajs-record.js';
import type { Invoker } from './invoker.js';
import { topicOffsets } from '../../kafka/topic-offsets.js';

/** Settings of one mapping (one function × one topic). */
export interface MappingOptions {
  readonly kafka: Kafka;
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly functionName: string;
  readonly invoker: Invoker;
  /** Consumer group; default `sluice-esm-<function>-<topic>`. */
  readonly groupId?: string;
  /** Records per invocation, 1–10,000 (Lambda's default 100). */
  readonly batchSize?: number;
  /** How long to gather records before invoking unless a full batch is there sooner (Lambda's default for Kafka 500 ms; see fetchWait). */
  readonly batchingWindowMs?: number;
  readonly startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  /** Event shape: Amazon MSK (default) or self-managed Kafka. */
  readonly eventSource?: 'msk' | 'self-managed';
  /** Retries of a failed batch before giving up on it; default: retry until it succeeds (Lambda's on-demand behaviour). */
  readonly maxRetries?: number;
  /** Where a batch that exhausted its retries is written (with the error) before it is skipped. */
  readonly onFailureTopic?: string;
  /** First retry delay; doubles up to 5 s. */
  readonly retryBackoffMs?: number;
  /**
   * Put records of several partitions in one invocation, as Lambda does (default true). False:
   * one partition per invocation, every partition invoked on its own.
   */
  readonly bundlePartitions?: boolean;
  /** How long a partition's records wait for other partitions' to share an invocation (default 10 ms). */
  readonly bundleWindowMs?: number;
  /** Most bytes of an invocation's event, as JSON (Lambda's payload limit, 6 MB); a single larger record still goes alone. */
  readonly maxPayloadBytes?: number;
  /** Called after every invocation, once per partition it carried, for status displays and tests. */
  readonly onInvocation?: (info: InvocationInfo) => void;
}

/** Lambda's synchronous invocation payload limit. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** What happened to one partition's records in one invocation. */
export interface InvocationInfo {
  readonly functionName: string;
  readonly topic: string;
  readonly partition: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
  readonly records: number;
  readonly ok: boolean;
  readonly error?: unknown;
  readonly attempt: number;
  readonly durationMs: number;
  /** The invocation's number in this mapping (shared by the partitions it carried). */
  readonly invocation: number;
  /** How many partitions the invocation carried. */
  readonly partitions: number;
  /** Which of them this is (0 first): count invocations where it is 0. */
  readonly part: number;
}

/** One partition's records waiting for an invocation. */
interface Submission {
  readonly partition: number;
  readonly records: readonly KafkaRecord[];
  /** Resolves with how many of `records` (a prefix) were handled; 0 when the mapping stops. */
  readonly done: (handled: number) => void;
  readonly heartbeat: () => Promise<void>;
  readonly isRunning: () => boolean;
}

/** Counters of a running mapping. */
export interface MappingStats {
  invocations: number;
  failures: number;
  records: number;
  skippedBatches: number;
}

/** A running event-source mapping. */
export class EventSourceMapping {
  readonly stats: MappingStats = { invocations: 0, failures: 0, records: 0, skippedBatches: 0 };
  private consumer: Consumer | undefined;
  /** A restart after the consumer crashed, and why it could not restart, if it could not. */
  private restarting: Promise<void> | undefined;
  private failure: unknown;
  private stopped = false;
  private producer: Producer | undefined;
  /** Per partition: the offset up to which the log was consumed (incl. transaction markers). */
  private readonly covered = new Map<number, number>();
  private running = false;
  private waiting: Submission[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly clusterArn = `arn:aws:kafka:local:000000000000:cluster/sluice-local/${randomUUID()}`;

  constructor(private readonly options: MappingOptions) {
    const b = options.batchSize ?? 100;
    if (!Number.isInteger(b) || b < 1 || b > 10_000) throw new SluiceError('SLUICE_CONFIG', `batchSize ${b} is out of range`, { field: 'batchSize' }, 'Lambda allows 1 to 10,000');
    const w = options.bundleWindowMs ?? 10;
    if (!Number.isFinite(w) || w < 0) throw new SluiceError('SLUICE_CONFIG', `bundleWindowMs ${w} is out of range`, { field: 'bundleWindowMs' }, 'give 0 or more milliseconds');
    const max = options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
    if (!Number.isInteger(max) || max < 1024 || max > MAX_PAYLOAD_BYTES) {
      throw new SluiceError('SLUICE_CONFIG', `maxPayloadBytes ${max} is out of range`, { field: 'maxPayloadBytes' }, `give 1 KB to ${MAX_PAYLOAD_BYTES} bytes (Lambda's limit)`);
    }
  }

  /**
   * Starts polling. Lambda's poller keeps trying while the cluster cannot take a consumer yet (a
   * group coordinator still loading after a broker restart): so does this, with a fresh consumer.
   */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.startOnce();
      } catch (error) {
        const retriable = (error as { retriable?: unknown }).retriable === true || /coordinator|not available|loading/i.test(String((error as Error).message));
        await this.consumer?.disconnect().catch(() => undefined);
        this.consumer = undefined;
        this.running = false;
        if (!retriable || attempt >= 10) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 200 * 2 ** attempt)));
      }
    }
  }

  private async startOnce(): Promise<void> {
    if (this.stopped) return;
    const o = this.options;
    const groupId = o.groupId ?? `sluice-esm-${o.functionName}-${o.topic}`;
    const consumer = o.kafka.consumer({
      groupId,
      readUncommitted: false,
      ...fetchWait(o),
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      // Explicit timing, as Lambda's poller would ride out a broker restart (kafkajs shortens its
      // defaults under NODE_ENV=test). After a crash this mapping restarts with a fresh consumer
      // itself: kafkajs's own restart leaves a failed restart as an unhandled rejection.
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 30_000, factor: 0.2, multiplier: 2, restartOnFailure: () => Promise.resolve(false) },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, () => {
      if (this.consumer !== consumer || !this.running || this.stopped) return;
      this.running = false;
      this.restarting = this.start().catch((error: unknown) => {
        this.failure = error;
      });
    });
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      const p = e.payload as { topic: string; partition: number; lastOffset: string };
      if (p.topic === o.topic) this.covered.set(p.partition, Math.max(this.covered.get(p.partition) ?? 0, Number(p.lastOffset) + 1));
    });
    await consumer.connect();
    await consumer.subscribe({ topic: o.topic, fromBeginning: (o.startingPosition ?? 'TRIM_HORIZON') === 'TRIM_HORIZON' });
    this.running = true;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 16,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        let records = batch.messages.map((m) => recordFromKafkajs(batch.topic, batch.partition, m));
        while (records.length > 0) {
          if (!isRunning() || isStale()) return;
          const handled = await this.submit(batch.partition, records, heartbeat, isRunning);
          if (handled === 0) return; // stopping: the uncommitted rest is redelivered later, as Lambda would
          const next = records[handled - 1]!.offset + 1;
          resolveOffset(String(next - 1));
          await consumer.commitOffsets([{ topic: o.topic, partition: batch.partition, offset: String(next) }]);
          await heartbeat();
          records = records.slice(handled);
        }
      },
    });
  }

  /** Waits until every partition has been consumed up to the high watermark it has now. */
  async waitForCatchUp(timeoutMs = 60_000): Promise<void> {
    const admin = this.options.kafka.admin();
    await admin.connect();
    try {
      const ends = await topicOffsets(admin, this.options.topic);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (this.failure !== undefined) throw new SluiceError('SLUICE_ESM_STOPPED', `mapping of ${this.options.functionName} on ${this.options.topic} could not restart its consumer: ${String(this.failure)}`, { topic: this.options.topic }, 'is the broker up?');
        const behind = ends.filter((p) => Number(p.high) > Number(p.low) && (this.covered.get(p.partition) ?? 0) < Number(p.high));
        if (behind.length === 0) return;
        if (Date.now() > deadline) {
          throw new SluiceError('SLUICE_ESM_TIMEOUT', `mapping of ${this.options.functionName} did not catch up on ${this.options.topic} within ${timeoutMs} ms`, { topic: this.options.topic, partition: behind[0]!.partition }, 'the function keeps failing or is slow: check its errors');
        }
        await sleep(50);
      }
    } finally {
      await admin.disconnect();
    }
  }

  /** Stops polling; an in-flight invocation finishes first. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.running = false;
    await this.restarting;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const w of this.waiting.splice(0)) w.done(0);
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
  }

  /**
   * Hands a partition's records (in offset order) to the next invocation and waits for it.
   * Returns how many of them (a prefix) were handled: invoked successfully, or skipped to the
   * on-failure topic; 0 when the mapping stops first.
   */
  private submit(partition: number, records: readonly KafkaRecord[], heartbeat: () => Promise<void>, isRunning: () => boolean): Promise<number> {
    if (!this.running) return Promise.resolve(0);
    return new Promise<number>((done) => {
      this.waiting.push({ partition, records, done, heartbeat, isRunning });
      if (this.options.bundlePartitions === false) this.flush();
      else this.flushTimer ??= setTimeout(() => this.flush(), this.options.bundleWindowMs ?? 10);
    });
  }

  /** Starts invocations for everything waiting: bundled up to batchSize records and the payload limit, or one per partition. */
  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    while (this.waiting.length > 0) {
      const o = this.options;
      let budget = o.batchSize ?? 100;
      let bytes = EVENT_OVERHEAD_BYTES;
      const max = o.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
      const parts: Array<{ submission: Submission; records: KafkaRecord[] }> = [];
      const rest: Submission[] = [];
      for (const w of this.waiting) {
        const take: KafkaRecord[] = [];
        const alone = o.bundlePartitions === false && parts.length > 0;
        for (const r of alone ? [] : w.records) {
          const size = recordJsonBytes(r);
          if (budget === 0 || (bytes + size > max && (take.length > 0 || parts.length > 0))) break;
          take.push(r);
          budget -= 1;
          bytes += size;
        }
        if (take.length > 0) parts.push({ submission: w, records: take });
        else rest.push(w);
      }
      this.waiting = rest;
      void this.invokeBundle(parts);
    }
  }

  /** One invocation with every part, retried whole until it succeeds, is skipped or the mapping stops. */
  private async invokeBundle(parts: ReadonlyArray<{ submission: Submission; records: KafkaRecord[] }>): Promise<void> {
    const o = this.options;
    const batches = parts.map((p) => ({ topic: o.topic, partition: p.submission.partition, records: p.records }));
    const event = encodeEvent(
      o.eventSource === 'self-managed'
        ? { source: 'self-managed', bootstrapServers: o.brokers, batches }
        : { source: 'msk', eventSourceArn: this.clusterArn, bootstrapServers: o.brokers, batches },
    );
    const count = parts.reduce((n, p) => n + p.records.length, 0);
    const finish = (handled: boolean): void => {
      for (const p of parts) p.submission.done(handled ? p.records.length : 0);
    };
    let backoff = o.retryBackoffMs ?? 100;
    for (let attempt = 1; ; attempt += 1) {
      const started = Date.now();
      const invocation = ++this.stats.invocations;
      const report = (ok: boolean, error?: unknown): void => {
        for (const [part, p] of parts.entries()) {
          o.onInvocation?.({
            functionName: o.functionName,
            topic: o.topic,
            partition: p.submission.partition,
            firstOffset: p.records[0]!.offset,
            lastOffset: p.records[p.records.length - 1]!.offset,
            records: p.records.length,
            ok,
            ...(ok ? {} : { error }),
            attempt,
            durationMs: Date.now() - started,
            invocation,
            partitions: parts.length,
            part,
          });
        }
      };
      try {
        await o.invoker.invoke(o.functionName, event);
        this.stats.records += count;
        report(true);
        finish(true);
        return;
      } catch (error) {
        this.stats.failures += 1;
        report(false, error);
        if (o.maxRetries !== undefined && attempt > o.maxRetries) {
          try {
            await this.sendToFailureTopic(parts, error);
          } catch {
            // The destination is unreachable: keep the batch (nothing is skipped without a record of it).
            if (!this.running) return finish(false);
            await sleep(backoff);
            continue;
          }
          this.stats.skippedBatches += 1;
          finish(true);
          return;
        }
        if (!this.running || parts.some((p) => !p.submission.isRunning())) return finish(false);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5_000);
        for (const p of parts) await p.submission.heartbeat().catch(() => undefined);
      }
    }
  }

  private async sendToFailureTopic(parts: ReadonlyArray<{ submission: Submission; records: KafkaRecord[] }>, error: unknown): Promise<void> {
    const o = this.options;
    if (!o.onFailureTopic) return;
    this.producer ??= o.kafka.producer({ idempotent: true });
    await this.producer.connect();
    // Like Lambda's Kafka on-failure destination: the batch's metadata and the error, not a re-send of each record.
    await this.producer.send({
      topic: o.onFailureTopic,
      messages: parts.map((p) => ({
        key: `${o.topic}-${p.submission.partition}`,
        value: JSON.stringify({
          requestContext: { functionName: o.functionName, condition: 'RetryAttemptsExhausted', error: error instanceof Error ? error.message : String(error) },
          kafka: { topic: o.topic, partition: p.submission.partition, firstOffset: p.records[0]!.offset, lastOffset: p.records[p.records.length - 1]!.offset, count: p.records.length },
        }),
      })),
    });
  }
}

/**
 * Record bytes a fetch waits for, per record of a full batch: an estimate (a JSON event of a few
 * fields with Sluice's headers is 150–300 bytes in a record batch). Too high, and a fetch waits
 * out the window although a full batch was there; too low, and invocations come sooner and
 * smaller than Lambda's at rates that fill a batch within the window.
 */
const ESTIMATED_RECORD_BYTES = 200;
/** How often a fetch returns when the batching window is 0 and nothing arrives. */
const ZERO_WINDOW_POLL_MS = 100;

/**
 * Lambda gathers records for up to the batching window before it invokes, unless a full batch
 * (or 6 MB) is there sooner. The broker's fetch does the same: it answers once `minBytes` (a full
 * batch, estimated) are there or `maxWaitTimeInMs` (the window) has passed. With minBytes 1 (the
 * client's default) a fetch would return with the first record, and a trickle of input would
 * invoke the function per record instead of once per window.
 */
export function fetchWait(o: Pick<MappingOptions, 'batchSize' | 'batchingWindowMs' | 'maxPayloadBytes'>): { readonly minBytes: number; readonly maxWaitTimeInMs: number } {
  const windowMs = o.batchingWindowMs ?? 500;
  if (windowMs <= 0) return { minBytes: 1, maxWaitTimeInMs: ZERO_WINDOW_POLL_MS };
  return { minBytes: Math.min(o.maxPayloadBytes ?? MAX_PAYLOAD_BYTES, (o.batchSize ?? 100) * ESTIMATED_RECORD_BYTES), maxWaitTimeInMs: windowMs };
}

/** Bytes of an event's JSON besides its records (source, ARN, servers, group keys). */
const EVENT_OVERHEAD_BYTES = 1024;

/** About how many bytes a record takes in the event's JSON (base64 key and value, headers as byte arrays). */
function recordJsonBytes(r: KafkaRecord): number {
  const b64 = (n: number): number => Math.ceil(n / 3) * 4;
  let headers = 0;
  for (const h of r.headers) headers += h.name.length + 8 + h.value.length * 4;
  return 200 + r.topic.length + b64(r.key?.length ?? 0) + b64(r.value?.length ?? 0) + headers;
}



const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
