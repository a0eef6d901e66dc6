/**
 * How a PlatformaticTxnSink cuts a send into produce requests (pure; no import of the library at
 * run time).
 *
 * Besides the size limit (a request, and so every record batch in it, must stay below the
 * topics' max.message.bytes), there is a timestamp limit. @platformatic/kafka writes each
 * record's timestamp as a delta from the first record of its batch (one batch per partition per
 * request), and its varint writer (@platformatic/dynamic-buffer 0.3.1, writeVarInt64) keeps only
 * 32 bits of the zigzag-encoded delta: a delta outside [-2^31, 2^31 - 1] ms (about 24.8 days) is
 * written wrong, silently (measured: a record with timestamp 1700000000123 after one stamped
 * "now" was read back as 1700000000133). Sluice writes event time as the timestamp of sink
 * records, which may lie far apart in one batch (a replay, late data). So a record whose
 * timestamp is too far from the first of its partition in the current request starts a new
 * request; and records without a timestamp get the send time explicitly, which is what the
 * library would give them, so the rule sees every timestamp.
 */
import type { OutgoingRecord } from '../../record/record.js';
import { estimatedSize } from '../record-batches.js';

/** A record with the partition the sink chose for it. */
export interface Routed {
  readonly record: OutgoingRecord;
  readonly partition: number;
}

/** The largest timestamp delta (ms, either sign) the library writes correctly: |delta| ≤ 2^31 - 1. */
export const MAX_TIMESTAMP_DELTA_MS = 2 ** 31 - 1;

/**
 * Consecutive runs of records, one produce request each: the estimated size stays within
 * `maxBytes` (a bigger record goes alone), and within each partition every timestamp is within
 * MAX_TIMESTAMP_DELTA_MS of the partition's first one. Records without a timestamp get `now`.
 */
export function requestsOf(routed: readonly Routed[], maxBytes: number, now: number): Routed[][] {
  const chunks: Routed[][] = [];
  let current: Routed[] = [];
  let size = 0;
  let firstTimestamps = new Map<string, number>();
  for (const r of routed) {
    const stamped: Routed = r.record.timestamp === undefined ? { ...r, record: { ...r.record, timestamp: now } } : r;
    const timestamp = stamped.record.timestamp!;
    const where = `${r.record.topic}\u0000${r.partition}`;
    const first = firstTimestamps.get(where);
    const s = estimatedSize(r.record);
    const tooBig = current.length > 0 && size + s > maxBytes;
    const tooFar = first !== undefined && Math.abs(timestamp - first) > MAX_TIMESTAMP_DELTA_MS;
    if (tooBig || tooFar) {
      chunks.push(current);
      current = [];
      size = 0;
      firstTimestamps = new Map();
    }
    if (!firstTimestamps.has(where)) firstTimestamps.set(where, timestamp);
    current.push(stamped);
    size += s;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
