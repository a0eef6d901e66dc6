import { describe, expect, it } from 'vitest';
import { compile, json, pipeline } from '../../../framework/index.js';
import { deadLetterHeaders, provenanceHeaders } from '../../../framework/record/provenance.js';
import type { KafkaRecord, RecordHeader } from '../../../framework/record/record.js';
import {
  chooseReplays,
  lastProvenance,
  markerRecord,
  parseMarker,
  parseSelection,
  REPLAY_HEADER,
  replayRecord,
  summarizeOffsets,
  toEntry,
  type DeadLetterList,
  type ReplayMarker,
} from '../../../framework/ops/dlq.js';
import { entryLine, formatDeadLetter } from '../../../framework/ops/dlq-format.js';
import { OpsError } from '../../../framework/ops/errors.js';

const T = 1_767_225_600_000;
const DLQ = 'shop.orders.dlq';

const topo = (() => {
  const p = pipeline('shop');
  p.source<{ id: string }>('orders', { serde: json(), partitions: 2 }).sink('out', { serde: json() });
  return compile(p.plan());
})();
const stage = topo.stages[0]!;

const h = (name: string, value: string): RecordHeader => ({ name, value: Buffer.from(value) });

/** A dead letter as the runtime writes it: the input record's headers, the dlq headers, then its own provenance. */
function deadLetter(offset: number, from: { topic?: string; partition?: number; offset?: number } = {}, inputHeaders: RecordHeader[] = []): KafkaRecord {
  return {
    topic: DLQ,
    partition: 0,
    offset,
    timestamp: T,
    timestampType: 'CREATE_TIME',
    key: Buffer.from('k1'),
    value: Buffer.from('{not json'),
    headers: [
      ...inputHeaders,
      ...deadLetterHeaders({ stage: 'orders', topic: from.topic ?? 'orders', partition: from.partition ?? 1, offset: from.offset ?? 40 + offset, errorClass: 'SerdeError', errorMessage: 'deserialize: json: Unexpected token', errorCode: 'SLUICE_SERDE' }),
      ...provenanceHeaders({ task: 'orders.1', seq: 7, idx: 2 }),
    ],
  };
}

function list(records: KafkaRecord[], replayed: number[] = []): DeadLetterList {
  const markers = new Map<string, ReplayMarker>(replayed.map((o) => [`${DLQ}/0/${o}`, { of: { topic: DLQ, partition: 0, offset: o }, to: { topic: 'orders', partition: 1 }, at: T }]));
  const entries = records.map((r) => toEntry(r, markers));
  return { stage: 'orders', topic: DLQ, entries, replayedCount: entries.filter((e) => e.replayed).length };
}

describe('replayRecord', () => {
  it('goes back to the input partition the dead letter came from, with its key, value and time', () => {
    const r = deadLetter(3);
    const out = replayRecord(r, toEntry(r, new Map()).origin!);
    expect(out).toMatchObject({ topic: 'orders', partition: 1, key: Buffer.from('k1'), value: Buffer.from('{not json'), timestamp: T });
  });

  it('keeps the original headers, drops the dead-letter and provenance headers, and names the dead letter it replays', () => {
    const r = deadLetter(3, {}, [h('trace-id', 'abc'), h('sluice-edge', '4'), ...provenanceHeaders({ task: 'up.0', seq: 2, idx: 0 })]);
    const out = replayRecord(r, toEntry(r, new Map()).origin!);
    expect(out.headers.map((x) => [x.name, x.value.toString()])).toEqual([
      ['trace-id', 'abc'],
      ['sluice-edge', '4'],
      [REPLAY_HEADER, `${DLQ}/0/3`],
    ]);
  });

  it('replaces the replay header of an earlier replay of the same record', () => {
    const r = deadLetter(9, {}, [h(REPLAY_HEADER, `${DLQ}/0/3`)]);
    const out = replayRecord(r, toEntry(r, new Map()).origin!);
    expect(out.headers.filter((x) => x.name === REPLAY_HEADER).map((x) => x.value.toString())).toEqual([`${DLQ}/0/9`]);
  });
});

describe('toEntry', () => {
  it('reads the origin, the reason and the task that dead-lettered it', () => {
    const e = toEntry(deadLetter(3), new Map());
    expect(e.origin).toEqual({ stage: 'orders', topic: 'orders', partition: 1, offset: 43, errorClass: 'SerdeError', errorMessage: 'deserialize: json: Unexpected token', errorCode: 'SLUICE_SERDE' });
    expect(e.writtenBy).toEqual({ task: 'orders.1', seq: 7, idx: 2 });
    expect(e.problem).toBeUndefined();
  });

  it('takes the last provenance when the input record carried one too', () => {
    expect(lastProvenance(deadLetter(3, {}, provenanceHeaders({ task: 'up.0', seq: 2, idx: 0 })).headers)).toEqual({ task: 'orders.1', seq: 7, idx: 2 });
  });

  it('names the problem when the dead-letter headers are missing', () => {
    const e = toEntry({ ...deadLetter(3), headers: [] }, new Map());
    expect(e.origin).toBeUndefined();
    expect(e.problem).toBe('no sluice-dlq-* headers: not written by Sluice');
  });
});

