import { describe, expect, it } from 'vitest';
import { parseSavepoint, savepointLines, SAVEPOINT_VERSION } from '../../../framework/ops/savepoint-format.js';
import { committedItem, lastUsedSeq } from '../../../framework/ops/savepoint.js';
import { EMPTY_CHECKPOINT } from '../../../framework/dynamodb/layout.js';

const sp = {
  header: { app: 'shop', stage: 'by-user', exportedAt: '2026-01-01T00:00:00.000Z', tasks: ['by-user.0', 'by-user.1'] },
  checkpoints: [
    { type: 'checkpoint' as const, task: 'by-user.0', exists: true, committedSeq: 4, holes: [2], nextOffset: 17, extra: { wm: 5 } },
    { type: 'checkpoint' as const, task: 'by-user.1', exists: false, committedSeq: 0, holes: [], nextOffset: -1, extra: {} },
  ],
  state: [{ type: 'state' as const, task: 'by-user.0', key: Buffer.from('"ann"').toString('base64'), name: 'count', value: Buffer.from('3').toString('base64'), expiresAt: 1_800_000_000_000 }],
  timers: [{ type: 'timer' as const, task: 'by-user.0', sk: 'e#0000001767225600000#ImFubiI#window-3', value: Buffer.from('{}').toString('base64') }],
};

describe('savepoint files', () => {
  it('start with a header that names the format, version, stage, tasks and counts', () => {
    const header = JSON.parse(savepointLines(sp)[0]!) as Record<string, unknown>;
    expect(header).toEqual({ format: 'sluice-savepoint', version: SAVEPOINT_VERSION, ...sp.header, counts: { checkpoint: 2, state: 1, timer: 1 } });
  });

  it('round-trip', () => {
    const parsed = parseSavepoint(savepointLines(sp).join('\n'), 'sp.jsonl');
    expect(parsed.checkpoints).toEqual(sp.checkpoints);
    expect(parsed.state).toEqual(sp.state);
    expect(parsed.timers).toEqual(sp.timers);
    expect(parsed.header.stage).toBe('by-user');
  });

  it('refuse a file that is not a savepoint', () => {
    expect(() => parseSavepoint('{"hello":1}\n', 'x.jsonl')).toThrow(/x\.jsonl:1: not a savepoint/);
    expect(() => parseSavepoint('nope', 'x.jsonl')).toThrow(/x\.jsonl:1: not JSON/);
  });

  it('refuse a newer format version', () => {
    const lines = savepointLines(sp);
    lines[0] = JSON.stringify({ ...(JSON.parse(lines[0]!) as object), version: SAVEPOINT_VERSION + 1 });
    expect(() => parseSavepoint(lines.join('\n'), 'sp.jsonl')).toThrow(/format version 2; this Sluice reads up to 1/);
  });

  it('refuse a file cut short', () => {
    const lines = savepointLines(sp).slice(0, -1);
    expect(() => parseSavepoint(lines.join('\n'), 'sp.jsonl')).toThrow(/sp\.jsonl is incomplete/);
  });

  it('refuse a line of a task the header does not list, naming the line', () => {
    const lines = savepointLines(sp);
    lines[3] = JSON.stringify({ ...sp.state[0], task: 'by-user.9' });
    expect(() => parseSavepoint(lines.join('\n'), 'sp.jsonl')).toThrow(/sp\.jsonl:4: task "by-user\.9" is not in the header's tasks/);
  });

  it('refuse unknown line types', () => {
    const lines = [...savepointLines(sp), JSON.stringify({ type: 'mystery', task: 'by-user.0' })];
    expect(() => parseSavepoint(lines.join('\n'), 'sp.jsonl')).toThrow(/sp\.jsonl:6: unknown line type "mystery"/);
  });
});

describe('imported items', () => {
  it('hold the value as committed, owned by the task, with a TTL when it expires', () => {
    expect(committedItem({ pk: 'state#shop#by-user#ImFubiI', sk: 'count' }, 'by-user.0', { value: Buffer.from('3').toString('base64'), expiresAt: 1_800_000_000_500 })).toEqual({
      pk: { S: 'state#shop#by-user#ImFubiI' },
      sk: { S: 'count' },
      p: { S: 'by-user.0' },
      v: { B: Buffer.from('3') },
      ve: { N: '1800000000500' },
      ttl: { N: '1800000001' },
    });
  });

  it('never reuse a batch seq: the last used counts holes and the pending batch', () => {
    expect(lastUsedSeq({ ...EMPTY_CHECKPOINT, committedSeq: 4, holes: [6] })).toBe(6);
    expect(lastUsedSeq(EMPTY_CHECKPOINT)).toBe(0);
  });
});
