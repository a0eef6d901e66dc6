import { inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { zip } from '../../../framework/deploy/zip.js';

/** Reads the entries of a zip back through its central directory. */
function unzip(archive: Buffer): Array<{ path: string; data: Buffer }> {
  const end = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = archive.readUInt16LE(end + 10);
  let at = archive.readUInt32LE(end + 16);
  const out: Array<{ path: string; data: Buffer }> = [];
  for (let i = 0; i < count; i += 1) {
    const size = archive.readUInt32LE(at + 20);
    const nameLength = archive.readUInt16LE(at + 28);
    const local = archive.readUInt32LE(at + 42);
    const path = archive.toString('utf8', at + 46, at + 46 + nameLength);
    const dataAt = local + 30 + archive.readUInt16LE(local + 26) + archive.readUInt16LE(local + 28);
    out.push({ path, data: inflateRawSync(archive.subarray(dataAt, dataAt + size)) });
    at += 46 + nameLength + archive.readUInt16LE(at + 30) + archive.readUInt16LE(at + 32);
  }
  return out;
}

describe('zip', () => {
  const entries = [
    { path: 'functions/app/stage.mjs', data: Buffer.from('export const handler = async () => 1;\n'.repeat(50)) },
    { path: 'functions/app/stage.mjs.map', data: Buffer.from('{}') },
  ];

  it('stores the files at their paths, deflated', () => {
    const archive = zip(entries);
    expect(unzip(archive)).toEqual(entries);
    expect(archive.length).toBeLessThan(entries[0]!.data.length);
  });

  it('makes the same bytes from the same files (no timestamps)', () => {
    expect(zip(entries).equals(zip(entries))).toBe(true);
  });
});
