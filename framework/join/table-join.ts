/**
 * The stream-table join of one key, pure (Kafka Streams' KStream-KTable join): the table side's
 * records are upserts of the key's row (a null value is a tombstone and deletes it); a stream
 * record joins the row the key has when the record is processed. Not temporal: a stream record
 * never waits for a row, and a later update of the row never revisits an earlier stream record.
 * docs/joins.md ("Processing order") says what that means for records of one key.
 */
import type { TableJoinSpec } from './spec.js';

/** The key's row after a table record with `value` (undefined: no row). */
export function rowAfter(value: unknown): unknown {
  return value === null || value === undefined ? undefined : value;
}

/** What a stream record with `value` emits against the key's current `row`: a pair, or nothing (inner join, no row). */
export function joinWithRow(spec: TableJoinSpec, value: unknown, row: unknown): { left: unknown; right: unknown } | undefined {
  if (row === undefined) return spec.type === 'left' ? { left: value, right: null } : undefined;
  return { left: value, right: row };
}
