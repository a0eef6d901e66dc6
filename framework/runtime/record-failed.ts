/** The error a stage fails its batch with when a user function throws and the app says `onError: 'fail'`. */
import { SluiceError } from '../errors.js';

/** A user function failed on a record and the pipeline says `onError: 'fail'`. */
export class RecordFailedError extends SluiceError {
  constructor(stage: string, operator: string, origin: { topic: string; partition: number; offset: number }, cause: unknown) {
    super(
      'SLUICE_RECORD_FAILED',
      `${operator} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { stage, topic: origin.topic, partition: origin.partition, offset: origin.offset },
      'fix the function or the record; with onError: "dead-letter" the record would go to the dead-letter topic instead',
      { cause },
    );
  }
}
