import { describe, expect, it } from 'vitest';
import { parseSavepoint, savepointLines, SAVEPOINT_VERSION } from '../../../framework/ops/savepoint-format.js';
import { timerEntriesOfV1 } from '../../../framework/ops/savepoint.js';

const sp = {
  header: { app: 'shop', stage: 'by-user', exportedAt: '2026-01-01T00:00:00.000Z', tasks: ['by-user.0', 'by-user.1'] },
  checkpoints: [
    { type: 'checkpoint' as const, task: 'by-user.0', exists: true, committedSeq: 4, holes: [2], nextOffset: 17, time: { wm: 5 } },
    { type: 'checkpoint' as const, task: 'by-user.1', exists: false, committedSeq: 0, holes: [], nextOffset: -1, time: {} },
  ],
  state: [{ type: 'state' as const, task: 'by-user.0', key: Buffer.from('"ann"').toString('base64'), name: 'count', value: Buffer.from('3').toString('base64'), expiresAt: 1_800_000_000_000 }],
  timers: [],
};

/** A version-1 file (per-key items): event time in `extra`, timers as items. */
const v1 = [
  { format: 'sluice-savepoint', version: 1, app: 'shop', stage: 'by-user', exportedAt: '2026-01-01T00:00:00.000Z', tasks: ['by-user.0'], counts: { checkpoint: 1, state: 0, timer: 2 } },
  { type: 'checkpoint', task: 'by-user.0', exists: true, committedSeq: 4, holes: [], nextOffset: 17, extra: { time: { wm: 5 } } },
  // 2^53 − 1 + 1767225600000 = 9008966480340991: a timer at 2026-01-01 of key "ann".
  { type: 'timer', task: 'by-user.0', sk: 'e#09008966480340991#ImFubiI#window-3', value: 'AQ==' },
  { type: 'timer', task: 'by-user.0', sk: 'p#09008966480340991#ImFubiI#process-2', value: 'AQ==' },
]
  .map((l) => JSON.stringify(l))
  .join('\n');

describe('savepoint files', () => {
  it('start with a header that names the format, version, stage, tasks and counts', () => {
    const header = JSON.parse(savepointLines(sp)[0]!) as Record<string, unknown>;
    expect(header).toEqual({ format: 'sluice-savepoint', version: SAVEPOINT_VERSION, ...sp.header, counts: { checkpoint: 2, state: 1, timer: 0 } });
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
    expect(() => parseSavepoint(lines.join('\n'), 'sp.jsonl')).toThrow(/format version 3; this Sluice reads up to 2/);
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
    expect(() => parseSavepoint(lines.join('\n'), 'sp.jsonl')).toThrow(/sp\.jsonl:5: unknown line type "mystery"/);
  });
});

describe('version-1 savepoints (per-key state items)', () => {
  it('parse, with event time in the checkpoint extras and timers as items', () => {
    const parsed = parseSavepoint(v1, 'old.jsonl');
    expect(parsed.header.version).toBe(1);
    expect(parsed.checkpoints[0]).toMatchObject({ committedSeq: 4, extra: { time: { wm: 5 } } });
    expect(parsed.timers).toHaveLength(2);
  });

  it("turn a process operator's timers into its timer set and drop window timers (they follow from window state)", () => {
    const entries = timerEntriesOfV1(parseSavepoint(v1, 'old.jsonl').timers);
    expect(entries.map((e) => [e.task, e.entry.key.toString(), e.entry.name, e.entry.value?.bytes.toString()])).toEqual([['by-user.0', '"ann"', 'process-2', JSON.stringify({ e: [], p: [1_767_225_600_000] })]]);
  });

  it('a version-2 file has no timer lines', () => {
    const lines = savepointLines(sp);
    lines.push(JSON.stringify({ type: 'timer', task: 'by-user.0', sk: 'e#1#a#b', value: '' }));
    expect(() => parseSavepoint(lines.join('\n'), 'sp.jsonl')).toThrow(/sp\.jsonl:5: timer lines exist only in version-1 savepoints/);
  });
});
