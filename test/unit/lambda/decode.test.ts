import { describe, expect, it } from 'vitest';
import { EventShapeError } from '../../../framework/errors.js';
import type { KafkaRecord, PartitionBatch } from '../../../framework/record/record.js';
import { decodeEvent, encodeEvent, recordGroupKey } from '../../../framework/lambda/decode.js';
import type { DecodedEvent } from '../../../framework/lambda/decode.js';
import mskFixture from '../../fixtures/lambda/msk-event.json' with { type: 'json' };
import selfManagedFixture from '../../fixtures/lambda/self-managed-event.json' with { type: 'json' };

const ARN = 'arn:aws:kafka:us-east-1:123456789012:cluster/sluice-demo/751d2973-a626-431c-9d4e-d7975eb44dd7-2';

function batchOf(event: DecodedEvent, topic: string, partition: number): PartitionBatch {
  const batch = event.batches.find((b) => b.topic === topic && b.partition === partition);
  if (batch === undefined) throw new Error(`no batch ${topic}-${partition}`);
  return batch;
}

function recordAt(event: DecodedEvent, topic: string, partition: number, offset: number): KafkaRecord {
  const record = batchOf(event, topic, partition).records.find((r) => r.offset === offset);
  if (record === undefined) throw new Error(`no record ${topic}-${partition}@${offset}`);
  return record;
}

describe('decodeEvent: MSK events', () => {
  const decoded = decodeEvent(mskFixture);

  it('reads the source, the cluster ARN and the bootstrap servers as a list', () => {
    expect(decoded.source).toBe('msk');
    expect(decoded.eventSourceArn).toBe(ARN);
    expect(decoded.bootstrapServers).toEqual([
      'b-2.sluice-demo.a1bcde.c2.kafka.us-east-1.amazonaws.com:9098',
      'b-1.sluice-demo.a1bcde.c2.kafka.us-east-1.amazonaws.com:9098',
    ]);
  });

  it('makes one batch per partition, sorted by topic then partition, records in offset order', () => {
    expect(decoded.batches.map((b) => [b.topic, b.partition, b.records.map((r) => r.offset)])).toEqual([
      ['click-events-v2', 0, [41, 42]],
      ['click-events-v2', 1, [7]],
      ['orders', 3, [1200, 1201]],
    ]);
  });

  it('decodes a full record: base64 key and value, header bytes, timestamp', () => {
    expect(recordAt(decoded, 'click-events-v2', 0, 41)).toEqual({
      topic: 'click-events-v2',
      partition: 0,
      offset: 41,
      timestamp: 1700000000000,
      timestampType: 'CREATE_TIME',
      key: Buffer.from('user-17'),
      value: Buffer.from('{"ad_id":"a1","event_type":"view","event_time":1700000000000}'),
      headers: [{ name: 'content-type', value: Buffer.from('application/json') }],
    });
  });

  it('reads a missing key as null', () => {
    expect(recordAt(decoded, 'click-events-v2', 1, 7).key).toBeNull();
  });

  it('reads a missing value as a tombstone (null)', () => {
    const tombstone = recordAt(decoded, 'orders', 3, 1200);
    expect(tombstone.value).toBeNull();
    expect(tombstone.key).toEqual(Buffer.from('order-9'));
  });

  it('keeps headers in order, repeated names included', () => {
    const headers = recordAt(decoded, 'orders', 3, 1201).headers;
    expect(headers.map((h) => [h.name, h.value.toString('latin1')])).toEqual([
      ['trace', 't-1'],
      ['sluice-bin', '\xff\x00\x7f\x80\xc3\xab'],
      ['trace', 't-2'],
    ]);
  });

  it('reads signed (Java) header bytes as the raw bytes they stand for', () => {
    const bin = recordAt(decoded, 'orders', 3, 1201).headers[1];
    expect(bin?.value).toEqual(Buffer.from([0xff, 0x00, 0x7f, 0x80, 0xc3, 0xab]));
  });

  it('splits a group key at its last dash, so topics may end in -<digits>', () => {
    const event = mskEvent({ 'events-v2-10-4': [record({ topic: 'events-v2-10', partition: 4 })] });
    expect(decodeEvent(event).batches.map((b) => [b.topic, b.partition])).toEqual([['events-v2-10', 4]]);
  });

  it('accepts unsigned header bytes (0..255) too', () => {
    const event = mskEvent({ 'orders-3': [record({ headers: [{ h: [255, 128, 0] }] })] });
    expect(decodeEvent(event).batches[0]?.records[0]?.headers).toEqual([{ name: 'h', value: Buffer.from([255, 128, 0]) }]);
  });

  it('reads an empty base64 key as an empty key, not a missing one', () => {
    const event = mskEvent({ 'orders-3': [record({ key: '' })] });
    expect(decodeEvent(event).batches[0]?.records[0]?.key).toEqual(Buffer.alloc(0));
  });

  it('treats missing headers as no headers', () => {
    const event = mskEvent({ 'orders-3': [record({ headers: undefined })] });
    expect(decodeEvent(event).batches[0]?.records[0]?.headers).toEqual([]);
  });
});

