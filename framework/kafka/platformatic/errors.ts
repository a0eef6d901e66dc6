/**
 * What @platformatic/kafka errors mean to the commit protocol (pure; no import of the library at
 * run time). The library reports a broker's answer as a ProtocolError with `apiId` (e.g.
 * `PRODUCER_FENCED`), usually inside a ResponseError or a MultipleErrors (both AggregateErrors:
 * the causes are in `errors`), sometimes as a `cause`.
 */

/** Every broker error name (`apiId`) in an error's `errors` and `cause` tree, outermost first. */
export function protocolErrorIds(error: unknown): string[] {
  const ids: string[] = [];
  const seen = new Set<unknown>();
  const visit = (e: unknown, depth: number): void => {
    if (typeof e !== 'object' || e === null || seen.has(e) || depth > 10) return;
    seen.add(e);
    const { apiId, errors, cause } = e as { apiId?: unknown; errors?: unknown; cause?: unknown };
    if (typeof apiId === 'string') ids.push(apiId);
    if (Array.isArray(errors)) for (const inner of errors) visit(inner, depth + 1);
    visit(cause, depth + 1);
  };
  visit(error, 0);
  return ids;
}

/**
 * True if the error says the producer's epoch is stale: PRODUCER_FENCED (what brokers answer the
 * request versions this client sends) or INVALID_PRODUCER_EPOCH (older versions, and Produce).
 */
export function isFencedByBroker(error: unknown): boolean {
  return protocolErrorIds(error).some((id) => id === 'PRODUCER_FENCED' || id === 'INVALID_PRODUCER_EPOCH');
}

/**
 * The library retries what the broker marks retriable (CONCURRENT_TRANSACTIONS,
 * COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR, network errors) itself, with the sink's
 * `retryDelay`. UNKNOWN_SERVER_ERROR it does not retry. From EndTxn that error means the broker
 * threw before deciding anything (e.g. IllegalStateException "Preparing transaction state
 * transition to PREPARE_COMMIT while it already a pending state PREPARE_EPOCH_FENCE" when a
 * zombie's EndTxn races a fence), so the sink sends EndTxn again: the same producer id and epoch
 * make it idempotent, and the answer becomes definite (NONE, or PRODUCER_FENCED).
 */
export const ENDTXN_RESEND_IDS: readonly string[] = ['UNKNOWN_SERVER_ERROR'];

/** Sends of one EndTxn the sink makes at most (each with the library's own retries inside). */
export const ENDTXN_MAX_SENDS = 6;

/** Whether a commit or abort that failed with `error` on send `attempt` (1-based) is sent again, and after how long (pure). */
export function endTxnResend(error: unknown, attempt: number): { readonly again: true; readonly delayMs: number } | { readonly again: false } {
  if (attempt >= ENDTXN_MAX_SENDS || isFencedByBroker(error)) return { again: false };
  const ids = protocolErrorIds(error);
  if (!ids.some((id) => ENDTXN_RESEND_IDS.includes(id))) return { again: false };
  return { again: true, delayMs: Math.min(1_000, 20 * 2 ** (attempt - 1)) };
}

/**
 * Backoff of the library's own retries (its `retryDelay`): 20 ms doubling to 1 s, like the Java
 * client's retry.backoff.ms / retry.backoff.max.ms. The library's default is a flat 1 s, which
 * makes every CONCURRENT_TRANSACTIONS on a back-to-back transaction cost a second.
 */
export function retryDelayMs(attempt: number): number {
  return Math.min(1_000, 20 * 2 ** Math.max(0, attempt - 1));
}

/**
 * Retries of the library's operations: with retryDelayMs about 20 s in all, as the kafkajs sink's
 * PRODUCER_RETRY. Seen on the local 4.1.1 broker: a transaction whose markers went to a partition
 * created a moment before kept its id answering CONCURRENT_TRANSACTIONS for 52 s (the broker's
 * own WriteTxnMarkers request hung until its request timeout); no client budget covers that, and
 * the invocation fails and is retried.
 */
export const PLATFORMATIC_RETRIES = 25;
