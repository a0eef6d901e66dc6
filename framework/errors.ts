/**
 * Errors a user can act on: every Sluice error has a stable code, names the place it
 * happened (stage, partition, offset, field when known) and says what to do about it.
 */

/**
 * Where an error happened; every field is optional because not every error has all of them, and
 * may be undefined where the caller does not know it (the message leaves it out).
 */
export interface ErrorPlace {
  readonly stage?: string | undefined;
  readonly topic?: string | undefined;
  readonly partition?: number | undefined;
  readonly offset?: number | undefined;
  readonly field?: string | undefined;
}

/** Base class of every error Sluice throws on purpose. */
export class SluiceError extends Error {
  /** Stable machine-readable code, e.g. `SLUICE_CONFIG`. */
  readonly code: string;
  /** Where it happened. */
  readonly place: ErrorPlace;
  /** What the user can do about it. */
  readonly hint: string | undefined;

  constructor(code: string, message: string, place: ErrorPlace = {}, hint?: string, options?: { cause?: unknown }) {
    super(formatMessage(message, place, hint), options);
    this.name = new.target.name;
    this.code = code;
    this.place = place;
    this.hint = hint;
  }
}

/** Bad pipeline or deployment configuration, found at build/deploy time. */
export class ConfigError extends SluiceError {
  constructor(message: string, place: ErrorPlace = {}, hint?: string) {
    super('SLUICE_CONFIG', message, place, hint);
  }
}

/** A Lambda event that does not have the shape Lambda's Kafka trigger sends. */
export class EventShapeError extends SluiceError {
  constructor(message: string, place: ErrorPlace = {}, hint?: string) {
    super('SLUICE_EVENT_SHAPE', message, place, hint);
  }
}

/** Local infrastructure (Kafka, DynamoDB Local, Java, Maven) could not be used. */
export class InfraError extends SluiceError {
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super('SLUICE_INFRA', message, {}, hint, options);
  }
}

function formatMessage(message: string, place: ErrorPlace, hint: string | undefined): string {
  const where = Object.entries(place)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  return `${message}${where ? ` [${where}]` : ''}${hint ? ` — ${hint}` : ''}`;
}
