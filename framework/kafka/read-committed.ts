/** Read-committed filtering done right for kafkajs (see fixKafkajsReadCommitted). */
import fetchV4 from 'kafkajs/src/protocol/requests/fetch/v4/response.js';
import fetchV5 from 'kafkajs/src/protocol/requests/fetch/v5/response.js';
import fetchV6 from 'kafkajs/src/protocol/requests/fetch/v6/response.js';
import fetchV7 from 'kafkajs/src/protocol/requests/fetch/v7/response.js';
import fetchV8 from 'kafkajs/src/protocol/requests/fetch/v8/response.js';
import fetchV9 from 'kafkajs/src/protocol/requests/fetch/v9/response.js';
import fetchV10 from 'kafkajs/src/protocol/requests/fetch/v10/response.js';
import fetchV11 from 'kafkajs/src/protocol/requests/fetch/v11/response.js';

/** kafkajs's Fetch response parsers, v4 to v11: the versions that carry aborted transactions. */
const FETCH_RESPONSES = [fetchV4, fetchV5, fetchV6, fetchV7, fetchV8, fetchV9, fetchV10, fetchV11];

/**
 * kafkajs 2.2.4 (the last release) lets read_committed consumers see records of aborted
 * transactions. Its filter (src/consumer/filterAbortedMessages.js) walks the fetch response's
 * aborted-transaction list assuming it is sorted by first offset and takes at most one entry per
 * record. The broker lists them in the order they ended (its transaction index), and a fetch that
 * starts inside several aborted transactions needs several at the first record; so an aborted
 * transaction that started before another one but ended after it, or a fetch from the middle of
 * one, leaks its records (the Java client keeps a queue ordered by first offset and drains every
 * entry up to the current batch). Seen here as a stage reading its input twice when a data
 * invocation and a control invocation of one task raced and the loser aborted.
 *
 * The fix does the Java client's filtering where kafkajs parses Fetch responses (v4 to v11; kafkajs
 * calls `parse` through the module object, so it can be replaced after kafkajs has loaded): records
 * of aborted transactions are flagged as control records, which kafkajs drops from the messages it
 * hands out while still counting their offsets, and the aborted list is emptied so its own filter
 * has nothing to do. Process-wide and idempotent; every kafkajs read_committed reader in the
 * process (this trigger, readToEnd, the commit protocol's recovery reads) benefits.
 */
export function fixKafkajsReadCommitted(): void {
  if (readCommittedFixed) return;
  readCommittedFixed = true;
  for (const mod of FETCH_RESPONSES) {
    const parse = mod.parse;
    mod.parse = async function parseDroppingAborted(data: unknown): Promise<unknown> {
      return dropAbortedRecords(await parse(data));
    };
  }
}

let readCommittedFixed = false;

interface FetchedRecord {
  offset: string;
  key: Buffer | null;
  isControlRecord: boolean;
  batchContext?: { producerId?: string; inTransaction?: boolean };
}

interface FetchedPartition {
  abortedTransactions?: Array<{ producerId: string; firstOffset: string }>;
  messages?: FetchedRecord[];
}

/** Marks records of aborted transactions as control records (see fixKafkajsReadCommitted). */
export function dropAbortedRecords<T>(data: T): T {
  const responses = (data as { responses?: Array<{ partitions?: FetchedPartition[] }> }).responses ?? [];
  for (const partition of responses.flatMap((r) => r.partitions ?? [])) {
    const aborted = partition.abortedTransactions;
    if (!aborted || aborted.length === 0) continue;
    const queue = [...aborted].sort((a, b) => compareOffsets(a.firstOffset, b.firstOffset));
    const open = new Set<string>();
    for (const m of partition.messages ?? []) {
      while (queue.length > 0 && compareOffsets(queue[0]!.firstOffset, m.offset) <= 0) open.add(queue.shift()!.producerId);
      const producer = String(m.batchContext?.producerId);
      if (m.isControlRecord) {
        // An abort marker ends the producer's aborted transaction (control key: version, type 0 = abort).
        if (m.key && m.key.length >= 4 && m.key.readInt16BE(2) === 0) open.delete(producer);
      } else if (m.batchContext?.inTransaction && open.has(producer)) {
        m.isControlRecord = true;
      }
    }
    partition.abortedTransactions = [];
  }
  return data;
}

function compareOffsets(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