describe('decodeEvent: self-managed events', () => {
  const decoded = decodeEvent(selfManagedFixture);

  it('has no cluster ARN and trims the bootstrap servers', () => {
    expect(decoded.source).toBe('self-managed');
    expect(decoded.eventSourceArn).toBeUndefined();
    expect(decoded.bootstrapServers).toEqual(['kafka-1.internal:9092', 'kafka-2.internal:9092']);
  });

  it('accepts partition, offsets and timestamps given as numeric strings', () => {
    expect(batchOf(decoded, 'mytopic', 0).records.map((r) => [r.partition, r.offset, r.timestamp, r.timestampType])).toEqual([
      [0, 15, 1545084650987, 'LOG_APPEND_TIME'],
      [0, 16, 1545084650990, 'LOG_APPEND_TIME'],
    ]);
  });

  it('reads an explicit null key as null', () => {
    expect(recordAt(decoded, 'mytopic', 0, 15).key).toBeNull();
    expect(recordAt(decoded, 'mytopic', 0, 15).value).toEqual(Buffer.from('hello, this is a test.'));
  });

  it('reads an explicit null value as a tombstone (null)', () => {
    expect(recordAt(decoded, 'mytopic', 0, 16).value).toBeNull();
    expect(recordAt(decoded, 'mytopic', 0, 16).key).toEqual(Buffer.from('mykey'));
  });

  it("keeps the trigger's schema-registry metadata for the schema serdes", () => {
    const r = recordAt(decoded, 'mytopic', 0, 15);
    expect([r.keySchemaMetadata, r.valueSchemaMetadata]).toEqual([
      { dataFormat: 'JSON', schemaId: 'key-schema-001' },
      { dataFormat: 'AVRO', schemaId: 'value-schema-002' },
    ]);
  });

  it('writes the metadata back into events it encodes', () => {
    expect(decodeEvent(encodeEvent(decoded))).toEqual(decoded);
  });

  it('accepts an event with an empty records object as zero batches', () => {
    expect(decodeEvent({ eventSource: 'SelfManagedKafka', bootstrapServers: 'k:9092', records: {} })).toEqual({
      source: 'self-managed',
      bootstrapServers: ['k:9092'],
      batches: [],
    });
  });
});

// ---------------------------------------------------------------------------------------------

function record(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    topic: 'orders',
    partition: 3,
    offset: 5,
    timestamp: 1700000000000,
    timestampType: 'CREATE_TIME',
    key: 'aw==',
    value: 'dg==',
    headers: [],
    ...overrides,
  };
}

function mskEvent(records: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { eventSource: 'aws:kafka', eventSourceArn: ARN, bootstrapServers: 'b-1:9098', records, ...overrides };
}

function shapeErrorOf(event: unknown): EventShapeError {
  try {
    decodeEvent(event);
  } catch (e) {
    if (e instanceof EventShapeError) return e;
    throw e;
  }
  throw new Error('decodeEvent accepted a malformed event');
}

