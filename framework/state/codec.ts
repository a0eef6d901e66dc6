/**
 * The byte format of a task's state entries, for batch records (a batch's changes) and
 * snapshots (a task's whole state): a name table, then per entry its key bytes, name, value
 * bytes (or a deletion) and expiry, all length-prefixed with varints, deflated. Pure.
 *
 * Compact because DynamoDB bills writes per started KB: the window state of a YSB task's 25
 * campaigns is about 3.7 KB as JSON entries and about 0.6 KB here.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { SluiceError } from '../errors.js';
import type { StateValue } from '../commit/ports.js';

/** One entry: a state name of one key, its value, or `undefined` for a deletion. */
export interface StateEntry {
  readonly key: Buffer;
  readonly name: string;
  readonly value: StateValue | undefined;
}

/** Stored state bytes that do not decode (a bug, or an item written by something else). */
export class StateCodecError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_STATE_CORRUPT', message, {}, 'the task state in DynamoDB is not in the format this version of Sluice writes; restore a savepoint or reset the stage');
  }
}

const FORMAT = 1;
const DELETED = 1;
const EXPIRES = 2;

/** Encodes entries (deflated). */
export function encodeEntries(entries: Iterable<StateEntry>): Buffer {
  const names = new Map<string, number>();
  const body = new Writer();
  let count = 0;
  for (const e of entries) {
    let index = names.get(e.name);
    if (index === undefined) names.set(e.name, (index = names.size));
    body.bytes(e.key);
    body.varint(index);
    const flags = (e.value === undefined ? DELETED : 0) | (e.value?.expiresAt !== undefined ? EXPIRES : 0);
    body.byte(flags);
    if (e.value !== undefined) {
      body.bytes(e.value.bytes);
      if (e.value.expiresAt !== undefined) body.varint(e.value.expiresAt);
    }
    count += 1;
  }
  const head = new Writer();
  head.byte(FORMAT);
  head.varint(names.size);
  for (const name of names.keys()) head.bytes(Buffer.from(name, 'utf8'));
  head.varint(count);
  return deflateRawSync(Buffer.concat([head.done(), body.done()]));
}

/** Decodes what encodeEntries wrote. */
export function decodeEntries(data: Buffer): StateEntry[] {
  let raw: Buffer;
  try {
    raw = inflateRawSync(data);
  } catch (error) {
    throw new StateCodecError(`state bytes do not inflate: ${error instanceof Error ? error.message : String(error)}`);
  }
  const r = new Reader(raw);
  const format = r.byte();
  if (format !== FORMAT) throw new StateCodecError(`state format ${format} is not known (this version writes ${FORMAT})`);
  const names: string[] = [];
  for (let i = r.varint(); i > 0; i -= 1) names.push(r.bytes().toString('utf8'));
  const out: StateEntry[] = [];
  for (let i = r.varint(); i > 0; i -= 1) {
    const key = r.bytes();
    const name = names[r.varint()];
    if (name === undefined) throw new StateCodecError('a state entry names a state that is not in the name table');
    const flags = r.byte();
    if (flags & DELETED) {
      out.push({ key, name, value: undefined });
      continue;
    }
    const bytes = r.bytes();
    const expiresAt = flags & EXPIRES ? r.varint() : undefined;
    out.push({ key, name, value: { bytes, expiresAt } });
  }
  if (!r.atEnd()) throw new StateCodecError('state bytes go on after the last entry');
  return out;
}

/** Appends bytes; varints are unsigned LEB128 over safe integers (arithmetic, not 32-bit shifts). */
class Writer {
  private readonly parts: Buffer[] = [];
  private current: number[] = [];

  byte(b: number): void {
    this.current.push(b);
  }

  varint(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint ${n} is not a non-negative safe integer`);
    let v = n;
    while (v >= 0x80) {
      this.current.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.current.push(v);
  }

  bytes(b: Buffer): void {
    this.varint(b.length);
    this.flush();
    this.parts.push(b);
  }

  done(): Buffer {
    this.flush();
    return Buffer.concat(this.parts);
  }

  private flush(): void {
    if (this.current.length > 0) this.parts.push(Buffer.from(this.current));
    this.current = [];
  }
}

class Reader {
  private at = 0;

  constructor(private readonly data: Buffer) {}

  byte(): number {
    if (this.at >= this.data.length) throw new StateCodecError('state bytes end in the middle of an entry');
    return this.data[this.at++]!;
  }

  varint(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new StateCodecError('a varint in the state bytes is too long');
    }
  }

  bytes(): Buffer {
    const length = this.varint();
    if (this.at + length > this.data.length) throw new StateCodecError('a length in the state bytes runs past their end');
    const out = this.data.subarray(this.at, this.at + length);
    this.at += length;
    return Buffer.from(out);
  }

  atEnd(): boolean {
    return this.at === this.data.length;
  }
}
