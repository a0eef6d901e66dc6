/**
 * kafkajs's Produce requests (v3 to v7), encoded in one buffer (see fixKafkajsProduceEncoding).
 *
 * kafkajs 2.2.4 encodes every record through a chain of small `Encoder` objects: one per record,
 * one per header, one for the record's length, each starting with a zero-filled 512-byte buffer,
 * then copies them into the batch's encoder, which grows by copying. Profiled on the benchmark's
 * stateless stage, that was about a fifth of the function's CPU and much of its garbage collection
 * (a record with Sluice's three provenance headers allocates five such buffers). This encoder
 * measures the request first and writes it once into a buffer of its exact size.
 *
 * The bytes are kafkajs's own: `test/unit/kafka/produce-encoding.test.ts` compares them with
 * kafkajs's encoder on random requests. Records of a shape this does not expect (keys, values or
 * header values that are not Buffers, strings or null; a timestamp delta that is not a safe
 * integer) are encoded by kafkajs's record encoder inside the same request; compressed batches go
 * to kafkajs's request whole.
 */
import produceRequests from 'kafkajs/src/protocol/requests/produce/index.js';
import KafkajsEncoder from 'kafkajs/src/protocol/encoder.js';
import kafkajsRecord from 'kafkajs/src/protocol/recordBatch/record/v0/index.js';
import crc32C from 'kafkajs/src/protocol/recordBatch/crc32C/index.js';
import Long from 'kafkajs/src/utils/long.js';

/** Produce's API key. */
const PRODUCE = 0;
/** Record batch magic (v2). */
const MAGIC = 2;
/** Attribute bit of a transactional batch. */
const TRANSACTIONAL = 16;
/** Bytes of a record batch before its CRC-covered part: base offset, length, leader epoch, magic, CRC. */
const BATCH_HEADER = 8 + 4 + 4 + 1 + 4;
/** Bytes of the CRC-covered part before the records: attributes … record count. */
const BATCH_BODY_HEADER = 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;

type HeaderValue = Buffer | string | null;

/** A message as kafkajs's producer hands it to a Produce request. */
export interface ProduceMessage {
  readonly key?: Buffer | string | null;
  readonly value: Buffer | string | null;
  readonly headers?: Record<string, HeaderValue | HeaderValue[] | undefined>;
  readonly timestamp?: string | number | null;
}

/** What kafkajs passes to a Produce request. */
export interface ProduceArgs {
  readonly acks: number;
  readonly timeout: number;
  readonly compression?: number;
  readonly transactionalId?: string | null;
  readonly producerId?: unknown;
  readonly producerEpoch?: number;
  readonly topicData: ReadonlyArray<{
    readonly topic: string;
    readonly partitions: ReadonlyArray<{ readonly partition: number; readonly firstSequence?: number; readonly messages: readonly ProduceMessage[] }>;
  }>;
}

/** A kafkajs request definition. */
interface KafkajsRequest {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly apiName: string;
  expectResponse(): boolean;
  encode(): Promise<InstanceType<typeof KafkajsEncoder>>;
}

let installed = false;

/**
 * Replaces kafkajs's Produce request encoding (v3 to v7, uncompressed) process-wide, once. kafkajs
 * looks the request up through the Produce module's `protocol` on every send, so the replacement
 * takes effect for every producer, including those created before.
 */
export function fixKafkajsProduceEncoding(): void {
  if (installed) return;
  installed = true;
  const original = produceRequests.protocol;
  produceRequests.protocol = function produceInOneBuffer({ version }) {
    const make = original({ version });
    if (version < 3 || version > 7) return make;
    return (given: object) => {
      const args = given as ProduceArgs;
      const made = make(args);
      return args.compression ? made : { request: produceRequest(version, args), response: made.response };
    };
  };
}

/** A Produce request (v3 to v7: one layout) as kafkajs sends it. */
export function produceRequest(version: number, args: ProduceArgs): KafkajsRequest {
  return {
    apiKey: PRODUCE,
    apiVersion: version,
    apiName: 'Produce',
    expectResponse: () => args.acks !== 0,
    encode: () => Promise.resolve(asKafkajsEncoder(encodeProduce(args, Date.now()))),
  };
}

