import { describe, expect, it } from 'vitest';
import { SCHEMA_ERROR, SerdeError, memoryRegistry, protobuf } from '../../../framework/serde/index.js';
import type { Serde } from '../../../framework/serde/index.js';

const V1 = `syntax = "proto3";
package ysb;
message AdEvent { string ad_id = 1; int64 event_time = 2; }
message Campaign { string id = 1; message Owner { string name = 1; } }`;
const V2 = `syntax = "proto3";
package ysb;
message AdEvent { string ad_id = 1; int64 event_time = 2; string event_type = 3; }`;
const RETYPED = `syntax = "proto3";
package ysb;
message AdEvent { string ad_id = 1; string event_time = 2; }`;
interface AdV1 { ad_id: string; event_time: string }
interface AdV2 extends AdV1 { event_type: string }

const use = { stage: 'views', topic: 'ad-events', role: 'value' } as const;
const ctx = { topic: 'ad-events', partition: 0, offset: 3 };

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

describe('protobuf through a registry', () => {
  it('frames the first message with message index [0] as the single byte 0', async () => {
    const bytes = await written(protobuf<AdV1>({ schema: V1, type: 'ysb.AdEvent', registry: memoryRegistry() }), { ad_id: 'a', event_time: '5' });
    expect([...bytes.subarray(0, 6)]).toEqual([0, 0, 0, 0, 1, 0]);
  });

  it('frames a nested message with its index path [1, 0] as zigzag varints', async () => {
    const bytes = await written(protobuf<{ name: string }>({ schema: V1, type: 'ysb.Campaign.Owner', registry: memoryRegistry() }), { name: 'o' });
    expect([...bytes.subarray(5, 8)]).toEqual([4, 2, 0]);
  });

  it('round-trips a message, int64 as a decimal string', async () => {
    const registry = memoryRegistry();
    const bytes = await written(protobuf<AdV1>({ schema: V1, type: 'ysb.AdEvent', registry }), { ad_id: 'a', event_time: '1700000000000' });
    const reader = protobuf<AdV1>({ schema: V1, type: 'ysb.AdEvent', registry });
    await reader.schemas!.prefetch([{ bytes }], use);
    expect(reader.deserialize(bytes, ctx)).toEqual({ ad_id: 'a', event_time: '1700000000000' });
  });

  it('reads an old writer with a new reader: the added field takes its default', async () => {
    const registry = memoryRegistry();
    const bytes = await written(protobuf<AdV1>({ schema: V1, type: 'ysb.AdEvent', registry }), { ad_id: 'a', event_time: '5' });
    const reader = protobuf<AdV2>({ schema: V2, type: 'ysb.AdEvent', registry });
    await reader.schemas!.prefetch([{ bytes }], use);
    expect(reader.deserialize(bytes, ctx)).toEqual({ ad_id: 'a', event_time: '5', event_type: '' });
  });

  it('rejects a writer whose field changed wire type as incompatible, naming the field', async () => {
    const registry = memoryRegistry();
    const bytes = await written(protobuf<{ ad_id: string; event_time: string }>({ schema: RETYPED, registry }), { ad_id: 'a', event_time: 'soon' });
    const reader = protobuf<AdV1>({ schema: V1, type: 'ysb.AdEvent', registry });
    await reader.schemas!.prefetch([{ bytes }], use);
    expect(codeOf(() => reader.deserialize(bytes, ctx))).toBe(SCHEMA_ERROR.incompatible);
    expect(() => reader.deserialize(bytes, ctx)).toThrow('field 2 is "event_time" (string) in ysb.AdEvent but "event_time" (int64) in the reader');
  });

  it('rejects an Avro writer schema id as incompatible', async () => {
    const registry = memoryRegistry();
    const id = registry.register('other', 'AVRO', '"string"');
    const bytes = Buffer.from([0, 0, 0, 0, id, 0, 0]);
    const reader = protobuf<AdV1>({ schema: V1, type: 'ysb.AdEvent', registry });
    await reader.schemas!.prefetch([{ bytes }], use);
    expect(codeOf(() => reader.deserialize(bytes, ctx))).toBe(SCHEMA_ERROR.incompatible);
  });

  it('rejects bytes that are not a message as undecodable', async () => {
    const registry = memoryRegistry();
    const good = await written(protobuf<AdV1>({ schema: V1, type: 'ysb.AdEvent', registry }), { ad_id: 'abc', event_time: '5' });
    const bytes = Buffer.concat([good.subarray(0, 6), Buffer.from([0x0a, 0x09, 0x61])]);
    const reader = protobuf<AdV1>({ schema: V1, type: 'ysb.AdEvent', registry });
    await reader.schemas!.prefetch([{ bytes }], use);
    expect(codeOf(() => reader.deserialize(bytes, ctx))).toBe(SCHEMA_ERROR.decode);
  });

  it('fails at build time on a message the source does not declare', () => {
    expect(() => protobuf({ schema: V1, type: 'ysb.Nope' })).toThrow(/field=type/);
  });
});
