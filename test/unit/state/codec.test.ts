/**
 * The byte format of state entries (framework/state/codec.ts): what goes in comes out, entry for
 * entry, and bytes it did not write are refused with SLUICE_STATE_CORRUPT instead of being read as
 * some state.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeEntries, encodeEntries, StateCodecError, type StateEntry } from '../../../framework/state/codec.js';
import type { KeyWindowsState } from '../../../framework/time/window-operator.js';
import { windowStateName } from '../../../framework/topology/names.js';
import { CAMPAIGNS } from '../../../functions/ysb/campaigns.js';

function entry(key: string | Buffer, name: string, value: string | Buffer | undefined, expiresAt?: number): StateEntry {
  return {
    key: typeof key === 'string' ? Buffer.from(key) : key,
    name,
    value: value === undefined ? undefined : { bytes: typeof value === 'string' ? Buffer.from(value) : value, expiresAt },
  };
}

const roundTrip = (entries: StateEntry[]): StateEntry[] => decodeEntries(encodeEntries(entries));

/** What decoding `data` throws (the test fails if it does not throw). */
function decodeError(data: Buffer): unknown {
  try {
    decodeEntries(data);
  } catch (error) {
    return error;
  }
  throw new Error(`decoding ${data.toString('hex')} did not throw`);
}

describe('round trip', () => {
  it('gives back an empty list as an empty list', () => {
    expect(roundTrip([])).toEqual([]);
  });

  it('gives back values, deletions and expiries, in order', () => {
    const entries = [entry('a', 'total', '1'), entry('b', 'total', undefined), entry('c', 'seen', 'x', 1_700_000_060_000), entry('a', 'seen', undefined)];
    expect(roundTrip(entries)).toEqual([
      { key: Buffer.from('a'), name: 'total', value: { bytes: Buffer.from('1'), expiresAt: undefined } },
      { key: Buffer.from('b'), name: 'total', value: undefined },
      { key: Buffer.from('c'), name: 'seen', value: { bytes: Buffer.from('x'), expiresAt: 1_700_000_060_000 } },
      { key: Buffer.from('a'), name: 'seen', value: undefined },
    ]);
  });

  it('keeps an empty value present, distinct from a deletion', () => {
    expect(roundTrip([entry('k', 'v', Buffer.alloc(0)), entry('k', 'w', undefined)])).toEqual([
      { key: Buffer.from('k'), name: 'v', value: { bytes: Buffer.alloc(0), expiresAt: undefined } },
      { key: Buffer.from('k'), name: 'w', value: undefined },
    ]);
  });

  it('keeps binary keys and values byte for byte (zero bytes, invalid UTF-8, an empty key)', () => {
    const key = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x00]);
    const value = Buffer.from([0xc3, 0x28, 0x00, 0xa0]);
    const out = roundTrip([entry(key, 'bin', value), entry(Buffer.alloc(0), 'bin', 'empty key')]);
    expect(out).toEqual([entry(key, 'bin', value), entry(Buffer.alloc(0), 'bin', 'empty key')]);
    expect(out[0]!.key.equals(key)).toBe(true);
    expect(out[0]!.value!.bytes.equals(value)).toBe(true);
  });

  it('keeps names that are not ASCII, and a name used by many entries', () => {
    const entries = Array.from({ length: 300 }, (_, i) => entry(`k${i}`, i % 2 === 0 ? 'zählung' : 'ø-sum', String(i)));
    expect(roundTrip(entries)).toEqual(entries);
  });

  it('keeps expiries beyond 32 bits up to the largest safe integer', () => {
    const entries = [entry('a', 'n', '1', 2 ** 32 + 1), entry('b', 'n', '2', Number.MAX_SAFE_INTEGER), entry('c', 'n', '3', 0)];
    expect(roundTrip(entries)).toEqual(entries);
  });

  it('writes a repeated name once: 1,000 entries of one long name take less than the name 1,000 times', () => {
    const name = 'a-state-name-of-forty-characters-long-xx';
    const encoded = encodeEntries(Array.from({ length: 1_000 }, (_, i) => entry(`k${i}`, name, undefined)));
    const raw = inflateRawSync(encoded);
    // Per entry: key (1 length byte + 2–4 bytes), name index (1), flags (1); the name once in the table.
    expect(raw.length).toBeLessThan(1_000 * 7 + name.length + 10);
  });

  it('accepts any iterable (a generator), not only arrays', () => {
    function* gen(): Generator<StateEntry> {
      yield entry('a', 'n', '1');
      yield entry('b', 'n', undefined);
    }
    expect(decodeEntries(encodeEntries(gen()))).toEqual([entry('a', 'n', '1'), entry('b', 'n', undefined)]);
  });
});

