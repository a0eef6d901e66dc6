import { describe, expect, it } from 'vitest';
import type { RecordHeader } from '../../../framework/record/record.js';
import {
  DEAD_LETTER_MESSAGE_LIMIT,
  HeaderError,
  deadLetterHeaders,
  provenanceHeaders,
  readDeadLetter,
  readProvenance,
} from '../../../framework/record/provenance.js';
import type { DeadLetter } from '../../../framework/record/provenance.js';

const text = (name: string, value: string): RecordHeader => ({ name, value: Buffer.from(value, 'utf8') });

describe('provenance headers', () => {
  it('are sluice-src, sluice-seq and sluice-idx as UTF-8 text', () => {
    expect(provenanceHeaders({ task: 'ysb.window.3', seq: 17, idx: 0 })).toEqual([
      text('sluice-src', 'ysb.window.3'),
      text('sluice-seq', '17'),
      text('sluice-idx', '0'),
    ]);
  });

  it('read back as written, among other headers', () => {
    const headers = [text('content-type', 'application/json'), ...provenanceHeaders({ task: 'ysb.window.3', seq: 9007199254740991, idx: 42 })];
    expect(readProvenance(headers)).toEqual({ task: 'ysb.window.3', seq: 9007199254740991, idx: 42 });
  });

  it('are absent from a record Sluice did not write', () => {
    expect(readProvenance([text('trace', 'abc')])).toBeUndefined();
    expect(readProvenance([])).toBeUndefined();
  });

  it('are malformed when one is missing, naming it and the record', () => {
    const headers = provenanceHeaders({ task: 't', seq: 1, idx: 2 }).filter((h) => h.name !== 'sluice-idx');
    const place = { topic: 'out', partition: 1, offset: 9 };
    expect(() => readProvenance(headers, place)).toThrow(HeaderError);
    expect(() => readProvenance(headers, place)).toThrow('header sluice-idx is missing [topic=out partition=1 offset=9 field=sluice-idx]');
  });

  it('are malformed when one repeats', () => {
    const headers = [...provenanceHeaders({ task: 't', seq: 1, idx: 2 }), text('sluice-seq', '1')];
    expect(() => readProvenance(headers)).toThrow('header sluice-seq appears more than once');
  });

  it.each([['-1'], ['1.0'], ['01'], [''], ['9007199254740993']])('are malformed when sluice-seq is %j', (seq) => {
    const headers = [text('sluice-src', 't'), text('sluice-seq', seq), text('sluice-idx', '0')];
    expect(() => readProvenance(headers)).toThrow(HeaderError);
  });

  it('refuse to write a negative or fractional sequence number', () => {
    expect(() => provenanceHeaders({ task: 't', seq: -1, idx: 0 })).toThrow('sluice-seq needs a non-negative integer, got -1');
    expect(() => provenanceHeaders({ task: 't', seq: 1, idx: 0.5 })).toThrow(HeaderError);
    expect(() => provenanceHeaders({ task: '', seq: 1, idx: 0 })).toThrow(HeaderError);
  });
});

describe('dead-letter headers', () => {
  const dead: DeadLetter = {
    stage: 'enrich',
    topic: 'ysb.enrich.in',
    partition: 4,
    offset: 1201,
    errorClass: 'SerdeError',
    errorMessage: 'json: value does not match the schema: event_time: expected number',
    errorCode: 'SLUICE_SERDE',
  };

  it('carry where the record came from and why it failed', () => {
    expect(deadLetterHeaders(dead)).toEqual([
      text('sluice-dlq-stage', 'enrich'),
      text('sluice-dlq-topic', 'ysb.enrich.in'),
      text('sluice-dlq-partition', '4'),
      text('sluice-dlq-offset', '1201'),
      text('sluice-dlq-error-class', 'SerdeError'),
      text('sluice-dlq-error', 'json: value does not match the schema: event_time: expected number'),
      text('sluice-dlq-error-code', 'SLUICE_SERDE'),
    ]);
  });

  it('read back as written', () => {
    expect(readDeadLetter(deadLetterHeaders(dead))).toEqual(dead);
  });

  it('leave out the code of an error that has none', () => {
    const { errorCode: _code, ...plain } = dead;
    const headers = deadLetterHeaders({ ...plain, errorClass: 'TypeError' });
    expect(headers.map((h) => h.name)).not.toContain('sluice-dlq-error-code');
    expect(readDeadLetter(headers)).toEqual({ ...plain, errorClass: 'TypeError' });
  });

  it('keep an empty error message', () => {
    expect(readDeadLetter(deadLetterHeaders({ ...dead, errorMessage: '' }))?.errorMessage).toBe('');
  });

  it('cut a long message to the limit at a character boundary, ending in …', () => {
    const message = 'é'.repeat(5000); // 10,000 bytes of 2-byte characters
    const header = deadLetterHeaders({ ...dead, errorMessage: message }).find((h) => h.name === 'sluice-dlq-error');
    expect(header?.value.length).toBe(4095); // 2,046 characters (4,092 bytes) + 3-byte ellipsis
    expect(header?.value.toString('utf8')).toBe(`${'é'.repeat(2046)}…`);
    expect(DEAD_LETTER_MESSAGE_LIMIT).toBe(4096);
  });

  it('keep a message of exactly the limit whole', () => {
    const message = 'x'.repeat(DEAD_LETTER_MESSAGE_LIMIT);
    expect(readDeadLetter(deadLetterHeaders({ ...dead, errorMessage: message }))?.errorMessage).toBe(message);
  });

  it('are absent from a record that was not dead-lettered', () => {
    expect(readDeadLetter(provenanceHeaders({ task: 't', seq: 1, idx: 0 }))).toBeUndefined();
  });

  it('are malformed when the offset is not a number', () => {
    const headers = deadLetterHeaders(dead).map((h) => (h.name === 'sluice-dlq-offset' ? text(h.name, 'soon') : h));
    expect(() => readDeadLetter(headers)).toThrow('header sluice-dlq-offset is not a non-negative integer: "soon"');
  });

  it('are malformed when a header is not UTF-8', () => {
    const headers = deadLetterHeaders(dead).map((h) => (h.name === 'sluice-dlq-stage' ? { name: h.name, value: Buffer.from([0xff]) } : h));
    expect(() => readDeadLetter(headers)).toThrow('header sluice-dlq-stage is not valid UTF-8');
  });
});
