/**
 * Transaction-ending requests retried as the Java client retries them (see fixKafkajsEndTxn).
 *
 * kafkajs 2.2.4 sends EndTxn once and turns every error into a thrown one, after which its
 * producer refuses to commit or abort again. Two answers are not final, though:
 * - CONCURRENT_TRANSACTIONS: the coordinator is still completing the previous transition of this
 *   transactional id (writing markers; or, on a `transaction.version=2` cluster, fencing it: the
 *   epoch is bumped only when the fencing abort is appended, so a zombie's EndTxn in that window
 *   gets this instead of PRODUCER_FENCED). COORDINATOR_LOAD_IN_PROGRESS: the coordinator is
 *   loading its log. The Java client re-sends EndTxn for both.
 * - UNKNOWN_SERVER_ERROR: the broker threw, e.g. IllegalStateException "Preparing transaction
 *   state transition to PREPARE_COMMIT while it already a pending state PREPARE_EPOCH_FENCE" when a
 *   zombie's EndTxn races InitProducerId's fence (3.9 and 4.x). Nothing changed; re-sending gets
 *   the definite answer (PRODUCER_FENCED once the fence is done, or NONE for our own commit).
 * Re-sending EndTxn with the same producer id and epoch is idempotent: a transaction that already
 * completed that way answers NONE again. What is still not definite after the retries stays an
 * error, and the commit protocol treats a failed commit as in doubt (recovery decides it).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Broker from 'kafkajs/src/broker/index.js';

/** What to do with an EndTxn error: send the request again (after `delayMs`) or give up. */
export type EndTxnDecision = { readonly retry: true; readonly delayMs: number } | { readonly retry: false };

/** Errors after which EndTxn is sent again, as kafkajs names them (error.type). */
export const ENDTXN_RETRIABLE: readonly string[] = ['CONCURRENT_TRANSACTIONS', 'COORDINATOR_LOAD_IN_PROGRESS', 'UNKNOWN'];

/** Sends of one EndTxn at most (about 6 s of backoff in all). */
export const ENDTXN_MAX_ATTEMPTS = 12;

/** Whether attempt `attempt` (1-based) that failed with kafkajs error type `type` is sent again (pure). */
export function endTxnDecision(type: string | undefined, attempt: number): EndTxnDecision {
  if (type === undefined || !ENDTXN_RETRIABLE.includes(type) || attempt >= ENDTXN_MAX_ATTEMPTS) return { retry: false };
  // 20 ms doubling to 1 s: markers are usually written within milliseconds.
  return { retry: true, delayMs: Math.min(1_000, 20 * 2 ** (attempt - 1)) };
}

/** kafkajs's Broker as far as the fix uses it (kafkajs-internals.d.ts). */
type KafkajsBroker = (typeof Broker)['prototype'];

/**
 * Installs the EndTxn retries into kafkajs's Broker, process-wide and once. kafkajs calls
 * `broker.endTxn` on Broker instances, so wrapping the prototype method reaches every producer.
 */
export function fixKafkajsEndTxn(): void {
  if (installed) return;
  installed = true;
  const send = Broker.prototype.endTxn;
  Broker.prototype.endTxn = async function endTxnWithRetries(this: KafkajsBroker, args: unknown): Promise<unknown> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await send.call(this, args);
      } catch (error) {
        const decision = endTxnDecision((error as { type?: string }).type, attempt);
        if (!decision.retry) throw error;
        endTxnRetries += 1;
        await sleep(decision.delayMs);
      }
    }
  };
}

/** EndTxn requests sent again in this process (for tests and metrics). */
export function endTxnRetryCount(): number {
  return endTxnRetries;
}

let installed = false;
let endTxnRetries = 0;
