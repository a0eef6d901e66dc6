import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { SluiceError } from '../../../framework/errors.js';
import { SerdeError, bytes, json, string } from '../../../framework/serde/index.js';
import type { Serde, StandardSchemaV1 } from '../../../framework/serde/index.js';

const AdEvent = z.object({
  ad_id: z.string(),
  event_type: z.enum(['view', 'click']),
  event_time: z.number().int(),
  tags: z.array(z.object({ name: z.string() })).optional(),
});

const ctx = { topic: 'ad-events', partition: 2, offset: 41 };
const utf8 = (s: string) => Buffer.from(s, 'utf8');

function serdeErrorOf(read: () => unknown): SerdeError {
  try {
    read();
  } catch (e) {
    if (e instanceof SerdeError) return e;
    throw e;
  }
  throw new Error('expected a SerdeError');
}

describe('json with a zod schema', () => {
  const serde = json({ schema: AdEvent });

  it('infers the value type from the schema', () => {
    expectTypeOf(serde).toEqualTypeOf<Serde<z.infer<typeof AdEvent>>>();
  });

  it('reads a valid record', () => {
    expect(serde.deserialize(utf8('{"ad_id":"a1","event_type":"view","event_time":1700000000000}'), ctx)).toEqual({
      ad_id: 'a1',
      event_type: 'view',
      event_time: 1700000000000,
    });
  });

  it('names the invalid field, the serde and the record in the error', () => {
    const error = serdeErrorOf(() => serde.deserialize(utf8('{"ad_id":"a1","event_type":"view","event_time":"soon"}'), ctx));
    expect(error).toBeInstanceOf(SluiceError);
    expect(error.code).toBe('SLUICE_SERDE');
    expect(error.serde).toBe('json');
    expect(error.place).toEqual({ topic: 'ad-events', partition: 2, offset: 41, field: 'event_time' });
    expect(error.message).toBe(
      'json: value does not match the schema: event_time: Invalid input: expected number, received string' +
        ' [topic=ad-events partition=2 offset=41 field=event_time] — fix the producer, or widen the schema if the data is right',
    );
  });

  it('writes nested paths with dots and indexes', () => {
    const error = serdeErrorOf(() =>
      serde.deserialize(utf8('{"ad_id":"a1","event_type":"view","event_time":1,"tags":[{"name":"x"},{"name":7}]}'), ctx),
    );
    expect(error.place.field).toBe('tags[1].name');
    expect(error.issues).toEqual([{ path: 'tags[1].name', message: 'Invalid input: expected string, received number' }]);
  });

  it('lists every issue, the first one as the field', () => {
    const error = serdeErrorOf(() => serde.deserialize(utf8('{"event_type":"buy","event_time":1}'), ctx));
    expect(error.issues.map((i) => i.path)).toEqual(['ad_id', 'event_type']);
    expect(error.place.field).toBe('ad_id');
  });

  it('returns the schema output, so transforms apply', () => {
    const withDate = json({ schema: z.object({ at: z.string().transform((s) => s.length) }) });
    expect(withDate.deserialize(utf8('{"at":"abcd"}'))).toEqual({ at: 4 });
  });

  it('rejects an asynchronous schema with a clear error', () => {
    const slow = json({ schema: z.object({ id: z.string() }).refine(async () => true) });
    const error = serdeErrorOf(() => slow.deserialize(utf8('{"id":"x"}'), ctx));
    expect(error.message).toBe(
      'json: the zod schema validates asynchronously [topic=ad-events partition=2 offset=41]' +
        ' — deserialize is synchronous: use a schema without async refinements or transforms',
    );
  });

  it('accepts any Standard Schema validator, not only zod', () => {
    const positive: StandardSchemaV1<unknown, number> = {
      '~standard': {
        version: 1,
        vendor: 'hand-made',
        validate: (v) => (typeof v === 'number' && v > 0 ? { value: v } : { issues: [{ message: 'not positive', path: [{ key: 'n' }] }] }),
      },
    };
    const serde = json({ schema: positive });
    expect(serde.deserialize(utf8('3'))).toBe(3);
    expect(serdeErrorOf(() => serde.deserialize(utf8('-3'))).place.field).toBe('n');
  });

  it('quotes keys that are not identifiers in the field path', () => {
    const serde = json({ schema: z.object({ 'content-type': z.string() }) });
    expect(serdeErrorOf(() => serde.deserialize(utf8('{}'))).place.field).toBe('["content-type"]');
  });
});

