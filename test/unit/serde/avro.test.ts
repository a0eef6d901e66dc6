import { describe, expect, expectTypeOf, it } from 'vitest';
import { ConfigError } from '../../../framework/errors.js';
import { RegistryUnavailableError, SCHEMA_ERROR, SerdeError, avro, memoryRegistry } from '../../../framework/serde/index.js';
import type { Serde } from '../../../framework/serde/index.js';

const V1 = { type: 'record', name: 'AdEvent', namespace: 'ysb', fields: [{ name: 'ad_id', type: 'string' }, { name: 'event_time', type: 'long' }] };
const V2 = { ...V1, fields: [...V1.fields, { name: 'event_type', type: 'string', default: 'view' }] };
const NO_DEFAULT = { ...V1, fields: [...V1.fields, { name: 'campaign', type: 'string' }] };
interface AdV1 { ad_id: string; event_time: number }
interface AdV2 extends AdV1 { event_type: string }

const use = { stage: 'views', topic: 'ad-events', role: 'value' } as const;
const ctx = { topic: 'ad-events', partition: 0, offset: 7 };

function codeOf(read: () => unknown): string {
  try {
    read();
  } catch (e) {
    if (e instanceof SerdeError) return e.code;
    throw e;
  }
  throw new Error('expected a SerdeError');
}

async function written<T>(serde: Serde<T>, value: T): Promise<Buffer> {
  await serde.schemas!.prepareWrite(use);
  return serde.serialize(value)!;
}

describe('avro through a registry', () => {
  it('types values as declared', () => {
    expectTypeOf(avro<AdV1>({ schema: V1 })).toEqualTypeOf<Serde<AdV1>>();
    expectTypeOf(avro<AdV1>({ schema: V1, nullable: true })).toEqualTypeOf<Serde<AdV1 | null>>();
  });

  it('registers its schema under <topic>-value and frames records with magic byte 0 and the id', async () => {
    const registry = memoryRegistry();
    const bytes = await written(avro<AdV1>({ schema: V1, registry }), { ad_id: 'a1', event_time: 5 });
    expect(registry.subjects.get('ad-events-value')).toEqual([1]);
    expect([...bytes.subarray(0, 5)]).toEqual([0, 0, 0, 0, 1]);
  });

  it('reads what it wrote', async () => {
    const registry = memoryRegistry();
    const bytes = await written(avro<AdV1>({ schema: V1, registry }), { ad_id: 'a1', event_time: 5 });
    const reader = avro<AdV1>({ schema: V1, registry });
    await reader.schemas!.prefetch([{ bytes }], use);
    expect(reader.deserialize(bytes, ctx)).toEqual({ ad_id: 'a1', event_time: 5 });
  });

  it('resolves an old writer schema into a new reader schema, filling defaults', async () => {
    const registry = memoryRegistry();
    const bytes = await written(avro<AdV1>({ schema: V1, registry }), { ad_id: 'a1', event_time: 5 });
    const reader = avro<AdV2>({ schema: V2, registry });
    await reader.schemas!.prefetch([{ bytes }], use);
    expect(reader.deserialize(bytes, ctx)).toEqual({ ad_id: 'a1', event_time: 5, event_type: 'view' });
  });

  it('fetches a writer schema once per container', async () => {
    const registry = memoryRegistry();
    const bytes = await written(avro<AdV1>({ schema: V1, registry }), { ad_id: 'a1', event_time: 5 });
    const reader = avro<AdV2>({ schema: V2, registry });
    await reader.schemas!.prefetch([{ bytes }, { bytes }], use);
    await reader.schemas!.prefetch([{ bytes }], use);
    expect(registry.calls.byId).toBe(1);
  });

  it('rejects a writer schema the reader cannot resolve as incompatible', async () => {
    const registry = memoryRegistry();
    const bytes = await written(avro<AdV1>({ schema: V1, registry }), { ad_id: 'a1', event_time: 5 });
    const reader = avro({ schema: NO_DEFAULT, registry });
    await reader.schemas!.prefetch([{ bytes }], use);
    expect(codeOf(() => reader.deserialize(bytes, ctx))).toBe(SCHEMA_ERROR.incompatible);
  });

  it('rejects bytes without the magic byte as a framing error', async () => {
    const reader = avro({ schema: V1, registry: memoryRegistry() });
    const bytes = Buffer.from('{"ad_id":"a1"}');
    await reader.schemas!.prefetch([{ bytes }], use);
    expect(codeOf(() => reader.deserialize(bytes, ctx))).toBe(SCHEMA_ERROR.framing);
  });

  it('rejects a schema id the registry does not know', async () => {
    const reader = avro({ schema: V1, registry: memoryRegistry() });
    const bytes = Buffer.from([0, 0, 0, 0, 42, 2, 0x61, 10]);
    await reader.schemas!.prefetch([{ bytes }], use);
    expect(codeOf(() => reader.deserialize(bytes, ctx))).toBe(SCHEMA_ERROR.unknownId);
  });

  it('rejects a truncated payload as undecodable', async () => {
    const registry = memoryRegistry();
    const bytes = await written(avro<AdV1>({ schema: V1, registry }), { ad_id: 'a-long-ad-id', event_time: 5 });
    const reader = avro({ schema: V1, registry });
    await reader.schemas!.prefetch([{ bytes }], use);
    expect(codeOf(() => reader.deserialize(bytes.subarray(0, 8), ctx))).toBe(SCHEMA_ERROR.decode);
  });

  it('names the record in the error', async () => {
    const reader = avro({ schema: V1, registry: memoryRegistry() });
    const bytes = Buffer.from([0, 0, 0, 0, 42, 2]);
    await reader.schemas!.prefetch([{ bytes }], use);
    expect(() => reader.deserialize(bytes, ctx)).toThrow('avro: schema id 42 is not in the registry (memory) [topic=ad-events partition=0 offset=7]');
  });

  it('fails the prefetch, not the record, when the registry is down', async () => {
    const registry = memoryRegistry();
    const bytes = await written(avro<AdV1>({ schema: V1, registry }), { ad_id: 'a1', event_time: 5 });
    const reader = avro({ schema: V2, registry });
    registry.available = false;
    await expect(reader.schemas!.prefetch([{ bytes }], use)).rejects.toBeInstanceOf(RegistryUnavailableError);
  });

  it('rejects a value that does not fit the schema when writing, naming the field', async () => {
    const serde = avro<AdV1>({ schema: V1, registry: memoryRegistry() });
    await serde.schemas!.prepareWrite(use);
    expect(() => serde.serialize({ ad_id: 'a1', event_time: 'soon' } as unknown as AdV1)).toThrow('invalid at event_time');
  });

  it('fails at build time on a schema avsc cannot parse', () => {
    expect(() => avro({ schema: { type: 'record', name: 'X', fields: [{ name: 'a', type: 'nope' }] } })).toThrow(ConfigError);
  });

  it('needs a record name for RecordName subjects', () => {
    const serde = avro<string>({ schema: 'string', registry: memoryRegistry(), subjectNaming: 'record' });
    expect(() => serde.schemas!.check(use, 'write')).toThrow('subject naming "record" needs a record name');
  });

  it('registers under the record name with subjectNaming record, and topic-record', async () => {
    const registry = memoryRegistry();
    await avro<AdV1>({ schema: V1, registry, subjectNaming: 'record' }).schemas!.prepareWrite(use);
    await avro<AdV1>({ schema: V1, registry, subjectNaming: 'topic-record' }).schemas!.prepareWrite(use);
    expect([...registry.subjects.keys()]).toEqual(['ysb.AdEvent', 'ad-events-ysb.AdEvent']);
  });

  it('reads bare Avro (no framing) without a registry', () => {
    const serde = avro<AdV1>({ schema: V1 });
    expect(serde.deserialize(serde.serialize({ ad_id: 'b', event_time: 1 }), ctx)).toEqual({ ad_id: 'b', event_time: 1 });
  });
});

