/**
 * The headers Sluice puts on records it writes. Provenance (`sluice-src`, `sluice-seq`,
 * `sluice-idx`) makes every output traceable to the task, commit and position that produced
 * it, so a reader can dedupe even at read_uncommitted. Dead-letter headers say where a
 * record that could not be processed came from and why. Values are UTF-8 text (numbers in
 * decimal) so any Kafka tool can read them.
 */
import { SluiceError } from '../errors.js';
import type { ErrorPlace } from '../errors.js';
import type { RecordHeader } from './record.js';

/** A Sluice header that is missing, repeated or unreadable. */
export class HeaderError extends SluiceError {
  constructor(message: string, place: ErrorPlace = {}, hint?: string) {
    super('SLUICE_HEADER', message, place, hint);
  }
}

/** Names of the provenance headers. */
export const PROVENANCE_HEADERS = { task: 'sluice-src', seq: 'sluice-seq', idx: 'sluice-idx' } as const;

/** Which task wrote a record, in which commit, at which position of that commit's output. */
export interface Provenance {
  /** Task id. */
  readonly task: string;
  /** Commit sequence number of the task. */
  readonly seq: number;
  /** Index of the record within the task's output of that commit. */
  readonly idx: number;
}

/** The provenance headers for one output record. */
export function provenanceHeaders(p: Provenance): RecordHeader[] {
  return commitProvenance(p.task, p.seq)(p.idx);
}

/**
 * The provenance headers of one commit's records, by index: the task and seq headers are made
 * once and shared by every record (header values are never changed once made).
 */
export function commitProvenance(task: string, seq: number): (idx: number) => RecordHeader[] {
  const h = PROVENANCE_HEADERS;
  const taskHeader = text(h.task, nonEmpty(h.task, task));
  const seqHeader = text(h.seq, count(h.seq, seq));
  return (idx) => [taskHeader, seqHeader, text(h.idx, count(h.idx, idx))];
}

/** A record's provenance; undefined when it has none (not written by Sluice); HeaderError when malformed. */
export function readProvenance(headers: readonly RecordHeader[], place: ErrorPlace = {}): Provenance | undefined {
  const h = PROVENANCE_HEADERS;
  const found = collect(headers, Object.values(h), place);
  if (found.size === 0) return undefined;
  const read = new Reader(found, place);
  return { task: read.text(h.task, true), seq: read.count(h.seq), idx: read.count(h.idx) };
}

/** Names of the dead-letter headers. */
export const DEAD_LETTER_HEADERS = {
  stage: 'sluice-dlq-stage',
  topic: 'sluice-dlq-topic',
  partition: 'sluice-dlq-partition',
  offset: 'sluice-dlq-offset',
  errorClass: 'sluice-dlq-error-class',
  errorMessage: 'sluice-dlq-error',
  errorCode: 'sluice-dlq-error-code',
  /** The record's own Kafka timestamp: dead-letter topics use broker append time (see managedTopicConfigs). */
  timestamp: 'sluice-dlq-timestamp',
} as const;

/** Longest error message a dead-letter header keeps, in UTF-8 bytes; longer ones are cut and end in `…`. */
export const DEAD_LETTER_MESSAGE_LIMIT = 4096;

/** Where a dead-lettered record came from and why it failed. */
export interface DeadLetter {
  readonly stage: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** The error's class name, e.g. `SerdeError`. */
  readonly errorClass: string;
  readonly errorMessage: string;
  /** The failed record's Kafka timestamp (epoch ms), which a replay restores. Absent in dead letters written before it was kept. */
  readonly timestamp?: number;
  /** The SluiceError code, when the error had one. */
  readonly errorCode?: string;
}

