/**
 * The stored form of a task's TimeState: compact JSON, because it rides in every checkpoint and
 * batch record and DynamoDB bills writes per started KB. Short keys; fields at their initial value
 * are left out; each upstream task is an array `[wm, idle, fence₁, wm₁, idle₁, …]` of its applied
 * mark and its queue. A YSB counts task's time state takes ~110 bytes instead of ~350. Decoding
 * also reads the plain-JSON form Sluice wrote before (any object with a `wm` key).
 */
import { INITIAL_TIME, type TimeState, type UpstreamState } from './watermark.js';

const KEYS = {
  wm: 'w',
  idle: 'i',
  maxTs: 'm',
  lastDataAt: 'l',
  now: 'n',
  since: 's',
  sentWm: 'sw',
  sentIdle: 'si',
  sentAt: 'sa',
  procDue: 'p',
} as const satisfies Partial<Record<keyof TimeState, string>>;

type Scalar = keyof typeof KEYS;

/** Encodes a time state as compact JSON. */
export function encodeTime(t: TimeState): string {
  const o: Record<string, unknown> = {};
  for (const [field, key] of Object.entries(KEYS) as [Scalar, string][]) {
    const v = t[field];
    if (v !== INITIAL_TIME[field]) o[key] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
  }
  const up = Object.entries(t.up);
  if (up.length > 0) o['u'] = Object.fromEntries(up.map(([from, u]) => [from, [u.wm, u.idle ? 1 : 0, ...u.queue.flatMap((m) => [m.fence, m.wm, m.idle ? 1 : 0])]]));
  if (Object.keys(t.written).length > 0) o['r'] = t.written;
  return JSON.stringify(o);
}

/** Decodes a time state written by `encodeTime` (or the plain JSON of earlier versions). */
export function decodeTime(text: string): TimeState {
  const o = JSON.parse(text) as Record<string, unknown>;
  if ('wm' in o) return { ...INITIAL_TIME, ...(o as Partial<TimeState>) };
  const t: Record<string, unknown> = { ...INITIAL_TIME };
  for (const [field, key] of Object.entries(KEYS) as [Scalar, string][]) {
    if (!(key in o)) continue;
    const v = o[key];
    t[field] = typeof INITIAL_TIME[field] === 'boolean' ? v === 1 : v;
  }
  const up = (o['u'] ?? {}) as Record<string, number[]>;
  t['up'] = Object.fromEntries(Object.entries(up).map(([from, a]) => [from, upstreamOf(a)]));
  t['written'] = (o['r'] ?? {}) as TimeState['written'];
  return t as unknown as TimeState;
}

function upstreamOf(a: readonly number[]): UpstreamState {
  const queue: { fence: number; wm: number; idle: boolean }[] = [];
  for (let i = 2; i + 2 < a.length; i += 3) queue.push({ fence: a[i]!, wm: a[i + 1]!, idle: a[i + 2] === 1 });
  return { wm: a[0]!, idle: a[1] === 1, queue };
}
