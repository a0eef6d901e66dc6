/**
 * Turns the event Lambda's Kafka trigger sends into PartitionBatches, and back.
 *
 * decodeEvent is the framework's only door from Lambda: it checks every field it reads, so a
 * bad event fails here with the exact path (`records["orders-3"][2].offset`) instead of as a
 * wrong offset deep in the commit protocol. Fields it does not read (ones AWS may add) are
 * ignored. encodeEvent builds the event exactly as Lambda does, for the local trigger emulator
 * and tests; `decodeEvent(encodeEvent(e))` equals `e` for any decoded `e`.
 */
import { EventShapeError } from '../errors.js';
import type { KafkaRecord, PartitionBatch, RecordHeader } from '../record/record.js';
import type { SchemaMetadata } from '../serde/serde.js';
import { MSK_EVENT_SOURCE, SELF_MANAGED_EVENT_SOURCE } from './event.js';
import type { LambdaKafkaEvent, LambdaKafkaHeader, LambdaKafkaRecord } from './event.js';

/** A checked Lambda Kafka event: one batch per partition, sorted by topic then partition. */
export type DecodedEvent =
  | {
      readonly source: 'msk';
      readonly eventSourceArn: string;
      readonly bootstrapServers: readonly string[];
      readonly batches: readonly PartitionBatch[];
    }
  | {
      readonly source: 'self-managed';
      readonly eventSourceArn?: undefined;
      readonly bootstrapServers: readonly string[];
      readonly batches: readonly PartitionBatch[];
    };

/** The `"<topic>-<partition>"` key Lambda groups records by (also used in batchItemFailures). */
export function recordGroupKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/** Checks a Lambda Kafka event and returns its records as per-partition batches; throws EventShapeError. */
export function decodeEvent(event: unknown): DecodedEvent {
  if (!isPlainObject(event)) {
    fail('event', `expected an object, got ${describe(event)}`, {}, 'a stage handler must be invoked by a Kafka trigger');
  }
  const source = event.eventSource;
  if (source !== MSK_EVENT_SOURCE && source !== SELF_MANAGED_EVENT_SOURCE) {
    fail(
      'eventSource',
      `expected "${MSK_EVENT_SOURCE}" or "${SELF_MANAGED_EVENT_SOURCE}", got ${describe(source)}`,
      {},
      'Sluice stages only run behind an msk or kafka (self-managed) event-source mapping',
    );
  }
  const arn = event.eventSourceArn;
  if (source === MSK_EVENT_SOURCE && (typeof arn !== 'string' || arn === '')) {
    fail('eventSourceArn', `expected the MSK cluster ARN, got ${describe(arn)}`, {});
  }
  const bootstrapServers = decodeBootstrapServers(event.bootstrapServers);
  const batches = decodeRecords(event.records);
  return source === MSK_EVENT_SOURCE
    ? { source: 'msk', eventSourceArn: String(arn), bootstrapServers, batches }
    : { source: 'self-managed', bootstrapServers, batches };
}

/** Builds the event Lambda would send for these batches (empty batches are left out, as Lambda does). */
export function encodeEvent(decoded: DecodedEvent): LambdaKafkaEvent {
  const records: Record<string, LambdaKafkaRecord[]> = {};
  decoded.batches.forEach((batch, b) => {
    if (batch.records.length === 0) return;
    const group = recordGroupKey(batch.topic, batch.partition);
    if (Object.hasOwn(records, group)) {
      fail(`batches[${b}]`, `a second batch for ${group}`, { topic: batch.topic, partition: batch.partition }, 'merge the records of one partition into one batch');
    }
    records[group] = batch.records.map((record, r) => {
      if (record.topic !== batch.topic || record.partition !== batch.partition) {
        fail(`batches[${b}].records[${r}]`, `record of ${recordGroupKey(record.topic, record.partition)} in the batch of ${group}`, {
          topic: batch.topic,
          partition: batch.partition,
          offset: record.offset,
        });
      }
      return encodeRecord(record);
    });
  });
  const bootstrapServers = decoded.bootstrapServers.join(',');
  return decoded.source === 'msk'
    ? { eventSource: MSK_EVENT_SOURCE, eventSourceArn: decoded.eventSourceArn, bootstrapServers, records }
    : { eventSource: SELF_MANAGED_EVENT_SOURCE, bootstrapServers, records };
}

// ---------------------------------------------------------------------------------------------
// decoding

interface Place {
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: number;
}

const DEFAULT_HINT = "this is not the event Lambda's Kafka trigger sends; build hand-made events with encodeEvent()";

