/**
 * The changelog reader (commit/ports.ts TaskLog) on kafkajs: read_committed Fetch requests sent
 * straight to the partition's leader, without a consumer group. kafkajs reads only through
 * consumer groups, whose join a broker delays by group.initial.rebalance.delay.ms (3 s by default,
 * MSK too): far too slow for a read every batch. So this reader takes a kafkajs Cluster from the
 * client's private factory (same brokers, TLS, SASL) and calls its brokers' `fetch` directly.
 *
 * A read: Fetch at `from`; the answer carries the partition's last stable offset, and the broker
 * returns records only below it. The common answer (no other invocation committed since this
 * container's own last batch) is one Fetch that returns nothing. Records of aborted transactions
 * are flagged by read-committed.ts (kafkajs's parse, patched process-wide) and dropped here with
 * the transaction markers.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { KafkajsCluster } from 'kafkajs/src/cluster/index.js';
import type { LogPartition, LogRecord, TaskLog } from '../commit/ports.js';
import { ChangelogTrimmed } from '../commit/ports.js';
import { KafkaSinkError } from './sink-errors.js';
import { privateCluster, READ_COMMITTED } from './private-cluster.js';

/** The fetch started below the log start (DeleteRecords after a newer snapshot) or past its end. */
const OFFSET_OUT_OF_RANGE = 1;
/** Bytes one fetch may return. */
const FETCH_MAX_BYTES = 4 * 1024 * 1024;
/** Attempts of one fetch when the partition's leader moved or is not known yet. */
const ATTEMPTS = 6;
/** Protocol errors after which fresh metadata may find the leader. */
const LEADER_ERRORS = new Set([3 /* UNKNOWN_TOPIC_OR_PARTITION */, 5 /* LEADER_NOT_AVAILABLE */, 6 /* NOT_LEADER_OR_FOLLOWER */, 74 /* FENCED_LEADER_EPOCH */, 75 /* UNKNOWN_LEADER_EPOCH */]);

/** Reads task changelogs through one kafkajs cluster; close() with the ports. */
export class KafkajsChangelogReader implements TaskLog {
  private cluster: Promise<KafkajsCluster> | undefined;
  private admin: Promise<Admin> | undefined;
  /** Fetch requests sent, for the benchmark's request counts. */
  requests = 0;

  /**
   * `settleMs`: a reader outside the commit protocol (tools, tests) may read right after a commit
   * returned, before the coordinator wrote its markers, when the last stable offset is still below
   * the batch just committed. With settleMs it fetches again, for up to that long, until the last
   * stable offset reaches the high watermark (a transaction left open keeps it below: then it
   * returns what is stable). The protocol's own reads need no settling: a container knows its own
   * batches, and its claim waits for every older producer's transaction to complete.
   */
  constructor(
    private readonly kafka: Kafka,
    private readonly options: { readonly settleMs?: number } = {},
  ) {}

  async read(at: LogPartition, from: number): Promise<{ readonly records: readonly LogRecord[]; readonly next: number }> {
    const records: LogRecord[] = [];
    let position = from;
    const settleUntil = Date.now() + (this.options.settleMs ?? 0);
    for (;;) {
      let fetched = await this.fetch(at, position);
      while (Number(fetched.lastStableOffset) < Number(fetched.highWatermark) && Date.now() < settleUntil) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        fetched = await this.fetch(at, position);
      }
      const stable = Number(fetched.lastStableOffset);
      let last = position - 1;
      for (const m of fetched.messages) {
        const offset = Number(m.offset);
        if (offset < position || offset >= stable) continue;
        last = Math.max(last, offset);
        if (!m.isControlRecord) records.push({ offset, value: m.value });
      }
      // Below the last stable offset everything is decided; read on while the answer was cut short.
      if (last < position || last + 1 >= stable) return { records, next: Math.max(from, stable, last + 1) };
      position = last + 1;
    }
  }

  /** DeleteRecords through the client's admin (connected on first use). */
  async trim(at: LogPartition, before: number): Promise<void> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      this.admin = admin.connect().then(() => admin);
      this.admin.catch(() => (this.admin = undefined));
    }
    await (await this.admin).deleteTopicRecords({ topic: at.topic, partitions: [{ partition: at.partition, offset: String(before) }] });
  }

  async close(): Promise<void> {
    const cluster = this.cluster;
    const admin = this.admin;
    this.cluster = undefined;
    this.admin = undefined;
    await (await cluster?.catch(() => undefined))?.disconnect();
    await (await admin?.catch(() => undefined))?.disconnect();
  }

  /** One read_committed Fetch of the partition at `offset`, from its leader (metadata refreshed and retried when the leader moved). */
  private async fetch(at: LogPartition, offset: number): Promise<{ lastStableOffset: string; highWatermark: string; messages: ReadonlyArray<{ offset: string; value: Buffer | null; isControlRecord: boolean }> }> {
    const cluster = await this.connected();
    for (let attempt = 1; ; attempt += 1) {
      try {
        await cluster.addTargetTopic(at.topic);
        const leaders = cluster.findLeaderForPartitions(at.topic, [at.partition]);
        const nodeId = Object.keys(leaders)[0];
        if (nodeId === undefined) throw new KafkaSinkError(`changelog partition ${at.partition} not found`, { topic: at.topic, partition: at.partition }, 'create the changelog topics first (`sluice topics create`, `sls deploy` or `sluice dev`)');
        const broker = await cluster.findBroker({ nodeId });
        this.requests += 1;
        const response = await broker.fetch({
          replicaId: -1,
          isolationLevel: READ_COMMITTED,
          maxWaitTime: 0,
          minBytes: 0,
          maxBytes: FETCH_MAX_BYTES,
          topics: [{ topic: at.topic, partitions: [{ partition: at.partition, fetchOffset: String(offset), maxBytes: FETCH_MAX_BYTES }] }],
        });
        const p = response.responses.find((r) => r.topicName === at.topic)?.partitions.find((q) => q.partition === at.partition);
        if (!p) throw new KafkaSinkError('the fetch answered without the changelog partition', { topic: at.topic, partition: at.partition }, 'retry the invocation');
        return p;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === OFFSET_OUT_OF_RANGE) throw new ChangelogTrimmed(at.topic, at.partition, offset);
        const retriable = (typeof code === 'number' && LEADER_ERRORS.has(code)) || (error as { retriable?: unknown }).retriable === true;
        if (!retriable || attempt >= ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
        await cluster.refreshMetadata().catch(() => undefined);
      }
    }
  }

  private connected(): Promise<KafkajsCluster> {
    if (!this.cluster) {
      const cluster = privateCluster(this.kafka);
      this.cluster = cluster.connect().then(() => cluster);
      this.cluster.catch(() => (this.cluster = undefined));
    }
    return this.cluster;
  }
}
