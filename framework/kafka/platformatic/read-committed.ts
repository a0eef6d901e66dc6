/**
 * Read-committed filtering of @platformatic/kafka fetch responses, done the way the Java client
 * does it. Pure: no import of the library at run time, so it is tested on any Node version.
 *
 * @platformatic/kafka 2.12.1 filters read_committed fetches itself (Consumer #filterUncommittedMessages)
 * with one range per producer id: the first offset of the producer's *last* listed aborted
 * transaction up to its last abort marker. A producer that aborts twice in one fetch (what a
 * task's producer does when two of its batches are aborted: the old transaction protocol keeps
 * producer id and epoch across transactions) gets only its later transaction filtered; the
 * records of the earlier one are delivered as if committed. Seen on the local broker: aborted a0,
 * committed b0, aborted c0, committed d0 → a read_committed consumer gets a0, b0, d0. Its filter
 * only ever removes records of aborted transactions, so filtering its output again with the
 * complete algorithm gives the right answer: a queue of the aborted transactions ordered by first
 * offset, a producer joins the aborted set when the queue's head starts at or before the current
 * batch, and leaves it at its abort marker.
 */

/** The fields of a fetched record batch (the library's RecordsBatch) that filtering reads. */
export interface FetchedBatch {
  readonly firstOffset: bigint;
  readonly lastOffsetDelta: number;
  readonly attributes: number;
  readonly producerId: bigint;
  readonly records: ReadonlyArray<{ readonly offsetDelta: number; readonly key: Buffer | null; readonly value: Buffer | null }>;
}

/** An entry of a read_committed fetch response's aborted-transaction list. */
export interface AbortedTransaction {
  readonly producerId: bigint;
  readonly firstOffset: bigint;
}

/** Batch attribute bits (Kafka record batch v2). */
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;

/** A committed data record of a fetched partition. */
export interface FetchedRecord {
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

/** What one read_committed fetch of one partition yields. */
export interface CommittedRead {
  /** Committed data records at or after `from`, in offset order. */
  readonly records: FetchedRecord[];
  /** The offset after the last batch of the response (where the next fetch starts); `from` if it held none. */
  readonly next: number;
}

/**
 * The committed data records of one partition's read_committed fetch response, at offsets ≥ `from`.
 * `aborted` is the response's aborted-transaction list (as the broker sends it, any order).
 */
export function committedRecords(batches: readonly FetchedBatch[], aborted: readonly AbortedTransaction[] | null, from: number): CommittedRead {
  const queue = [...(aborted ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  const abortedProducers = new Set<bigint>();
  const records: FetchedRecord[] = [];
  let next = from;
  for (const batch of [...batches].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1))) {
    const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    next = Math.max(next, Number(last) + 1);
    while (queue.length > 0 && queue[0]!.firstOffset <= last) abortedProducers.add(queue.shift()!.producerId);
    const transactional = (batch.attributes & TRANSACTIONAL) !== 0;
    if ((batch.attributes & CONTROL) !== 0) {
      // A control batch holds one marker: key = version (int16) + type (int16, 0 = abort, 1 = commit).
      const key = batch.records[0]?.key;
      if (transactional && key && key.length >= 4 && key.readInt16BE(2) === 0) abortedProducers.delete(batch.producerId);
      continue;
    }
    if (transactional && abortedProducers.has(batch.producerId)) continue;
    for (const r of batch.records) {
      const offset = Number(batch.firstOffset) + r.offsetDelta;
      if (offset >= from) records.push({ offset, key: r.key, value: r.value });
    }
  }
  return { records, next };
}
