/**
 * How a record names its writer schema on the wire. Confluent: magic byte 0, then the schema
 * id as a 4-byte big-endian integer, then the payload. AWS Glue: header version byte 3, a
 * compression byte (0 none, 5 zlib), the 16-byte schema version UUID, then the payload.
 * Pure functions over bytes; a malformed frame is a FramingError the serde turns into a
 * dead letter with the reason.
 */
import { inflateSync } from 'node:zlib';

/** A record's writer schema id and its payload. */
export interface Framed {
  readonly id: string;
  readonly payload: Buffer;
}

/** Why bytes are not a frame. */
export class FramingError extends Error {}

/** Reads and writes one wire format. */
export interface Framing {
  readonly name: 'confluent' | 'glue';
  /** Splits bytes into the schema id and payload; throws FramingError. */
  unframe(bytes: Buffer): Framed;
  /** The bytes written before each payload for schema `id` (computed once per serde). */
  header(id: string): Buffer;
}

const CONFLUENT_MAGIC = 0;

/** Confluent's wire format (also Apicurio's and Karapace's `confluent` mode). */
export const confluentFraming: Framing = {
  name: 'confluent',
  unframe(bytes) {
    if (bytes.length === 0) throw new FramingError('empty value: no magic byte');
    if (bytes[0] !== CONFLUENT_MAGIC) {
      throw new FramingError(`first byte is 0x${hex(bytes[0]!)}, not the magic byte 0x00 of the Confluent wire format`);
    }
    if (bytes.length < 5) throw new FramingError(`${bytes.length} bytes: too short for the magic byte and a 4-byte schema id`);
    return { id: String(bytes.readInt32BE(1)), payload: bytes.subarray(5) };
  },
  header(id) {
    const n = Number(id);
    if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new Error(`schema id ${id} is not a Confluent schema id`);
    const out = Buffer.alloc(5);
    out.writeInt32BE(n, 1);
    return out;
  },
};

const GLUE_HEADER_VERSION = 3;
const GLUE_COMPRESSION_NONE = 0;
const GLUE_COMPRESSION_ZLIB = 5;
const GLUE_HEADER_BYTES = 18;

/** AWS Glue Schema Registry's wire format. */
export const glueFraming: Framing = {
  name: 'glue',
  unframe(bytes) {
    if (bytes.length === 0) throw new FramingError('empty value: no header version byte');
    if (bytes[0] !== GLUE_HEADER_VERSION) {
      throw new FramingError(`first byte is 0x${hex(bytes[0]!)}, not the header version 0x03 of the AWS Glue Schema Registry format`);
    }
    if (bytes.length < GLUE_HEADER_BYTES) throw new FramingError(`${bytes.length} bytes: too short for a Glue header (18 bytes)`);
    const compression = bytes[1];
    const id = uuidOf(bytes.subarray(2, GLUE_HEADER_BYTES));
    const body = bytes.subarray(GLUE_HEADER_BYTES);
    if (compression === GLUE_COMPRESSION_NONE) return { id, payload: body };
    if (compression === GLUE_COMPRESSION_ZLIB) {
      try {
        return { id, payload: inflateSync(body) };
      } catch (cause) {
        throw new FramingError(`zlib-compressed payload does not inflate: ${cause instanceof Error ? cause.message : String(cause)}`);
      }
    }
    throw new FramingError(`compression byte is 0x${hex(compression!)}, neither 0x00 (none) nor 0x05 (zlib)`);
  },
  header(id) {
    const uuid = id.replace(/-/g, '');
    if (!/^[0-9a-f]{32}$/i.test(uuid)) throw new Error(`schema version id ${id} is not a UUID`);
    return Buffer.concat([Buffer.from([GLUE_HEADER_VERSION, GLUE_COMPRESSION_NONE]), Buffer.from(uuid, 'hex')]);
  },
};

function uuidOf(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