describe('size', () => {
  it('encodes the window state of a YSB task (25 campaigns) in under 1 KB, under a fifth of the same entries as JSON', () => {
    // A YSB counts task (100 campaigns over 4 partitions) holds 25 campaign keys, each with one
    // open 10 s count window: what every batch of that task changes and every snapshot holds.
    const start = 1_700_000_000_000;
    const entries = CAMPAIGNS.slice(0, 25).map((c, i) => {
      const state: KeyWindowsState = { windows: [{ start, end: start + 10_000, acc: 40 + i, count: 40 + i, sinceFiring: 40 + i, fired: false, earlyTimer: null }] };
      return entry(c.campaign_id, windowStateName(3), JSON.stringify(state));
    });
    const encoded = encodeEntries(entries);
    const asJson = Buffer.byteLength(JSON.stringify(entries.map((e) => ({ key: e.key.toString('utf8'), name: e.name, value: JSON.parse(e.value!.bytes.toString('utf8')) as unknown }))));
    // Measured: 880 bytes encoded, 5,001 bytes as JSON (one DynamoDB write unit instead of five).
    expect(asJson).toBe(5_001);
    expect(encoded.length).toBeLessThanOrEqual(1_024);
    expect(encoded.length * 5).toBeLessThan(asJson);
    expect(decodeEntries(encoded)).toEqual(entries);
  });
});

describe('bytes it did not write', () => {
  const valid = encodeEntries([entry('k1', 'total', '42', 5), entry('k2', 'total', undefined)]);
  const body = inflateRawSync(valid);

  it('refuses bytes that are not deflated', () => {
    expect(decodeError(Buffer.from('this is not sluice state'))).toMatchObject({ name: 'StateCodecError', code: 'SLUICE_STATE_CORRUPT', message: expect.stringContaining('do not inflate') as unknown });
  });

  it('refuses a JSON document (another format of state)', () => {
    const error = decodeError(Buffer.from(JSON.stringify([{ key: 'k1', name: 'total', value: '42' }])));
    expect(error).toBeInstanceOf(StateCodecError);
    expect(error).toMatchObject({ code: 'SLUICE_STATE_CORRUPT' });
  });

  it('refuses no bytes at all', () => {
    expect(decodeError(Buffer.alloc(0))).toMatchObject({ code: 'SLUICE_STATE_CORRUPT' });
  });

  it('refuses every truncation of valid bytes', () => {
    for (let n = 0; n < valid.length; n += 1) expect(decodeError(valid.subarray(0, n)), `first ${n} bytes`).toBeInstanceOf(StateCodecError);
  });

  it('refuses every truncation of a valid body, deflated again', () => {
    for (let n = 0; n < body.length; n += 1) expect(decodeError(deflateRawSync(body.subarray(0, n))), `first ${n} bytes of the body`).toBeInstanceOf(StateCodecError);
  });

  it('refuses a format it does not know, naming it', () => {
    const other = Buffer.from(body);
    other[0] = 2;
    expect(decodeError(deflateRawSync(other))).toMatchObject({ code: 'SLUICE_STATE_CORRUPT', message: expect.stringContaining('state format 2 is not known (this version writes 1)') as unknown });
  });

  it('refuses bytes after the last entry', () => {
    expect(decodeError(deflateRawSync(Buffer.concat([body, Buffer.from([0])])))).toMatchObject({ message: expect.stringContaining('go on after the last entry') as unknown });
  });

  it('refuses an entry naming a state outside the name table', () => {
    // format 1, no names, one entry: key of 1 byte "A", name index 5.
    expect(decodeError(deflateRawSync(Buffer.from([1, 0, 1, 1, 0x41, 5, 0])))).toMatchObject({ message: expect.stringContaining('not in the name table') as unknown });
  });

  it('refuses a length running past the end', () => {
    // format 1, one name of 50 bytes, but only one byte follows.
    expect(decodeError(deflateRawSync(Buffer.from([1, 1, 50, 0x41])))).toMatchObject({ message: expect.stringContaining('runs past their end') as unknown });
  });

  it('refuses a varint longer than a safe integer', () => {
    expect(decodeError(deflateRawSync(Buffer.from([1, ...Array<number>(9).fill(0xff), 1])))).toMatchObject({ message: expect.stringContaining('varint') as unknown });
  });
});
