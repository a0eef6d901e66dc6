/**
 * What a PlatformaticTxnSink reads from the cluster: partition counts, log start offsets, and
 * resolve's read_committed read of a progress partition. One @platformatic/kafka Consumer per
 * sink, used without a group: its low-level fetch reads a partition at an offset directly, so a
 * resolve needs no throwaway consumer group (kafkajs's does: JoinGroup, SyncGroup, LeaveGroup,
 * and the broker's group.initial.rebalance.delay.ms, 3 s by default).
 */
import { randomUUID } from 'node:crypto';
import { Consumer, FetchIsolationLevels, ListOffsetTimestamps } from '@platformatic/kafka';
import type { ProgressPosition } from '../../commit/ports.js';
import type { ErrorPlace } from '../../errors.js';
import { KafkaSinkError, ResolveError } from '../sink-errors.js';
import type { PlatformaticClientOptions } from './connection.js';
import { protocolErrorIds } from './errors.js';
import { committedRecords } from './read-committed.js';

/** How long one read_committed fetch waits at the broker for data. */
const FETCH_WAIT_MS = 100;
/** Bytes one fetch may return. */
const FETCH_MAX_BYTES = 1_048_576;

/** Reads partitions for a sink; close() when the sink closes. */
export class PartitionReader {
  private readonly consumer: Consumer;
  private readonly partitionCounts = new Map<string, Promise<number>>();

  constructor(options: PlatformaticClientOptions) {
    // A group id is required by the constructor; the reader never joins the group.
    this.consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({ ...options, groupId: `sluice-sink-reader-${randomUUID()}` });
  }

  /** The topic's partition count, looked up once per reader (Sluice never changes it). */
  partitionCount(topic: string): Promise<number> {
    let count = this.partitionCounts.get(topic);
    if (!count) {
      count = this.consumer.metadata({ topics: [topic] }).then((metadata) => {
        const n = metadata.topics.get(topic)?.partitionsCount ?? 0;
        if (n < 1) throw new KafkaSinkError(`topic "${topic}" has no partitions`, { topic }, 'create the topic first (`sls deploy` or `sluice dev` create the topology topics)');
        return n;
      });
      this.partitionCounts.set(topic, count);
      count.catch(() => this.partitionCounts.delete(topic));
    }
    return count;
  }

  /** The partition's log start offset (the first offset retention has not deleted). */
  async logStartOffset(topic: string, partition: number): Promise<number> {
    const offsets = await this.consumer.listOffsets({ topics: [topic], partitions: { [topic]: [partition] }, timestamp: ListOffsetTimestamps.EARLIEST });
    const low = offsets.get(topic)?.[partition];
    if (low === undefined) throw new KafkaSinkError(`partition ${partition} not found`, { topic, partition }, 'was the progress topic recreated with fewer partitions?');
    return Number(low);
  }

  /**
   * Reads the progress partition read_committed from `progress.offset` until `probeOffset` has
   * been passed, and returns the value of the record at `progress.offset` if it is committed
   * (undefined if not). The broker returns nothing past the last stable offset, so once the
   * probe is read every transaction before it has ended and the answer is final. Records are
   * filtered by read-committed.ts, not by the library. `check(offset, value)` sees every
   * committed record read (resolve checks the probe with it). Fails with
   * SLUICE_RESOLVE_TIMEOUT after `timeoutMs` and with SLUICE_PROGRESS_LOST when retention
   * deleted the record.
   */
  async readUpTo(progress: ProgressPosition, probeOffset: number, timeoutMs: number, check: (offset: number, value: Buffer | null) => void): Promise<Buffer | null | undefined> {
    const place: ErrorPlace = { topic: progress.topic, partition: progress.partition, offset: progress.offset };
    const deadline = Date.now() + timeoutMs;
    let position = progress.offset;
    let found: Buffer | null | undefined;
    let refresh = false;
    while (position <= probeOffset) {
      if (Date.now() > deadline) {
        throw new ResolveError(
          'SLUICE_RESOLVE_TIMEOUT',
          `read_committed did not reach the probe at offset ${probeOffset} within ${timeoutMs} ms`,
          place,
          'a transaction left open on this progress partition holds read_committed readers back until it ends (at most transaction.timeout.ms, sooner when its task retries); the invocation fails and is retried',
        );
      }
      let partition;
      try {
        partition = await this.fetchCommitted(progress, position, refresh);
      } catch (error) {
        const ids = protocolErrorIds(error);
        if (ids.includes('OFFSET_OUT_OF_RANGE')) {
          const low = await this.logStartOffset(progress.topic, progress.partition);
          if (low > progress.offset) throw progressLost(low, place);
        }
        if (!refresh && ids.some((id) => id === 'NOT_LEADER_OR_FOLLOWER' || id === 'LEADER_NOT_AVAILABLE' || id === 'FENCED_LEADER_EPOCH')) {
          refresh = true;
          continue;
        }
        throw error;
      }
      refresh = false;
      const read = committedRecords(partition?.records ?? [], partition?.abortedTransactions ?? null, position);
      for (const r of read.records) {
        if (r.offset === progress.offset) found = r.value;
        check(r.offset, r.value);
      }
      // Nothing new (held back by an open transaction): ask again; the broker waits FETCH_WAIT_MS.
      position = read.next;
    }
    if (found === undefined) {
      const low = await this.logStartOffset(progress.topic, progress.partition);
      if (low > progress.offset) throw progressLost(low, place);
    }
    return found;
  }

  /** Closes the reader's connections. */
  close(): Promise<void> {
    return this.consumer.close(true);
  }

  /** One read_committed fetch of the partition at `offset`, from its leader. */
  private async fetchCommitted(progress: ProgressPosition, offset: number, refresh: boolean) {
    const metadata = await this.consumer.metadata({ topics: [progress.topic], forceUpdate: refresh });
    const topic = metadata.topics.get(progress.topic);
    const leader = topic?.partitions[progress.partition]?.leader;
    if (!topic || leader === undefined) {
      throw new KafkaSinkError(`partition ${progress.partition} not found`, { topic: progress.topic, partition: progress.partition }, 'was the progress topic recreated with fewer partitions?');
    }
    const response = await this.consumer.fetch({
      node: leader,
      topics: [{ topicId: topic.id, partitions: [{ partition: progress.partition, currentLeaderEpoch: -1, fetchOffset: BigInt(offset), lastFetchedEpoch: -1, partitionMaxBytes: FETCH_MAX_BYTES }] }],
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
      maxWaitTime: FETCH_WAIT_MS,
      minBytes: 1,
      maxBytes: FETCH_MAX_BYTES,
    });
    return response.responses.flatMap((t) => t.partitions).find((p) => p.partitionIndex === progress.partition);
  }
}

function progressLost(low: number, place: ErrorPlace): ResolveError {
  return new ResolveError(
    'SLUICE_PROGRESS_LOST',
    `the progress record was deleted by retention (log start offset ${low}), so the outcome of the pending batch cannot be read`,
    place,
    "keep the progress topic's retention (and cleanup.policy=delete or compact) longer than any batch can stay pending",
  );
}