/** The request body (what kafkajs's v3 `encode` returns), with `now` for messages without a timestamp. */
export function encodeProduce(args: ProduceArgs, now: number): Buffer {
  // kafkajs writes the id unless null, and flags the batch transactional if it is not empty.
  const transactional = Boolean(args.transactionalId);
  const producerId = Long.fromValue(args.producerId ?? -1);
  const topics = args.topicData.map((t) => ({
    topic: t.topic,
    partitions: t.partitions.map((p) => planBatch(p.messages, now)),
  }));
  const txnBytes = args.transactionalId === undefined || args.transactionalId === null ? undefined : Buffer.from(args.transactionalId, 'utf8');
  let size = 2 + (txnBytes?.length ?? 0) + 2 + 4 + 4;
  for (const t of topics) {
    size += 2 + Buffer.byteLength(t.topic, 'utf8') + 4;
    for (const p of t.partitions) size += 4 + 4 + BATCH_HEADER + BATCH_BODY_HEADER + p.recordBytes;
  }
  const w = new Writer(Buffer.allocUnsafe(size));
  if (txnBytes) {
    w.int16(txnBytes.length);
    w.bytes(txnBytes);
  } else w.int16(-1);
  w.int16(args.acks);
  w.int32(args.timeout);
  w.int32(topics.length);
  for (const [ti, t] of topics.entries()) {
    w.string(t.topic);
    w.int32(t.partitions.length);
    for (const [pi, plan] of t.partitions.entries()) {
      const p = args.topicData[ti]!.partitions[pi]!;
      const batchLength = BATCH_HEADER - 12 + BATCH_BODY_HEADER + plan.recordBytes;
      w.int32(p.partition);
      w.int32(12 + batchLength);
      w.int64(Long.fromInt(0)); // base offset
      w.int32(batchLength);
      w.int32(0); // partition leader epoch
      w.int8(MAGIC);
      const crcAt = w.offset;
      w.int32(0); // CRC, below
      const bodyAt = w.offset;
      w.int16(transactional ? TRANSACTIONAL : 0);
      w.int32(p.messages.length - 1);
      w.int64(Long.fromValue(plan.firstTimestamp));
      w.int64(Long.fromValue(plan.maxTimestamp));
      w.int64(producerId);
      w.int16(args.producerEpoch ?? 0);
      w.int32(p.firstSequence ?? 0);
      w.int32(p.messages.length);
      for (const r of plan.records) writeRecord(w, r);
      w.buf.writeUInt32BE(crc32C(w.buf.subarray(bodyAt, w.offset)), crcAt);
    }
  }
  if (w.offset !== size) throw new Error(`Produce request encoded to ${w.offset} bytes, measured ${size}`);
  return w.buf;
}

/** A record measured for writing; `encoded` when kafkajs's record encoder wrote it. */
interface PlannedRecord {
  readonly bodySize: number;
  readonly offsetDelta: number;
  readonly timestampDelta: number;
  readonly key: Buffer | string | null | undefined;
  readonly value: Buffer | string | null;
  readonly headers: ReadonlyArray<readonly [string, HeaderValue | undefined]>;
  readonly encoded: Buffer | undefined;
}

/** The records of one partition's batch, measured, with the batch's timestamps as kafkajs takes them. */
function planBatch(messages: readonly ProduceMessage[], now: number): { records: PlannedRecord[]; recordBytes: number; firstTimestamp: string | number; maxTimestamp: string | number } {
  // kafkajs's choice, kept for identical bytes: the default (string) sort of the timestamps given.
  const given = messages.map((m) => m.timestamp).filter((t): t is string | number => t !== null && t !== undefined);
  const timestamps = given.length === 0 ? [now] : given.sort();
  const firstTimestamp = timestamps[0]!;
  const maxTimestamp = timestamps[timestamps.length - 1]!;
  let recordBytes = 0;
  const records = messages.map((m, i): PlannedRecord => {
    const timestampDelta = Number(m.timestamp || now) - Number(firstTimestamp);
    const headers = headerList(m.headers ?? {});
    const plain = isPlain(m.key) && isPlain(m.value) && headers.every(([, v]) => typeof v === 'string' || Buffer.isBuffer(v)) && Number.isSafeInteger(timestampDelta);
    if (!plain) {
      // kafkajs's own encoder, which also throws where kafkajs throws (a null header value).
      const encoded = kafkajsRecord({ ...m, offsetDelta: i, timestampDelta }).buffer;
      recordBytes += encoded.length;
      return { bodySize: 0, offsetDelta: i, timestampDelta, key: m.key, value: m.value, headers, encoded };
    }
    let bodySize = 1 + varLongSize(timestampDelta) + varIntSize(i) + bytesSize(m.key) + bytesSize(m.value) + varIntSize(headers.length);
    for (const [k, v] of headers) bodySize += bytesSize(k) + bytesSize(v);
    recordBytes += varIntSize(bodySize) + bodySize;
    return { bodySize, offsetDelta: i, timestampDelta, key: m.key, value: m.value, headers, encoded: undefined };
  });
  return { records, recordBytes, firstTimestamp, maxTimestamp };
}

