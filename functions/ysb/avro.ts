/**
 * The YSB ad event as Avro, framed for a schema registry (Confluent wire format): what the
 * benchmark's Avro variant writes and reads, to measure Avro decoding next to JSON. The
 * benchmark's processes each build the same in-memory registry (`ysbRegistry`), so the schema
 * has the same id in the generator and in the stage without a registry server; a deployment
 * passes confluentRegistry() or glueRegistry() instead.
 */
import avsc from 'avsc';
import { avro, memoryRegistry } from '../../framework/index.js';
import type { MemorySchemaRegistry, SchemaRegistry, Serde } from '../../framework/index.js';
import { AD_TYPES, EVENT_TYPES } from './pipeline.js';
import type { AdEvent } from './pipeline.js';

/** The Avro schema of an ad event. */
export const AD_EVENT_AVRO = {
  type: 'record',
  name: 'AdEvent',
  namespace: 'ysb',
  fields: [
    { name: 'user_id', type: 'string' },
    { name: 'page_id', type: 'string' },
    { name: 'ad_id', type: 'string' },
    { name: 'ad_type', type: { type: 'enum', name: 'AdType', symbols: AD_TYPES.map((t) => t.replace(/-/g, '_')) } },
    { name: 'event_type', type: { type: 'enum', name: 'EventType', symbols: [...EVENT_TYPES] } },
    { name: 'event_time', type: 'long' },
    { name: 'ip_address', type: 'string' },
  ],
} as const;

/**
 * Ad events as Avro through `registry`. Avro enum symbols cannot contain `-`, so `ad_type`
 * is written with `_`; the benchmark's stage never reads `ad_type`, and this serde is for
 * measuring, so it does not map the symbols back.
 */
export function adEventAvro(registry: SchemaRegistry): Serde<AdEvent> {
  return avro<AdEvent>({ schema: AD_EVENT_AVRO, registry });
}

/** An in-memory registry holding the ad event schema as id 1 (the same in every process). */
export function ysbRegistry(): MemorySchemaRegistry {
  const registry = memoryRegistry();
  // The text avro() registers: avsc's canonical JSON of the schema.
  registry.register('ad-events-value', 'AVRO', JSON.stringify(avsc.Type.forSchema(AD_EVENT_AVRO as unknown as avsc.Schema).schema()));
  return registry;
}

/** Writes ad events framed with schema id 1 of ysbRegistry(). */
export async function adEventAvroWriter(): Promise<(event: AdEvent) => Buffer> {
  const serde = adEventAvro(ysbRegistry());
  await serde.schemas!.prepareWrite({ topic: 'ad-events', role: 'value' });
  return (event) => serde.serialize({ ...event, ad_type: event.ad_type.replace(/-/g, '_') as AdEvent['ad_type'] })!;
}
