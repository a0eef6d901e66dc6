import { describe, expect, it } from 'vitest';
import { decodeTime, encodeTime } from '../../../framework/time/time-codec.js';
import { INITIAL_TIME, type TimeState } from '../../../framework/time/watermark.js';

const busy: TimeState = {
  wm: 1_700_000_009_000,
  idle: false,
  maxTs: 1_700_000_011_000,
  lastDataAt: 1_700_000_100_000,
  now: 1_700_000_100_500,
  since: 1_700_000_000_000,
  up: {
    'views.0': { wm: 1_700_000_009_000, idle: false, queue: [{ fence: 41, wm: 1_700_000_010_000, idle: false }] },
    'views.1': { wm: 1_700_000_008_000, idle: true, queue: [] },
  },
  written: { 'ysb.counts.in': { '0': 12, '3': 7 } },
  sentWm: 1_700_000_008_999,
  sentIdle: true,
  sentAt: 1_700_000_099_000,
  procDue: 1_700_000_160_000,
};

describe('the stored form of a time state', () => {
  it('round-trips the initial state and a busy one', () => {
    expect(decodeTime(encodeTime(INITIAL_TIME))).toEqual(INITIAL_TIME);
    expect(decodeTime(encodeTime(busy))).toEqual(busy);
  });

  it('leaves out what is at its initial value', () => {
    expect(encodeTime(INITIAL_TIME)).toBe('{}');
    expect(JSON.parse(encodeTime({ ...INITIAL_TIME, wm: 5 }))).toEqual({ w: 5 });
  });

  it('is at most two thirds of the plain JSON of a busy state (272 vs 413 bytes)', () => {
    expect(Buffer.byteLength(encodeTime(busy)) * 3).toBeLessThanOrEqual(Buffer.byteLength(JSON.stringify(busy)) * 2);
  });

  it('reads the plain JSON earlier versions wrote, with fields they lacked at their initial value', () => {
    const { procDue: _, ...old } = busy;
    expect(decodeTime(JSON.stringify(old))).toEqual({ ...busy, procDue: null });
  });
});