function fail(field: string, message: string, at: Place, hint: string = DEFAULT_HINT): never {
  throw new EventShapeError(message, { topic: at.topic, partition: at.partition, offset: at.offset, field }, hint);
}

function decodeBootstrapServers(raw: unknown): string[] {
  if (typeof raw !== 'string') fail('bootstrapServers', `expected a comma-separated string, got ${describe(raw)}`, {});
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function decodeRecords(raw: unknown): PartitionBatch[] {
  if (!isPlainObject(raw)) fail('records', `expected an object keyed "<topic>-<partition>", got ${describe(raw)}`, {});
  const batches: PartitionBatch[] = [];
  for (const [group, list] of Object.entries(raw)) {
    const path = `records[${JSON.stringify(group)}]`;
    const tp = parseGroupKey(group);
    if (tp === undefined) {
      fail(path, `group key ${JSON.stringify(group)} is not "<topic>-<partition>"`, {});
    }
    if (!Array.isArray(list)) fail(path, `expected an array of records, got ${describe(list)}`, tp);
    if (list.length === 0) continue; // Lambda never sends one; there is nothing to process.
    const records: KafkaRecord[] = [];
    let previous: number | undefined;
    list.forEach((item: unknown, i) => {
      const record = decodeRecord(item, () => `${path}[${i}]`, tp);
      if (previous !== undefined && record.offset <= previous) {
        fail(
          `${path}[${i}].offset`,
          `offset ${record.offset} does not follow the previous record's offset ${previous}`,
          tp,
          'Lambda delivers each partition in offset order; records must be sorted and unique',
        );
      }
      previous = record.offset;
      records.push(record);
    });
    batches.push({ topic: tp.topic, partition: tp.partition, records });
  }
  return batches.sort(compareBatches);
}

/** Splits at the last dash: a topic may contain dashes, a partition number never does. */
function parseGroupKey(group: string): { topic: string; partition: number } | undefined {
  const dash = group.lastIndexOf('-');
  const digits = group.slice(dash + 1);
  if (dash < 1 || !/^(0|[1-9]\d*)$/.test(digits)) return undefined;
  const partition = Number(digits);
  return Number.isSafeInteger(partition) ? { topic: group.slice(0, dash), partition } : undefined;
}

function compareBatches(a: PartitionBatch, b: PartitionBatch): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  return a.partition - b.partition;
}

/** Where a value sits in the event; made only for an error message (a record has a dozen). */
type Path = () => string;

function decodeRecord(raw: unknown, path: Path, group: { topic: string; partition: number }): KafkaRecord {
  if (!isPlainObject(raw)) fail(path(), `expected a record object, got ${describe(raw)}`, group);
  // Offset first, so every later error can name it.
  const offset = readCount(raw.offset, path, '.offset', group);
  const at: Place = { ...group, offset };
  const mismatch = `Lambda groups records by "<topic>-<partition>"; a record must sit under its own partition's key`;
  if (typeof raw.topic !== 'string') fail(`${path()}.topic`, `expected a string, got ${describe(raw.topic)}`, at);
  if (raw.topic !== group.topic) {
    fail(`${path()}.topic`, `topic ${JSON.stringify(raw.topic)} does not match the group key's topic ${JSON.stringify(group.topic)}`, at, mismatch);
  }
  const partition = readCount(raw.partition, path, '.partition', at);
  if (partition !== group.partition) {
    fail(`${path()}.partition`, `partition ${partition} does not match the group key's partition ${group.partition}`, at, mismatch);
  }
  const timestamp = readCount(raw.timestamp, path, '.timestamp', at);
  const timestampType = raw.timestampType;
  if (timestampType !== 'CREATE_TIME' && timestampType !== 'LOG_APPEND_TIME') {
    fail(`${path()}.timestampType`, `expected "CREATE_TIME" or "LOG_APPEND_TIME", got ${describe(timestampType)}`, at);
  }
  const key = readBase64(raw.key, path, '.key', at);
  const value = readBase64(raw.value, path, '.value', at);
  const headers = readHeaders(raw.headers, path, '.headers', at);
  const keySchemaMetadata = readSchemaMetadata(raw.keySchemaMetadata, path, '.keySchemaMetadata', at);
  const valueSchemaMetadata = readSchemaMetadata(raw.valueSchemaMetadata, path, '.valueSchemaMetadata', at);
  return {
    topic: group.topic,
    partition,
    offset,
    timestamp,
    timestampType,
    key,
    value,
    headers,
    ...(keySchemaMetadata ? { keySchemaMetadata } : {}),
    ...(valueSchemaMetadata ? { valueSchemaMetadata } : {}),
  };
}