interface Malformed {
  readonly name: string;
  readonly event: unknown;
  readonly field: string;
  readonly place?: { topic?: string; partition?: number; offset?: number };
}

const G = 'records["orders-3"]';
const malformed: Malformed[] = [
  { name: 'an event that is not an object', event: null, field: 'event' },
  { name: 'an unknown eventSource', event: mskEvent({}, { eventSource: 'aws:sqs' }), field: 'eventSource' },
  { name: 'an MSK event without eventSourceArn', event: mskEvent({}, { eventSourceArn: undefined }), field: 'eventSourceArn' },
  { name: 'bootstrapServers that is not a string', event: mskEvent({}, { bootstrapServers: ['b-1:9098'] }), field: 'bootstrapServers' },
  { name: 'records that is an array', event: mskEvent([]), field: 'records' },
  { name: 'a group key without a partition', event: mskEvent({ orders: [record()] }), field: 'records["orders"]' },
  { name: 'a group key with a zero-padded partition', event: mskEvent({ 'orders-03': [record()] }), field: 'records["orders-03"]' },
  { name: 'a group key with an empty topic', event: mskEvent({ '-3': [record()] }), field: 'records["-3"]' },
  { name: 'a group that is not an array', event: mskEvent({ 'orders-3': record() }), field: G, place: { topic: 'orders', partition: 3 } },
  { name: 'a record that is not an object', event: mskEvent({ 'orders-3': ['x'] }), field: `${G}[0]`, place: { topic: 'orders', partition: 3 } },
  { name: 'a negative offset', event: mskEvent({ 'orders-3': [record({ offset: 4 }), record({ offset: -1 })] }), field: `${G}[1].offset`, place: { topic: 'orders', partition: 3 } },
  { name: 'a fractional offset', event: mskEvent({ 'orders-3': [record({ offset: 1.5 })] }), field: `${G}[0].offset`, place: { topic: 'orders', partition: 3 } },
  { name: 'a non-numeric offset string', event: mskEvent({ 'orders-3': [record({ offset: '12a' })] }), field: `${G}[0].offset`, place: { topic: 'orders', partition: 3 } },
  { name: 'a missing offset', event: mskEvent({ 'orders-3': [record({ offset: undefined })] }), field: `${G}[0].offset`, place: { topic: 'orders', partition: 3 } },
  { name: 'an offset beyond 2^53', event: mskEvent({ 'orders-3': [record({ offset: '9007199254740993' })] }), field: `${G}[0].offset`, place: { topic: 'orders', partition: 3 } },
  { name: 'offsets out of order', event: mskEvent({ 'orders-3': [record({ offset: 5 }), record({ offset: 4 })] }), field: `${G}[1].offset`, place: { topic: 'orders', partition: 3 } },
  { name: 'a repeated offset', event: mskEvent({ 'orders-3': [record({ offset: 5 }), record({ offset: 5 })] }), field: `${G}[1].offset`, place: { topic: 'orders', partition: 3 } },
  { name: 'a record topic that disagrees with its group key', event: mskEvent({ 'orders-3': [record({ topic: 'order' })] }), field: `${G}[0].topic`, place: { topic: 'orders', partition: 3, offset: 5 } },
  { name: 'a record partition that disagrees with its group key', event: mskEvent({ 'orders-3': [record({ partition: 4 })] }), field: `${G}[0].partition`, place: { topic: 'orders', partition: 3, offset: 5 } },
  { name: 'a negative timestamp', event: mskEvent({ 'orders-3': [record({ timestamp: -1 })] }), field: `${G}[0].timestamp`, place: { topic: 'orders', partition: 3, offset: 5 } },
  { name: 'an unknown timestampType', event: mskEvent({ 'orders-3': [record({ timestampType: 'NO_TIMESTAMP_TYPE' })] }), field: `${G}[0].timestampType`, place: { topic: 'orders', partition: 3, offset: 5 } },
  { name: 'a key with characters outside base64', event: mskEvent({ 'orders-3': [record({ key: 'not base64!' })] }), field: `${G}[0].key`, place: { topic: 'orders', partition: 3, offset: 5 } },
  { name: 'a value with a base64 length that is not a multiple of 4', event: mskEvent({ 'orders-3': [record({ value: 'abc' })] }), field: `${G}[0].value`, place: { topic: 'orders', partition: 3, offset: 5 } },
  { name: 'a value in the URL-safe alphabet (Node would decode it)', event: mskEvent({ 'orders-3': [record({ value: 'ab-_' })] }), field: `${G}[0].value`, place: { topic: 'orders', partition: 3, offset: 5 } },
  { name: 'a value with a character outside base64 inside whole quanta', event: mskEvent({ 'orders-3': [record({ value: 'ab d' })] }), field: `${G}[0].value`, place: { topic: 'orders', partition: 3, offset: 5 } },
  { name: 'a value without its padding', event: mskEvent({ 'orders-3': [record({ value: 'dg' })] }), field: `${G}[0].value`, place: { topic: 'orders', partition: 3, offset: 5 } },
  { name: 'a value with padding in the middle', event: mskEvent({ 'orders-3': [record({ value: 'ab==abcd' })] }), field: `${G}[0].value`, place: { topic: 'orders', partition: 3, offset: 5 } },
  { name: 'a value that is not a string', event: mskEvent({ 'orders-3': [record({ value: 42 })] }), field: `${G}[0].value`, place: { topic: 'orders', partition: 3, offset: 5 } },
  { name: 'headers that are not an array', event: mskEvent({ 'orders-3': [record({ headers: { h: [1] } })] }), field: `${G}[0].headers`, place: { topic: 'orders', partition: 3, offset: 5 } },
  { name: 'a header entry with two names', event: mskEvent({ 'orders-3': [record({ headers: [{ a: [1], b: [2] }] })] }), field: `${G}[0].headers[0]`, place: { topic: 'orders', partition: 3, offset: 5 } },
  { name: 'a header value given as a string', event: mskEvent({ 'orders-3': [record({ headers: [{ h: 'aGk=' }] })] }), field: `${G}[0].headers[0]["h"]`, place: { topic: 'orders', partition: 3, offset: 5 } },
  { name: 'a header byte out of range', event: mskEvent({ 'orders-3': [record({ headers: [{ h: [1, 256] }] })] }), field: `${G}[0].headers[0]["h"][1]`, place: { topic: 'orders', partition: 3, offset: 5 } },
  { name: 'schema metadata that is not an object', event: mskEvent({ 'orders-3': [record({ valueSchemaMetadata: 'AVRO' })] }), field: `${G}[0].valueSchemaMetadata`, place: { topic: 'orders', partition: 3, offset: 5 } },
];