/** The dead-letter headers for a record that failed; the message is cut to DEAD_LETTER_MESSAGE_LIMIT bytes. */
export function deadLetterHeaders(d: DeadLetter): RecordHeader[] {
  const h = DEAD_LETTER_HEADERS;
  const headers = [
    text(h.stage, nonEmpty(h.stage, d.stage)),
    text(h.topic, nonEmpty(h.topic, d.topic)),
    text(h.partition, count(h.partition, d.partition)),
    text(h.offset, count(h.offset, d.offset)),
    text(h.errorClass, nonEmpty(h.errorClass, d.errorClass)),
    { name: h.errorMessage, value: truncateUtf8(d.errorMessage, DEAD_LETTER_MESSAGE_LIMIT) },
  ];
  if (d.errorCode !== undefined) headers.push(text(h.errorCode, nonEmpty(h.errorCode, d.errorCode)));
  if (d.timestamp !== undefined) headers.push(text(h.timestamp, count(h.timestamp, d.timestamp)));
  return headers;
}

/** A record's dead-letter information; undefined when it has none; HeaderError when malformed. */
export function readDeadLetter(headers: readonly RecordHeader[], place: ErrorPlace = {}): DeadLetter | undefined {
  const h = DEAD_LETTER_HEADERS;
  const found = collect(headers, Object.values(h), place);
  if (found.size === 0) return undefined;
  const read = new Reader(found, place);
  const dead: DeadLetter = {
    stage: read.text(h.stage, true),
    topic: read.text(h.topic, true),
    partition: read.count(h.partition),
    offset: read.count(h.offset),
    errorClass: read.text(h.errorClass, true),
    errorMessage: read.text(h.errorMessage, false),
  };
  return {
    ...dead,
    ...(found.has(h.errorCode) ? { errorCode: read.text(h.errorCode, true) } : {}),
    ...(found.has(h.timestamp) ? { timestamp: read.count(h.timestamp) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------

const DECIMAL = /^(0|[1-9]\d*)$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(name: string, value: string): RecordHeader {
  return { name, value: Buffer.from(value, 'utf8') };
}

function nonEmpty(name: string, value: string): string {
  if (typeof value !== 'string' || value === '') throw new HeaderError(`${name} needs a non-empty string, got ${JSON.stringify(value)}`, { field: name });
  return value;
}

function count(name: string, value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new HeaderError(`${name} needs a non-negative integer, got ${value}`, { field: name });
  return String(value);
}

/** The values of the wanted headers; each may appear at most once. */
function collect(headers: readonly RecordHeader[], wanted: readonly string[], place: ErrorPlace): Map<string, Buffer> {
  const found = new Map<string, Buffer>();
  for (const { name, value } of headers) {
    if (!wanted.includes(name)) continue;
    if (found.has(name)) throw new HeaderError(`header ${name} appears more than once`, { ...place, field: name }, 'Sluice writes each of its headers once; was the record copied with its headers?');
    found.set(name, value);
  }
  return found;
}

class Reader {
  constructor(
    private readonly found: ReadonlyMap<string, Buffer>,
    private readonly place: ErrorPlace,
  ) {}

  text(name: string, required: boolean): string {
    const bytes = this.found.get(name);
    if (bytes === undefined) throw new HeaderError(`header ${name} is missing`, { ...this.place, field: name }, 'Sluice writes these headers together; the record was altered after it was written');
    let value: string;
    try {
      value = utf8.decode(bytes);
    } catch {
      throw new HeaderError(`header ${name} is not valid UTF-8`, { ...this.place, field: name });
    }
    if (required && value === '') throw new HeaderError(`header ${name} is empty`, { ...this.place, field: name });
    return value;
  }

  count(name: string): number {
    const value = this.text(name, true);
    const n = Number(value);
    if (!DECIMAL.test(value) || !Number.isSafeInteger(n)) {
      throw new HeaderError(`header ${name} is not a non-negative integer: ${JSON.stringify(value)}`, { ...this.place, field: name });
    }
    return n;
  }
}

/** Cuts at a character boundary so the result is still valid UTF-8. */
function truncateUtf8(message: string, limit: number): Buffer {
  const bytes = Buffer.from(message, 'utf8');
  if (bytes.length <= limit) return bytes;
  const ellipsis = Buffer.from('…', 'utf8');
  let end = limit - ellipsis.length;
  while (end > 0 && (bytes.readUInt8(end) & 0xc0) === 0x80) end--; // 10xxxxxx continues a character
  return Buffer.concat([bytes.subarray(0, end), ellipsis]);
}
