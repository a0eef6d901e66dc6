/**
 * The errors of the Kafka side of the commit protocol (TxnSink adapters), and how a kafkajs error
 * is recognised and described. Shared by the kafkajs and @platformatic/kafka adapters.
 */
import { SluiceError, type ErrorPlace } from '../errors.js';

/**
 * The producer of a transactional id was fenced: a newer producer of that id exists (another
 * invocation, or a recovery), or the broker aborted its transaction after transaction.timeout.ms.
 */
export class ProducerFencedError extends SluiceError {
  constructor(
    readonly txnId: string,
    place: ErrorPlace = {},
    options?: { cause?: unknown },
  ) {
    super(
      'SLUICE_FENCED',
      `the producer of transactional id "${txnId}" was fenced: a newer producer of this id took over, or the broker aborted the transaction after transaction.timeout.ms`,
      place,
      'fail this invocation; the retry creates a fresh producer and recovery decides any prepared batch (a fenced commit is not proof of an abort)',
      options,
    );
  }
}

/** A Kafka operation of the sink failed; any producer involved was dropped. */
export class KafkaSinkError extends SluiceError {
  constructor(message: string, place: ErrorPlace = {}, hint?: string, options?: { cause?: unknown }) {
    super('SLUICE_KAFKA_SINK', message, place, hint, options);
  }
}

/** Codes of ResolveError. */
export type ResolveErrorCode = 'SLUICE_RESOLVE_TIMEOUT' | 'SLUICE_PROGRESS_LOST' | 'SLUICE_PROGRESS_POSITION';

/** resolve() could not decide an in-doubt batch; nothing was decided, so retrying is safe. */
export class ResolveError extends SluiceError {
  constructor(code: ResolveErrorCode, message: string, place: ErrorPlace, hint: string, options?: { cause?: unknown }) {
    super(code, message, place, hint, options);
  }
}

/**
 * True if a kafkajs error (or any error in its `cause` chain) says the producer's epoch is
 * stale: INVALID_PRODUCER_EPOCH (47, what brokers answer kafkajs's old request versions),
 * PRODUCER_FENCED (90, unknown to kafkajs: "Unknown error code 90"), or a message saying so.
 */
export function isFencedError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    const { type } = e as Error & { type?: unknown };
    if (type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED') return true;
    if (/fenced|unknown error code 90\b/i.test(e.message)) return true;
  }
  return false;
}

/** A kafkajs error with its type and causes, for messages and logs. */
export function describeKafkaError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { type } = error as Error & { type?: unknown };
  const cause = error.cause instanceof Error && error.cause.message !== error.message ? ` (caused by: ${describeKafkaError(error.cause)})` : '';
  return `${error.name}${typeof type === 'string' ? ` ${type}` : ''}: ${error.message}${cause}`;
}
