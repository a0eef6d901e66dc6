/**
 * The backlog probe (time/backlog.ts) on kafkajs. First the partition's offsets (ListOffsets
 * through the admin, which asks for the last stable offset: the end a read_committed reader
 * sees): nothing at or after `from` means nothing unread, the common answer. Else
 * the records from `from` to the end may all be transaction markers or aborted records — a
 * transactional producer's commit leaves a marker after its last record, so a task that read
 * everything of a transactional topic is still one offset short of the end — and a
 * read_committed read from `from` (a throwaway consumer group that never commits) tells whether a
 * record is there. Only a source task at its idle deadline asks, so the read is rare; it costs a
 * group join (kafkajs reads only through a group), which a broker delays by
 * `group.initial.rebalance.delay.ms` (3 s by default, MSK too): that control invocation takes
 * those seconds longer, once per idle deadline of a transactional or lagging source partition.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import type { TaskRef } from '../commit/ports.js';
import type { SourceStarts } from '../runtime/source-starts.js';
import type { BacklogProbe } from '../time/backlog.js';
import { topicOffsets } from './topic-offsets.js';

/** Options of KafkaBacklogProbe. */
export interface KafkaBacklogProbeOptions {
  /**
   * Where each source topic's trigger starts (runtime/source-starts.ts). For a task that has read
   * nothing yet: TRIM_HORIZON counts every record in the partition, AT_TIMESTAMP those from the
   * timestamp on; LATEST, or a topic not listed, none (records already there are never delivered).
   */
  readonly starts?: SourceStarts;
  /** How long the read may take before the answer is "maybe unread" (default 5 s): a transaction left open holds read_committed reads back. */
  readonly readTimeoutMs?: number;
}

/** Answers from the broker: offsets first, a read_committed read only when offsets cannot tell. */
export class KafkaBacklogProbe implements BacklogProbe {
  private admin: Promise<Admin> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: KafkaBacklogProbeOptions = {},
  ) {}

  async unread(task: TaskRef, from: number): Promise<boolean> {
    const offsets = await topicOffsets(await this.adminClient(), task.topic);
    const p = offsets.find((o) => o.partition === task.partition);
    if (!p) return false;
    const low = Number(p.low);
    const first = from >= 0 ? from : await this.firstDelivered(task, low);
    if (first === undefined) return false;
    const start = Math.max(first, low);
    const end = Number(p.high);
    if (end <= start) return false;
    return this.recordBetween(task, start, end);
  }

  /** The first offset the task's trigger delivers when it has delivered nothing yet; undefined: none it can tell. */
  private async firstDelivered(task: TaskRef, low: number): Promise<number | undefined> {
    const start = this.options.starts?.[task.topic];
    if (start?.startingPosition === 'TRIM_HORIZON') return low;
    if (start?.startingPosition !== 'AT_TIMESTAMP' || start.startingPositionTimestamp === undefined) return undefined;
    const offsets = await (await this.adminClient()).fetchTopicOffsetsByTimestamp(task.topic, start.startingPositionTimestamp * 1000);
    const offset = Number(offsets.find((o) => o.partition === task.partition)?.offset ?? -1);
    return offset >= 0 ? offset : undefined;
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await (await admin?.catch(() => undefined))?.disconnect();
  }

  private adminClient(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      this.admin = admin.connect().then(() => admin);
      this.admin.catch(() => (this.admin = undefined));
    }
    return this.admin;
  }

  /** Whether a read_committed reader finds a record in [start, end) of the task's partition; true when it cannot tell in time. */
  private async recordBetween(task: TaskRef, start: number, end: number): Promise<boolean> {
    const { topic, partition } = task;
    const consumer: Consumer = this.kafka.consumer({
      // Under the task's transactional id, so a stage's IAM scope (`<app>.<stage>.*`) covers it.
      groupId: `${task.app}.${task.id}.backlog-${randomUUID()}`,
      readUncommitted: false,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
      retry: { restartOnFailure: () => Promise.resolve(false) },
    });
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<boolean>((resolve, reject) => {
      timer = setTimeout(() => resolve(true), this.options.readTimeoutMs ?? 5_000);
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        const others = (payload.memberAssignment[topic] ?? []).filter((q) => q !== partition);
        if (others.length > 0) consumer.pause([{ topic, partitions: others }]);
        consumer.seek({ topic, partition, offset: String(start) });
      });
      // Also after batches that held only markers or aborted records (lastOffset covers them).
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.topic === topic && payload.partition === partition && Number(payload.lastOffset) >= end - 1) resolve(false);
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
              if (batch.messages.some((m) => Number(m.offset) >= start)) resolve(true);
            },
          }),
        )
        .catch(reject);
    });
    try {
      return await answer;
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => undefined);
    }
  }
}