/** kafkajs's header order: each name in the object's order, an array's values in order. */
function headerList(headers: NonNullable<ProduceMessage['headers']>): Array<readonly [string, HeaderValue | undefined]> {
  const out: Array<readonly [string, HeaderValue | undefined]> = [];
  for (const name of Object.keys(headers)) {
    const v = headers[name];
    if (Array.isArray(v)) for (const x of v) out.push([name, x]);
    else out.push([name, v]);
  }
  return out;
}

function isPlain(v: unknown): v is Buffer | string | null | undefined {
  return v === null || v === undefined || typeof v === 'string' || Buffer.isBuffer(v);
}

function writeRecord(w: Writer, r: PlannedRecord): void {
  if (r.encoded) {
    w.bytes(r.encoded);
    return;
  }
  w.varInt(r.bodySize);
  w.int8(0); // attributes
  w.varLong(r.timestampDelta);
  w.varInt(r.offsetDelta);
  w.varBytes(r.key);
  w.varBytes(r.value);
  w.varInt(r.headers.length);
  for (const [k, v] of r.headers) {
    w.varBytes(k);
    w.varBytes(v);
  }
}

// --- sizes and writing -------------------------------------------------------------------------

function zigZag32(v: number): number {
  return ((v << 1) ^ (v >> 31)) >>> 0;
}

function uVarIntSize(u: number): number {
  return u < 0x80 ? 1 : u < 0x4000 ? 2 : u < 0x200000 ? 3 : u < 0x10000000 ? 4 : 5;
}

function varIntSize(v: number): number {
  return uVarIntSize(zigZag32(v));
}

/** Zigzag of a safe integer as 64 bits. */
function zigZag64(v: number): bigint {
  const b = BigInt(v);
  return b >= 0n ? b << 1n : (-b << 1n) - 1n;
}

function varLongSize(v: number): number {
  if (v >= -0x40000000 && v < 0x40000000) return varIntSize(v);
  let z = zigZag64(v);
  let n = 1;
  while (z >= 0x80n) {
    z >>= 7n;
    n += 1;
  }
  return n;
}

/** A varint-length-prefixed byte string (null or undefined: length -1). */
function bytesSize(v: Buffer | string | null | undefined): number {
  if (v === null || v === undefined) return 1;
  const n = typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length;
  return varIntSize(n) + n;
}

class Writer {
  offset = 0;

  constructor(readonly buf: Buffer) {}

  int8(v: number): void {
    this.offset = this.buf.writeInt8(v, this.offset);
  }

  int16(v: number): void {
    this.offset = this.buf.writeInt16BE(v, this.offset);
  }

  int32(v: number): void {
    this.offset = this.buf.writeInt32BE(v, this.offset);
  }

  int64(v: { getHighBits(): number; getLowBits(): number }): void {
    this.buf.writeInt32BE(v.getHighBits(), this.offset);
    this.buf.writeInt32BE(v.getLowBits(), this.offset + 4);
    this.offset += 8;
  }

  bytes(b: Buffer): void {
    this.offset += b.copy(this.buf, this.offset);
  }

  string(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.int16(n);
    this.offset += this.buf.write(s, this.offset, n, 'utf8');
  }

  uVarInt(u: number): void {
    while (u > 0x7f) {
      this.buf[this.offset++] = (u & 0x7f) | 0x80;
      u >>>= 7;
    }
    this.buf[this.offset++] = u;
  }

  varInt(v: number): void {
    this.uVarInt(zigZag32(v));
  }

  varLong(v: number): void {
    if (v >= -0x40000000 && v < 0x40000000) {
      this.varInt(v);
      return;
    }
    let z = zigZag64(v);
    while (z >= 0x80n) {
      this.buf[this.offset++] = Number(z & 0x7fn) | 0x80;
      z >>= 7n;
    }
    this.buf[this.offset++] = Number(z);
  }

  varBytes(v: Buffer | string | null | undefined): void {
    if (v === null || v === undefined) {
      this.varInt(-1);
      return;
    }
    if (typeof v === 'string') {
      const n = Buffer.byteLength(v, 'utf8');
      this.varInt(n);
      this.offset += this.buf.write(v, this.offset, n, 'utf8');
      return;
    }
    this.varInt(v.length);
    this.bytes(v);
  }
}

/** A kafkajs Encoder holding `buf` (kafkajs copies a request's payload out of one). */
function asKafkajsEncoder(buf: Buffer): InstanceType<typeof KafkajsEncoder> {
  const encoder = new KafkajsEncoder(0);
  encoder.buf = buf;
  encoder.offset = buf.length;
  return encoder;
}
