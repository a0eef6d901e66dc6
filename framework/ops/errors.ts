/**
 * Errors of the operations tools (`sluice status`, `dlq`, `state`, `savepoint`, `reset`): each
 * says what was wrong, where (stage, topic, partition, offset), and what to do about it.
 */
import { SluiceError, type ErrorPlace } from '../errors.js';

/** Stable codes of OpsError. */
export type OpsErrorCode =
  | 'SLUICE_OPS_PIPELINE'
  | 'SLUICE_OPS_UNKNOWN_STAGE'
  | 'SLUICE_OPS_NO_TABLE'
  | 'SLUICE_OPS_TABLE_MISSING'
  | 'SLUICE_OPS_DYNAMODB_UNREACHABLE'
  | 'SLUICE_OPS_KAFKA_UNREACHABLE'
  | 'SLUICE_OPS_TOPIC_MISSING'
  | 'SLUICE_OPS_PENDING'
  | 'SLUICE_OPS_CONFLICT'
  | 'SLUICE_OPS_NOT_EMPTY'
  | 'SLUICE_OPS_SAVEPOINT'
  | 'SLUICE_OPS_OFFSET'
  | 'SLUICE_OPS_KEY'
  | 'SLUICE_OPS_STATE'
  | 'SLUICE_OPS_DLQ'
  | 'SLUICE_OPS_REPLAY';

/** An operations command could not do what was asked; nothing was changed unless the message says so. */
export class OpsError extends SluiceError {
  constructor(code: OpsErrorCode, message: string, place: ErrorPlace, hint: string, options?: { cause?: unknown }) {
    super(code, message, place, hint, options);
  }
}
