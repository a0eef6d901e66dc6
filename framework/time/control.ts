/**
 * Records on a stage's control topic. Two kinds:
 *  - watermark marks from an upstream task: `{from, watermark, fence, idle}`, written in
 *    the upstream task's commit transaction to every partition of the downstream control
 *    topic; `fence` is the last offset that task wrote to the matching data partition
 *    (-1 = none), so the mark is applied only once the data it covers has been read;
 *  - ticks from the ticker: `{tick}` (processing time), which wake source stages so idle
 *    partitions are noticed and processing-time timers fire.
 */
import type { OutgoingRecord } from '../record/record.js';

/** A watermark mark from an upstream task. */
export interface WatermarkMark {
  readonly kind: 'watermark';
  readonly from: string;
  readonly watermark: number;
  readonly fence: number;
  readonly idle: boolean;
}

/** A processing-time tick. */
export interface Tick {
  readonly kind: 'tick';
  readonly tick: number;
}

/** Any control record. */
export type ControlRecord = WatermarkMark | Tick;

/** The lowest watermark: nothing is known yet. JSON cannot carry -Infinity, so it is a number. */
export const MIN_WATERMARK = -Number.MAX_SAFE_INTEGER;

/** Encodes a control record's value. */
export function encodeControl(c: ControlRecord): Buffer {
  return Buffer.from(JSON.stringify(c.kind === 'tick' ? { tick: c.tick } : { from: c.from, watermark: c.watermark, fence: c.fence, idle: c.idle }));
}

/** Decodes a control record's value; undefined for anything that is not one (it is skipped, and counted by the caller). */
export function decodeControl(value: Buffer | null): ControlRecord | undefined {
  if (!value) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.tick === 'number' && Number.isFinite(o.tick)) return { kind: 'tick', tick: o.tick };
  if (typeof o.from === 'string' && typeof o.watermark === 'number' && typeof o.fence === 'number' && typeof o.idle === 'boolean') {
    return { kind: 'watermark', from: o.from, watermark: o.watermark, fence: o.fence, idle: o.idle };
  }
  return undefined;
}

/** The highest data offset the watermark marks among `values` cover; -1 when none covers data (pure). */
export function highestFence(values: Iterable<Buffer | null>): number {
  let fence = -1;
  for (const v of values) {
    const c = decodeControl(v);
    if (c?.kind === 'watermark') fence = Math.max(fence, c.fence);
  }
  return fence;
}

/** A control record to one partition of a control topic. */
export function controlRecord(topic: string, partition: number, c: ControlRecord): OutgoingRecord {
  return { topic, partition, key: null, value: encodeControl(c), headers: [] };
}
