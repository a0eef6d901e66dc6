/** The serdes without a format: UTF-8 strings and raw bytes. */
import { decodeUtf8, tombstone } from './serde.js';
import type { Serde, SerdeContext } from './serde.js';

/** Options of string() and bytes(). */
export interface PrimitiveOptions {
  /** Read tombstones as null instead of failing; serialize(null) then writes a tombstone. */
  readonly nullable?: boolean;
}

/** UTF-8 text; invalid UTF-8 is a SerdeError, not replacement characters. */
export function string(opts?: { readonly nullable?: false }): Serde<string>;
/** UTF-8 text, with tombstones read and written as null. */
export function string(opts: { readonly nullable: true }): Serde<string | null>;
export function string(opts: PrimitiveOptions = {}): Serde<string | null> {
  const nullable = opts.nullable ?? false;
  return {
    name: 'string',
    serialize: (value: string | null) => (value === null ? null : Buffer.from(value, 'utf8')),
    deserialize: (bytes: Buffer | null, ctx?: SerdeContext) =>
      bytes === null ? tombstone<string>('string', nullable, ctx) : decodeUtf8('string', bytes, ctx),
  };
}

/** The record bytes as they are. */
export function bytes(opts?: { readonly nullable?: false }): Serde<Buffer>;
/** The record bytes as they are, with tombstones read and written as null. */
export function bytes(opts: { readonly nullable: true }): Serde<Buffer | null>;
export function bytes(opts: PrimitiveOptions = {}): Serde<Buffer | null> {
  const nullable = opts.nullable ?? false;
  return {
    name: 'bytes',
    serialize: (value: Buffer | null) => value,
    deserialize: (data: Buffer | null, ctx?: SerdeContext) => (data === null ? tombstone<Buffer>('bytes', nullable, ctx) : data),
  };
}
