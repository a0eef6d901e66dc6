import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { confluentFraming, glueFraming } from '../../../framework/serde/index.js';

const UUID = '0f8e2b1c-3d4e-4f50-8a6b-7c8d9e0f1a2b';

describe('Confluent framing', () => {
  it('writes magic byte 0 and the id as a big-endian int32', () => {
    expect([...confluentFraming.header('258')]).toEqual([0, 0, 0, 1, 2]);
  });
  it('reads the id and payload back', () => {
    expect(confluentFraming.unframe(Buffer.from([0, 0, 0, 1, 2, 9, 9]))).toEqual({ id: '258', payload: Buffer.from([9, 9]) });
  });
  it('refuses a header shorter than five bytes', () => {
    expect(() => confluentFraming.unframe(Buffer.from([0, 0, 1]))).toThrow('3 bytes: too short');
  });
});

describe('Glue framing', () => {
  it('writes header version 3, no compression and the version UUID', () => {
    const header = glueFraming.header(UUID);
    expect([...header.subarray(0, 2)]).toEqual([3, 0]);
    expect(glueFraming.unframe(Buffer.concat([header, Buffer.from('x')]))).toEqual({ id: UUID, payload: Buffer.from('x') });
  });
  it('inflates zlib-compressed payloads', () => {
    const header = glueFraming.header(UUID);
    header[1] = 5;
    expect(glueFraming.unframe(Buffer.concat([header, deflateSync(Buffer.from('hello'))])).payload.toString()).toBe('hello');
  });
  it('refuses an unknown compression byte', () => {
    const header = glueFraming.header(UUID);
    header[1] = 7;
    expect(() => glueFraming.unframe(header)).toThrow('compression byte is 0x07');
  });
});
