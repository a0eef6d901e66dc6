/**
 * Turns a task's input records into stream elements with the input's serdes. A record
 * that cannot be read becomes a dead letter; the rest of the batch moves on.
 */
import type { SourceNode } from '../dsl/plan.js';
import type { KafkaRecord } from '../record/record.js';
import type { StageInput, Topology } from '../topology/topology.js';
import type { DeadLetter, Element } from './element.js';
import { RecordFailedError } from './record-failed.js';

/** Header naming the keyBy node that wrote a record, when several keyBy nodes write one internal topic. */
export const EDGE_HEADER = 'sluice-edge';

/** Header carrying a repartitioned record's event time (epoch ms, decimal): internal topics use append time. */
export const EVENT_TIME_HEADER = 'sluice-et';

/** The event-time header of a repartitioned record. */
export function eventTimeHeader(timestamp: number): { name: string; value: Buffer } {
  return { name: EVENT_TIME_HEADER, value: Buffer.from(String(timestamp)) };
}

/** A record's event time: a source's eventTime function, else the event-time header, else the Kafka timestamp. */
function eventTimeOf(record: KafkaRecord): number {
  const header = record.headers.find((h) => h.name === EVENT_TIME_HEADER);
  return header ? Number(header.value.toString('utf8')) : record.timestamp;
}

/** The elements in input order, as runs of consecutive records of one entry node, plus the records that could not be read. */
export interface DecodedInput {
  /**
   * Consecutive records with the same entry (writer) form one run, so operators still get records
   * in bulk while records of different writers keep their order: a table update read before a
   * stream record is applied before it is joined.
   */
  readonly runs: ReadonlyArray<{ readonly entry: number; readonly elements: Element[] }>;
  readonly deadLetters: DeadLetter[];
}

/** Deserialises a task's records for `input` of `stage`. */
export function readInput(topology: Topology, stageName: string, input: StageInput, records: readonly KafkaRecord[]): DecodedInput {
  const runs: Array<{ entry: number; elements: Element[] }> = [];
  const deadLetters: DeadLetter[] = [];
  const source = topology.nodes.get(input.entry);
  const eventTime = source?.kind === 'source' ? (source as SourceNode).eventTime : undefined;
  // A table's topic, or a table's changes repartitioned: a null value is a tombstone, read as null.
  const tombstones = (entry: number): boolean => {
    const node = topology.nodes.get(entry);
    return (node?.kind === 'source' && node.table === true) || (node?.kind === 'keyBy' && node.changelog === true);
  };
  for (const record of records) {
    const origin = { topic: record.topic, partition: record.partition, offset: record.offset };
    const ctx = origin;
    let operator = 'edge';
    try {
      let entry = input.entry;
      if (input.writers.length > 1) {
        const edge = record.headers.find((h) => h.name === EDGE_HEADER);
        const id = edge ? Number(edge.value.toString('utf8')) : NaN;
        if (!input.writers.includes(id)) throw new Error(`record has no valid ${EDGE_HEADER} header naming its keyBy`);
        entry = id;
      }
      operator = 'deserialize';
      // The writers of one internal topic may write different records (the two sides of a join): each with its own serde.
      const writer = topology.nodes.get(entry);
      const serde = writer?.kind === 'keyBy' ? writer.serde : input.serde;
      const tombstone = record.value === null && tombstones(entry);
      const value = tombstone ? null : serde.deserialize(record.value, record.valueSchemaMetadata ? { ...ctx, schemaMetadata: record.valueSchemaMetadata } : ctx);
      operator = 'deserialize key';
      const key = input.keySerde && record.key ? input.keySerde.deserialize(record.key, record.keySchemaMetadata ? { ...ctx, schemaMetadata: record.keySchemaMetadata } : ctx) : undefined;
      if (input.keySerde && !record.key) throw new Error('record has no key but the stage input is keyed');
      operator = 'eventTime';
      const timestamp = eventTime && !tombstone ? eventTime(value) : eventTimeOf(record);
      if (!Number.isFinite(timestamp)) throw new Error(`event time is ${String(timestamp)}, not a number of epoch ms`);
      const last = runs[runs.length - 1];
      const element = { value, key, keyBytes: record.key, timestamp, origin };
      if (last?.entry === entry) last.elements.push(element);
      else runs.push({ entry, elements: [element] });
    } catch (error) {
      if (topology.settings.onError === 'fail') throw new RecordFailedError(stageName, operator, origin, error);
      deadLetters.push({ record, error: error instanceof Error ? error : new Error(String(error)), operator });
    }
  }
  return { runs, deadLetters };
}
