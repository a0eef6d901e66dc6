// The per-stage harness runs a stage whose input is read through a schema registry through the
// handler, which fetches the writer schemas before any task runs (prefetchSchemas).
import { describe, expect, it } from 'vitest';
import { avro, json, memoryRegistry, pipeline } from '../../../framework/index.js';
import { stageHarness } from '../../../framework/testing/index.js';

interface View {
  readonly ad_id: string;
  readonly event_time: number;
}

const SCHEMA = { type: 'record', name: 'View', namespace: 'test', fields: [{ name: 'ad_id', type: 'string' }, { name: 'event_time', type: 'long' }] };
/** What the producer writes: a newer schema with one more field (its id differs from the stage's). */
const WRITER = { ...SCHEMA, fields: [...SCHEMA.fields, { name: 'page', type: 'string', default: '/' }] };

describe('a stage reading Avro through a registry, in the harness', () => {
  it('reads its records (the handler the harness invokes prefetches the writer schemas)', async () => {
    const registry = memoryRegistry();
    const p = pipeline('reg', { partitions: 1 });
    p.source('views', { serde: avro<View>({ schema: SCHEMA, registry }) })
      .map((v) => v.ad_id)
      .sink('ids', { serde: json<string>() });
    const h = stageHarness(p, 'views');
    // Written by another producer: the stage's serde knows the writer schema only from the registry.
    const writer = avro<View & { page: string }>({ schema: WRITER, registry });
    await writer.schemas!.prepareWrite({ stage: 'producer', topic: 'views', role: 'value' });
    await h.send([{ value: { ad_id: 'a1', event_time: 5 }, raw: writer.serialize({ ad_id: 'a1', event_time: 5, page: '/x' }) }, { value: { ad_id: 'a2', event_time: 6 }, raw: writer.serialize({ ad_id: 'a2', event_time: 6, page: '/y' }) }]);
    expect(h.deadLetters()).toEqual([]);
    expect(h.outputs<string>('ids').map((o) => o.value)).toEqual(['a1', 'a2']);
  });
});
