/**
 * The probe record that in-doubt resolution commits to a task's progress partition (both sinks,
 * kafkajs and platformatic): reading back up to its offset tells what every reader sees there.
 * Its key differs from the task's progress key so log compaction never removes a progress record
 * in its favour.
 */
import type { OutgoingRecord } from '../record/record.js';

/** The probe of `task` with `nonce`, for `topic`/`partition`. */
export function probeRecord(topic: string, partition: number, task: string, nonce: string): OutgoingRecord {
  return { topic, partition, key: Buffer.from(`${task}#probe`), value: Buffer.from(JSON.stringify({ task, probe: nonce })), headers: [] };
}

/** Whether a record's value is the probe with `nonce`. */
export function isProbe(value: Buffer | null, nonce: string): boolean {
  try {
    return (JSON.parse(value?.toString('utf8') ?? 'null') as { probe?: unknown } | null)?.probe === nonce;
  } catch {
    return false;
  }
}