describe('json', () => {
  it('writes UTF-8 JSON', () => {
    expect(json<{ n: number; s: string }>().serialize({ n: 1, s: 'é' })).toEqual(utf8('{"n":1,"s":"é"}'));
  });

  it('reads back what it writes', () => {
    const serde = json<{ a: number[] }>();
    expect(serde.deserialize(serde.serialize({ a: [1, 2] }))).toEqual({ a: [1, 2] });
  });

  it('trusts the type parameter when there is no schema', () => {
    expect(json<{ anything: true }>().deserialize(utf8('{"other":1}'))).toEqual({ other: 1 });
  });

  it('rejects bytes that are not JSON, naming the record', () => {
    const error = serdeErrorOf(() => json().deserialize(utf8('{"a":'), ctx));
    expect(error.message).toMatch(/^json: bytes are not valid JSON: .+ \[topic=ad-events partition=2 offset=41\]/);
  });

  it('rejects bytes that are not UTF-8', () => {
    const error = serdeErrorOf(() => json().deserialize(Buffer.from([0x22, 0xff, 0x22]), ctx));
    expect(error.message).toBe(
      'json: bytes are not valid UTF-8 [topic=ad-events partition=2 offset=41] — check what the producer writes to this topic',
    );
  });

  it('refuses to write a value JSON cannot hold', () => {
    expect(() => json<bigint>().serialize(1n)).toThrow(SerdeError);
    expect(() => json<undefined>().serialize(undefined)).toThrow('json: value cannot be written as JSON: undefined');
  });
});

describe('tombstones', () => {
  it('json fails on a tombstone unless nullable', () => {
    const error = serdeErrorOf(() => json({ schema: AdEvent }).deserialize(null, ctx));
    expect(error.message).toBe(
      'json: got a tombstone (null value) but the serde is not nullable [topic=ad-events partition=2 offset=41]' +
        ' — declare it with json({ nullable: true }) if the topic carries tombstones, or filter them out upstream',
    );
  });

  it('nullable json reads a tombstone as null and writes null as a tombstone', () => {
    const serde = json({ schema: AdEvent, nullable: true });
    expectTypeOf(serde).toEqualTypeOf<Serde<z.infer<typeof AdEvent> | null>>();
    expect(serde.deserialize(null, ctx)).toBeNull();
    expect(serde.serialize(null)).toBeNull();
  });

  it('string and bytes fail on a tombstone unless nullable', () => {
    expect(serdeErrorOf(() => string().deserialize(null)).serde).toBe('string');
    expect(serdeErrorOf(() => bytes().deserialize(null)).serde).toBe('bytes');
    expect(string({ nullable: true }).deserialize(null)).toBeNull();
    expect(bytes({ nullable: true }).deserialize(null)).toBeNull();
  });
});

describe('string', () => {
  it('writes and reads UTF-8 text', () => {
    const serde = string();
    expect(serde.serialize('naïve ☃')).toEqual(utf8('naïve ☃'));
    expect(serde.deserialize(utf8('naïve ☃'))).toBe('naïve ☃');
  });

  it('rejects invalid UTF-8 instead of inserting replacement characters', () => {
    expect(serdeErrorOf(() => string().deserialize(Buffer.from([0x61, 0xc3]), ctx)).message).toMatch(/^string: bytes are not valid UTF-8/);
  });
});

describe('bytes', () => {
  it('passes buffers through unchanged', () => {
    const raw = Buffer.from([0, 255, 128]);
    expect(bytes().serialize(raw)).toBe(raw);
    expect(bytes().deserialize(raw)).toBe(raw);
  });
});