describe('replay markers', () => {
  it('round-trip through their record', () => {
    const marker: ReplayMarker = { of: { topic: DLQ, partition: 0, offset: 5 }, to: { topic: 'orders', partition: 1 }, at: T };
    const rec = markerRecord({ app: 'shop', stage: 'orders' }, marker);
    expect(rec.topic).toBe('shop.orders.dlq-replays');
    expect(rec.key?.toString()).toBe(`${DLQ}/0/5`);
    expect(parseMarker({ ...deadLetter(0), value: rec.value })).toEqual(marker);
  });

  it('ignore records that are not markers', () => {
    expect(parseMarker(deadLetter(0))).toBeUndefined();
  });
});

describe('parseSelection', () => {
  it('reads all, offsets and inclusive ranges, sorted and without repeats', () => {
    expect(parseSelection(['all'])).toEqual({ all: true });
    expect(parseSelection(['7', '2-4', '3'])).toEqual({ offsets: [2, 3, 4, 7] });
  });

  it('rejects what is not an offset', () => {
    expect(() => parseSelection(['x'])).toThrow(OpsError);
    expect(() => parseSelection(['5-2'])).toThrow(/runs backwards/);
    expect(() => parseSelection([])).toThrow(/no offsets/);
  });
});

describe('chooseReplays', () => {
  it('replays what was not replayed and reports the rest', () => {
    const { todo, already } = chooseReplays(stage, list([deadLetter(0), deadLetter(1), deadLetter(2)], [1]), { all: true });
    expect(todo.map((e) => e.record.offset)).toEqual([0, 2]);
    expect(already.map((e) => e.record.offset)).toEqual([1]);
  });

  it('takes exactly the offsets asked for', () => {
    expect(chooseReplays(stage, list([deadLetter(0), deadLetter(1), deadLetter(2)]), { offsets: [2] }).todo.map((e) => e.record.offset)).toEqual([2]);
  });

  it('refuses offsets that hold no dead letter, before anything is written', () => {
    expect(() => chooseReplays(stage, list([deadLetter(0), deadLetter(2)]), { offsets: [1, 2, 5, 6] })).toThrow(/offset\(s\) 1, 5-6 of shop\.orders\.dlq hold no committed dead letter/);
  });

  it('refuses a dead letter from a topic the stage does not read', () => {
    expect(() => chooseReplays(stage, list([deadLetter(0, { topic: 'elsewhere' })]), { all: true })).toThrow(/came from elsewhere\/1, which stage orders does not read/);
  });

  it('refuses a dead letter without readable headers', () => {
    expect(() => chooseReplays(stage, list([{ ...deadLetter(0), headers: [] }]), { offsets: [0] })).toThrow(/cannot be replayed: no sluice-dlq-\* headers/);
  });
});

describe('summarizeOffsets', () => {
  it('folds runs into ranges', () => {
    expect(summarizeOffsets([9, 1, 2, 3, 7, 10, 11, 12])).toBe('1-3, 7, 9-12');
    expect(summarizeOffsets([])).toBe('none');
  });
});

describe('dead-letter text', () => {
  it('shows one entry per line with origin, reason and replay state', () => {
    const l = list([deadLetter(3)], [3]);
    expect(entryLine(l.entries[0]!)).toBe(`       3  2026-01-01T00:00:00.000Z  orders/1@43  SerdeError SLUICE_SERDE: deserialize: json: Unexpected token  [replayed 2026-01-01T00:00:00.000Z]`);
  });

  it('shows a binary value framed for a schema registry with its schema id and reason', () => {
    const base = deadLetter(3);
    const framedValue = Buffer.from([0, 0, 0, 0x7f, 0x01, 2, 0x61]);
    const headers = [
      ...deadLetterHeaders({ stage: 'orders', topic: 'orders', partition: 1, offset: 43, errorClass: 'SerdeError', errorMessage: 'avro: schema id 32513 is not in the registry', errorCode: 'SLUICE_SCHEMA_UNKNOWN_ID' }),
    ];
    const text = formatDeadLetter(toEntry({ ...base, value: framedValue, headers }, new Map()));
    expect(text).toContain('  error      SerdeError (SLUICE_SCHEMA_UNKNOWN_ID)');
    expect(text).toContain('  message    avro: schema id 32513 is not in the registry');
    expect(text).toContain(`  value      Confluent wire format, schema id 32513, 2 payload bytes: base64:${framedValue.toString('base64')}`);
  });

  it('shows a whole dead letter with its value as text', () => {
    const text = formatDeadLetter(toEntry(deadLetter(3), new Map()));
    expect(text).toContain('  from       orders partition 1 offset 43');
    expect(text).toContain('  value      {not json');
    expect(text).toContain('  replayed   no');
    expect(text).toContain('  written by task orders.1, batch 7, index 2');
  });
});
