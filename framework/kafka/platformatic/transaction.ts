/**
 * A @platformatic/kafka transaction as the client-neutral SinkTxn (../sink-txn.ts) drives it, and
 * how a transaction is ended: EndTxn sent again while its answer is not definite.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Producer } from '@platformatic/kafka';
import type { SentOffsets } from '../../commit/ports.js';
import type { OutgoingRecord } from '../../record/record.js';
import type { ClientTxn } from '../sink-txn.js';
import { endTxnResend, isFencedByBroker } from './errors.js';

/** The library's Transaction (not exported by name). */
export type Txn = Awaited<ReturnType<Producer['beginTransaction']>>;

/**
 * A platformatic transaction as a SinkTxn drives it. A transaction that sent nothing has no
 * partitions on the broker and is ended on the client only (cancel).
 */
export function platformaticClientTxn(txn: Txn, produce: (txn: Txn, records: readonly OutgoingRecord[]) => Promise<SentOffsets>): ClientTxn {
  let sent = false;
  return {
    produce(records) {
      if (records.length === 0) return Promise.resolve([]);
      sent = true;
      return produce(txn, records);
    },
    commit: () => (sent ? endTransaction(txn, 'commit') : txn.cancel()),
    abort: () => (sent ? endTransaction(txn, 'abort') : txn.cancel()),
    fencedBy: isFencedByBroker,
  };
}

/**
 * Commits or aborts, sending EndTxn again while the answer is not definite (errors.ts
 * endTxnResend). The library keeps the transaction open after a failed EndTxn, so calling
 * commit() again re-sends EndTxn with the same producer id and epoch.
 */
export async function endTransaction(txn: Txn, how: 'commit' | 'abort'): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await (how === 'commit' ? txn.commit() : txn.abort());
      return;
    } catch (error) {
      const decision = endTxnResend(error, attempt);
      if (!decision.again) throw error;
      endTxnResends++;
      await sleep(decision.delayMs);
    }
  }
}

let endTxnResends = 0;

/** EndTxn requests the platformatic sinks of this process sent again after UNKNOWN_SERVER_ERROR (for tests and metrics). */
export function platformaticEndTxnResendCount(): number {
  return endTxnResends;
}