describe('decodeEvent: malformed events', () => {
  it.each(malformed)('rejects $name, naming $field', ({ event, field, place = {} }) => {
    const error = shapeErrorOf(event);
    expect(error.code).toBe('SLUICE_EVENT_SHAPE');
    expect(error.place).toEqual({ ...place, field });
    expect(error.message).toContain(`field=${field}`);
  });

  it('says what is wrong and what to do in the message', () => {
    const error = shapeErrorOf(mskEvent({ 'orders-3': [record({ offset: 5 }), record({ offset: 4 })] }));
    expect(error.message).toBe(
      `offset 4 does not follow the previous record's offset 5 [topic=orders partition=3 field=${G}[1].offset]` +
        ' — Lambda delivers each partition in offset order; records must be sorted and unique',
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('encodeEvent', () => {
  it('reproduces the MSK event Lambda sent, byte for byte', () => {
    expect(encodeEvent(decodeEvent(mskFixture))).toEqual(mskFixture);
  });

  it('round-trips a decoded MSK event through JSON', () => {
    const decoded = decodeEvent(mskFixture);
    expect(decodeEvent(JSON.parse(JSON.stringify(encodeEvent(decoded))))).toEqual(decoded);
  });

  it('round-trips a decoded self-managed event', () => {
    const decoded = decodeEvent(selfManagedFixture);
    const encoded = encodeEvent(decoded);
    expect(encoded.eventSource).toBe('SelfManagedKafka');
    expect('eventSourceArn' in encoded).toBe(false);
    expect(decodeEvent(encoded)).toEqual(decoded);
  });

  it('writes header bytes as Java signed bytes and leaves out a null key and value', () => {
    const encoded = encodeEvent({
      source: 'self-managed',
      bootstrapServers: ['k:9092'],
      batches: [
        {
          topic: 'click-events-v2',
          partition: 12,
          records: [
            {
              topic: 'click-events-v2',
              partition: 12,
              offset: 3,
              timestamp: 9,
              timestampType: 'CREATE_TIME',
              key: null,
              value: null,
              headers: [{ name: 'h', value: Buffer.from([0, 127, 128, 255]) }],
            },
          ],
        },
      ],
    });
    expect(encoded).toEqual({
      eventSource: 'SelfManagedKafka',
      bootstrapServers: 'k:9092',
      records: {
        'click-events-v2-12': [
          { topic: 'click-events-v2', partition: 12, offset: 3, timestamp: 9, timestampType: 'CREATE_TIME', headers: [{ h: [0, 127, -128, -1] }] },
        ],
      },
    });
  });

  it('rejects two batches for the same partition', () => {
    const batch: PartitionBatch = { topic: 't', partition: 0, records: [kafkaRecord('t', 0, 1)] };
    expect(() => encodeEvent({ source: 'self-managed', bootstrapServers: [], batches: [batch, batch] })).toThrow(EventShapeError);
  });

  it('rejects a record filed under another partition\'s batch', () => {
    const batch: PartitionBatch = { topic: 't', partition: 0, records: [kafkaRecord('t', 1, 1)] };
    expect(() => encodeEvent({ source: 'self-managed', bootstrapServers: [], batches: [batch] })).toThrow(
      'record of t-1 in the batch of t-0',
    );
  });

  it('round-trips random batches: binary keys, empty and null values, repeated headers, dashed topics', () => {
    const random = mulberry32(0x51c3);
    const byte = () => Math.floor(random() * 256);
    const buf = (max: number) => Buffer.from(Array.from({ length: Math.floor(random() * max) }, byte));
    const topics = ['a', 'click-events-v2', 'sluice.app.stage-2.in', 'x-1']; // sorted, as decode sorts
    for (let round = 0; round < 50; round++) {
      const batches: PartitionBatch[] = [];
      topics.forEach((topic) => {
        for (let partition = 0; partition < 3; partition++) {
          if (random() < 0.5) continue;
          let offset = Math.floor(random() * 1e6);
          const records = Array.from({ length: 1 + Math.floor(random() * 5) }, (): KafkaRecord => {
            offset += 1 + Math.floor(random() * 3);
            return {
              topic,
              partition,
              offset,
              timestamp: 1_700_000_000_000 + Math.floor(random() * 1e6),
              timestampType: random() < 0.5 ? 'CREATE_TIME' : 'LOG_APPEND_TIME',
              key: random() < 0.2 ? null : buf(12),
              value: random() < 0.2 ? null : buf(40),
              headers: Array.from({ length: Math.floor(random() * 3) }, () => ({ name: random() < 0.5 ? 'dup' : 'h', value: buf(6) })),
            };
          });
          batches.push({ topic, partition, records });
        }
      });
      const decoded: DecodedEvent = { source: 'msk', eventSourceArn: ARN, bootstrapServers: ['b-1:9098'], batches };
      expect(decodeEvent(JSON.parse(JSON.stringify(encodeEvent(decoded))))).toEqual(decoded);
    }
  });
});

describe('recordGroupKey', () => {
  it('joins topic and partition with a dash, as Lambda keys records', () => {
    expect(recordGroupKey('click-events-v2', 3)).toBe('click-events-v2-3');
  });
});

function kafkaRecord(topic: string, partition: number, offset: number): KafkaRecord {
  return { topic, partition, offset, timestamp: 0, timestampType: 'CREATE_TIME', key: null, value: null, headers: [] };
}

/** Small seeded PRNG so random tests are reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
