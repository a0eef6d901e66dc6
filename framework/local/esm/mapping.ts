/**
 * An emulator of Lambda's Kafka event-source mapping: polls a topic with a consumer group
 * and read_committed, delivers each partition's records in order in batches of at most
 * `batchSize` (one batch per partition in flight), builds the exact MSK or self-managed
 * event, invokes the function, and commits the group offset only after success. A failed
 * batch is retried with backoff, then (if `maxRetries` is set) sent to an on-failure topic
 * and skipped, as Lambda's provisioned mode allows.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, IHeaders, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { SluiceError } from '../../errors.js';
import { encodeEvent } from '../../lambda/decode.js';
import type { KafkaRecord, RecordHeader } from '../../kafka/record.js';
import type { Invoker } from './invoker.js';

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
  /** How long to gather records before invoking (Lambda's default for Kafka 500 ms). */
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
  /** Called after every invocation, for status displays and tests. */
  readonly onInvocation?: (info: InvocationInfo) => void;
}

/** What happened in one invocation. */
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
  private producer: Producer | undefined;
  /** Per partition: the offset up to which the log was consumed (incl. transaction markers). */
  private readonly covered = new Map<number, number>();
  private running = false;

  constructor(private readonly options: MappingOptions) {
    const b = options.batchSize ?? 100;
    if (!Number.isInteger(b) || b < 1 || b > 10_000) throw new SluiceError('SLUICE_CONFIG', `batchSize ${b} is out of range`, { field: 'batchSize' }, 'Lambda allows 1 to 10,000');
  }

  /** Starts polling. */
  async start(): Promise<void> {
    const o = this.options;
    const groupId = o.groupId ?? `sluice-esm-${o.functionName}-${o.topic}`;
    const consumer = o.kafka.consumer({
      groupId,
      readUncommitted: false,
      maxWaitTimeInMs: o.batchingWindowMs ?? 500,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      // Explicit timing, as Lambda's poller would ride out a broker restart (kafkajs shortens its defaults under NODE_ENV=test).
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 30_000, factor: 0.2, multiplier: 2 },
    });
    this.consumer = consumer;
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
        const size = o.batchSize ?? 100;
        const records = batch.messages.map((m) => toRecord(batch.topic, batch.partition, m));
        for (let i = 0; i < records.length; i += size) {
          if (!isRunning() || isStale()) return;
          const chunk = records.slice(i, i + size);
          const delivered = await this.deliver(batch.partition, chunk, heartbeat, isRunning);
          if (!delivered) return; // stopping: the uncommitted rest is redelivered later, as Lambda would
          const next = chunk[chunk.length - 1]!.offset + 1;
          resolveOffset(String(next - 1));
          await consumer.commitOffsets([{ topic: o.topic, partition: batch.partition, offset: String(next) }]);
          await heartbeat();
        }
      },
    });
  }

  /** Waits until every partition has been consumed up to the high watermark it has now. */
  async waitForCatchUp(timeoutMs = 60_000): Promise<void> {
    const admin = this.options.kafka.admin();
    await admin.connect();
    try {
      const ends = await admin.fetchTopicOffsets(this.options.topic);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
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
    this.running = false;
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
  }

  private async deliver(partition: number, records: KafkaRecord[], heartbeat: () => Promise<void>, isRunning: () => boolean): Promise<boolean> {
    const o = this.options;
    const event = encodeEvent(
      o.eventSource === 'self-managed'
        ? { source: 'self-managed', bootstrapServers: o.brokers, batches: [{ topic: o.topic, partition, records }] }
        : { source: 'msk', eventSourceArn: `arn:aws:kafka:local:000000000000:cluster/sluice-local/${randomUUID()}`, bootstrapServers: o.brokers, batches: [{ topic: o.topic, partition, records }] },
    );
    let backoff = o.retryBackoffMs ?? 100;
    for (let attempt = 1; ; attempt += 1) {
      const started = Date.now();
      const base = { functionName: o.functionName, topic: o.topic, partition, firstOffset: records[0]!.offset, lastOffset: records[records.length - 1]!.offset, records: records.length, attempt };
      try {
        this.stats.invocations += 1;
        await o.invoker.invoke(o.functionName, event);
        this.stats.records += records.length;
        o.onInvocation?.({ ...base, ok: true, durationMs: Date.now() - started });
        return true;
      } catch (error) {
        this.stats.failures += 1;
        o.onInvocation?.({ ...base, ok: false, error, durationMs: Date.now() - started });
        if (o.maxRetries !== undefined && attempt > o.maxRetries) {
          await this.sendToFailureTopic(partition, records, error);
          this.stats.skippedBatches += 1;
          return true;
        }
        if (!this.running || !isRunning()) return false;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5_000);
        await heartbeat();
      }
    }
  }

  private async sendToFailureTopic(partition: number, records: KafkaRecord[], error: unknown): Promise<void> {
    const o = this.options;
    if (!o.onFailureTopic) return;
    this.producer ??= o.kafka.producer({ idempotent: true });
    await this.producer.connect();
    // Like Lambda's Kafka on-failure destination: the batch's metadata and the error, not a re-send of each record.
    await this.producer.send({
      topic: o.onFailureTopic,
      messages: [
        {
          key: `${o.topic}-${partition}`,
          value: JSON.stringify({
            requestContext: { functionName: o.functionName, condition: 'RetryAttemptsExhausted', error: error instanceof Error ? error.message : String(error) },
            kafka: { topic: o.topic, partition, firstOffset: records[0]!.offset, lastOffset: records[records.length - 1]!.offset, count: records.length },
          }),
        },
      ],
    });
  }
}

function toRecord(topic: string, partition: number, m: KafkaMessage): KafkaRecord {
  return {
    topic,
    partition,
    offset: Number(m.offset),
    timestamp: Number(m.timestamp),
    timestampType: 'CREATE_TIME',
    key: m.key ?? null,
    value: m.value ?? null,
    headers: toHeaders(m.headers),
  };
}

function toHeaders(headers: IHeaders | undefined): RecordHeader[] {
  const out: RecordHeader[] = [];
  for (const [name, v] of Object.entries(headers ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) {
      if (one === undefined) continue;
      out.push({ name, value: Buffer.isBuffer(one) ? one : Buffer.from(one) });
    }
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