describe("avro behind Lambda's own schema-registry integration", () => {
  const metadata = { dataFormat: 'AVRO', schemaId: '1' };

  it('checks values the trigger decoded to JSON against the reader schema', async () => {
    const serde = avro<AdV1>({ schema: V1, triggerFormat: 'JSON' });
    const bytes = Buffer.from('{"ad_id":"a1","event_time":5}');
    await serde.schemas!.prefetch([{ bytes, metadata }], use);
    expect(serde.deserialize(bytes, { ...ctx, schemaMetadata: metadata })).toEqual({ ad_id: 'a1', event_time: 5 });
    expect(codeOf(() => serde.deserialize(Buffer.from('{"ad_id":1}'), { ...ctx, schemaMetadata: metadata }))).toBe(SCHEMA_ERROR.invalid);
  });

  it('reads SOURCE records (framing removed) with the writer schema the metadata names', async () => {
    const registry = memoryRegistry();
    const framed = await written(avro<AdV1>({ schema: V1, registry }), { ad_id: 'a1', event_time: 5 });
    const serde = avro<AdV2>({ schema: V2, registry, triggerFormat: 'SOURCE' });
    const bytes = framed.subarray(5);
    await serde.schemas!.prefetch([{ bytes, metadata }], use);
    expect(serde.deserialize(bytes, { ...ctx, schemaMetadata: metadata })).toEqual({ ad_id: 'a1', event_time: 5, event_type: 'view' });
  });

  it('fails the invocation when records carry metadata and the serde does not say the trigger format', async () => {
    const serde = avro<AdV1>({ schema: V1, registry: memoryRegistry() });
    await expect(serde.schemas!.prefetch([{ bytes: Buffer.from('{}'), metadata }], use)).rejects.toThrow(/field=triggerFormat/);
  });
});
