import { describe, expect, it } from 'vitest';
import type { SerdeError} from '../../../framework/serde/index.js';
import { SCHEMA_ERROR, jsonSchema, memoryRegistry } from '../../../framework/serde/index.js';

const SCHEMA = {
  title: 'ysb.AdEvent',
  type: 'object',
  properties: { ad_id: { type: 'string' }, event_time: { type: 'integer' } },
  required: ['ad_id', 'event_time'],
};
interface Ad { ad_id: string; event_time: number }
const use = { stage: 'views', topic: 'ad-events', role: 'value' } as const;
const ctx = { topic: 'ad-events', partition: 1, offset: 9 };

describe('jsonSchema through a registry', () => {
  it('writes JSON text behind the Confluent header and reads it back', async () => {
    const registry = memoryRegistry();
    const serde = jsonSchema<Ad>({ schema: SCHEMA, registry });
    await serde.schemas!.prepareWrite(use);
    const bytes = serde.serialize({ ad_id: 'a', event_time: 5 })!;
    expect(bytes.subarray(5).toString()).toBe('{"ad_id":"a","event_time":5}');
    await serde.schemas!.prefetch([{ bytes }], use);
    expect(serde.deserialize(bytes, ctx)).toEqual({ ad_id: 'a', event_time: 5 });
  });

  it('dead-letters a value the reader schema rejects, naming the field', async () => {
    const registry = memoryRegistry();
    const writer = jsonSchema<unknown>({ schema: { title: 'loose' }, registry });
    await writer.schemas!.prepareWrite(use);
    const bytes = writer.serialize({ ad_id: 'a', event_time: 'late' })!;
    const reader = jsonSchema<Ad>({ schema: SCHEMA, registry });
    await reader.schemas!.prefetch([{ bytes }], use);
    let error: SerdeError | undefined;
    try {
      reader.deserialize(bytes, ctx);
    } catch (e) {
      error = e as SerdeError;
    }
    expect(error?.code).toBe(SCHEMA_ERROR.invalid);
    expect(error?.place).toEqual({ topic: 'ad-events', partition: 1, offset: 9, field: 'event_time' });
  });

  it('registers under the schema title with RecordName subjects', async () => {
    const registry = memoryRegistry();
    await jsonSchema<Ad>({ schema: SCHEMA, registry, subjectNaming: 'record' }).schemas!.prepareWrite(use);
    expect([...registry.subjects.keys()]).toEqual(['ysb.AdEvent']);
  });

  it('refuses to write a value the schema rejects', async () => {
    const serde = jsonSchema<Ad>({ schema: SCHEMA, registry: memoryRegistry() });
    await serde.schemas!.prepareWrite(use);
    expect(() => serde.serialize({ ad_id: 'a' } as Ad)).toThrow("must have required property 'event_time'");
  });
});