/** A non-negative safe integer, as a JSON number or a decimal string (both are seen in the wild). */
function readCount(raw: unknown, record: Path, name: string, at: Place): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    fail(`${record()}${name}`, `expected a non-negative integer (number or numeric string), got ${describe(raw)}`, at);
  }
  return n;
}

/**
 * Standard padded base64, as Lambda writes it. Buffer.from silently skips garbage and stops at
 * padding, so the text must be whole quanta that decode to exactly the bytes its length promises
 * (any other character, or padding in the middle, decodes to fewer); Buffer.from also takes the
 * URL-safe alphabet, which Lambda never writes, so `-` and `_` are refused. Unlike a re-encode
 * of the bytes this allocates nothing; non-zero padding bits (which no encoder writes) are not
 * checked.
 */
function readBase64(raw: unknown, record: Path, name: string, at: Place): Buffer | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'string') fail(`${record()}${name}`, `expected a base64 string, got ${describe(raw)}`, at);
  const bytes = Buffer.from(raw, 'base64');
  const padding = raw.endsWith('==') ? 2 : raw.endsWith('=') ? 1 : 0;
  if (raw.length % 4 !== 0 || bytes.length !== (raw.length / 4) * 3 - padding || raw.includes('-') || raw.includes('_')) {
    fail(`${record()}${name}`, `not valid base64: ${describe(raw)}`, at);
  }
  return bytes;
}

function readHeaders(raw: unknown, record: Path, field: string, at: Place): RecordHeader[] {
  // Events from before Lambda passed headers had none; absence means no headers.
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) fail(`${record()}${field}`, `expected an array of {name: bytes} objects, got ${describe(raw)}`, at);
  return raw.map((entry: unknown, j): RecordHeader => {
    if (!isPlainObject(entry)) fail(`${record()}${field}[${j}]`, `expected a {name: bytes} object, got ${describe(entry)}`, at);
    const names = Object.keys(entry);
    const name = names[0];
    if (name === undefined || names.length !== 1) {
      fail(`${record()}${field}[${j}]`, `expected exactly one header name per entry, got ${names.length}`, at);
    }
    const bytes = entry[name];
    if (!Array.isArray(bytes)) fail(`${record()}${field}[${j}][${JSON.stringify(name)}]`, `expected an array of bytes, got ${describe(bytes)}`, at);
    const value = Buffer.allocUnsafe(bytes.length);
    for (let m = 0; m < bytes.length; m++) {
      const b: unknown = bytes[m];
      // Java bytes are signed (-128..127); accept unsigned too, as hand-written events use it.
      if (typeof b !== 'number' || !Number.isInteger(b) || b < -128 || b > 255) {
        fail(`${record()}${field}[${j}][${JSON.stringify(name)}][${m}]`, `expected a byte (-128..255), got ${describe(b)}`, at);
      }
      value[m] = b & 0xff;
    }
    return { name, value };
  });
}

/**
 * Schema metadata the trigger adds when its own schema registry decoded the record; kept on the
 * record so schema serdes know the writer schema id (the trigger removed the framing).
 */
function readSchemaMetadata(raw: unknown, record: Path, name: string, at: Place): SchemaMetadata | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isPlainObject(raw)) fail(`${record()}${name}`, `expected an object, got ${describe(raw)}`, at);
  for (const field of ['dataFormat', 'schemaId'] as const) {
    const v = raw[field];
    if (typeof v !== 'string') fail(`${record()}${name}.${field}`, `expected a string, got ${describe(v)}`, at);
  }
  return { dataFormat: raw.dataFormat as string, schemaId: raw.schemaId as string };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object' && v !== null) return 'an object';
  const text = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

// ---------------------------------------------------------------------------------------------
// encoding

function encodeRecord(record: KafkaRecord): LambdaKafkaRecord {
  // Lambda leaves `key` and `value` out when they are null.
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    timestampType: record.timestampType,
    ...(record.key === null ? {} : { key: record.key.toString('base64') }),
    ...(record.value === null ? {} : { value: record.value.toString('base64') }),
    headers: record.headers.map(encodeHeader),
    ...(record.keySchemaMetadata ? { keySchemaMetadata: record.keySchemaMetadata } : {}),
    ...(record.valueSchemaMetadata ? { valueSchemaMetadata: record.valueSchemaMetadata } : {}),
  };
}

/** Lambda serialises Java `byte[]`: signed numbers. */
function encodeHeader(header: RecordHeader): LambdaKafkaHeader {
  const bytes = new Array<number>(header.value.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (header.value[i]! << 24) >> 24;
  return { [header.name]: bytes };
}
