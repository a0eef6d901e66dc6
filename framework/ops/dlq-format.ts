/** Text views of `sluice dlq list` and `sluice dlq show` (pure). */
import type { RecordHeader } from '../record/record.js';
import type { DeadLetterEntry, DeadLetterList } from './dlq.js';

/** The list: counts, then the most recent `limit` entries, newest last. */
export function formatDeadLetterList(list: DeadLetterList, limit: number): string {
  const total = list.entries.length;
  const lines = [`stage ${list.stage} · ${list.topic} · ${total} dead letter(s), ${list.replayedCount} replayed`];
  if (total === 0) return lines.join('\n');
  const shown = list.entries.slice(Math.max(0, total - limit));
  if (shown.length < total) lines.push(`(the last ${shown.length}; --limit shows more)`);
  lines.push('');
  for (const e of shown) lines.push(entryLine(e));
  return lines.join('\n');
}

/** One entry in one line: offset, time, origin, reason, replay state. */
export function entryLine(e: DeadLetterEntry): string {
  const at = new Date(e.record.timestamp).toISOString();
  const from = e.origin ? `${e.origin.topic}/${e.origin.partition}@${e.origin.offset}` : '?';
  const why = e.origin ? `${e.origin.errorClass}${e.origin.errorCode ? ` ${e.origin.errorCode}` : ''}: ${oneLine(e.origin.errorMessage, 120)}` : `unreadable headers: ${e.problem ?? '?'}`;
  const replayed = e.replayed ? `  [replayed ${new Date(e.replayed.at).toISOString()}]` : '';
  return `  ${String(e.record.offset).padStart(6)}  ${at}  ${from}  ${why}${replayed}`;
}

/** Everything about one dead letter. */
export function formatDeadLetter(e: DeadLetterEntry): string {
  const r = e.record;
  const lines = [`dead letter ${r.topic}/${r.partition}@${r.offset}  (${new Date(r.timestamp).toISOString()})`];
  if (e.origin) {
    lines.push(`  stage      ${e.origin.stage}`);
    lines.push(`  from       ${e.origin.topic} partition ${e.origin.partition} offset ${e.origin.offset}`);
    lines.push(`  error      ${e.origin.errorClass}${e.origin.errorCode ? ` (${e.origin.errorCode})` : ''}`);
    lines.push(`  message    ${e.origin.errorMessage}`);
  } else {
    lines.push(`  headers    unreadable: ${e.problem ?? '?'}`);
  }
  if (e.writtenBy) lines.push(`  written by task ${e.writtenBy.task}, batch ${e.writtenBy.seq}, index ${e.writtenBy.idx}`);
  lines.push(`  replayed   ${e.replayed ? `${new Date(e.replayed.at).toISOString()} to ${e.replayed.to.topic}/${e.replayed.to.partition}` : 'no'}`);
  lines.push(`  key        ${renderBytes(r.key)}`);
  lines.push(`  value      ${renderBytes(r.value)}`);
  if (r.headers.length > 0) {
    lines.push('  headers');
    for (const h of r.headers) lines.push(`    ${h.name} = ${renderBytes(h.value)}`);
  }
  return lines.join('\n');
}

/** A dead letter as plain JSON (bytes as UTF-8 text when they are, else base64). */
export function deadLetterJson(e: DeadLetterEntry): Record<string, unknown> {
  const r = e.record;
  return {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    origin: e.origin ?? null,
    problem: e.problem ?? null,
    writtenBy: e.writtenBy ?? null,
    replayed: e.replayed ?? null,
    key: bytesJson(r.key),
    value: bytesJson(r.value),
    headers: r.headers.map((h: RecordHeader) => ({ name: h.name, value: bytesJson(h.value) })),
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function textOf(bytes: Buffer): string | undefined {
  try {
    const s = utf8.decode(bytes);
    // Control characters other than tab/newline make a terminal unreadable: show base64 then.
    return [...s].some(isControl) ? undefined : s;
  } catch {
    return undefined;
  }
}

function isControl(ch: string): boolean {
  const c = ch.charCodeAt(0);
  return c < 0x20 && ch !== '\t' && ch !== '\n' && ch !== '\r';
}

function renderBytes(bytes: Buffer | null): string {
  if (bytes === null) return '(null)';
  const s = textOf(bytes);
  if (s !== undefined) return s;
  // Binary values framed for a schema registry (Confluent: magic byte 0 + int32 id) name their schema.
  const framing = bytes.length >= 5 && bytes[0] === 0 ? `Confluent wire format, schema id ${bytes.readInt32BE(1)}, ${bytes.length - 5} payload bytes: ` : '';
  return `${framing}base64:${bytes.toString('base64')}`;
}

function bytesJson(bytes: Buffer | null): { text: string } | { base64: string } | null {
  if (bytes === null) return null;
  const s = textOf(bytes);
  return s === undefined ? { base64: bytes.toString('base64') } : { text: s };
}

function oneLine(s: string, max: number): string {
  const flat = s.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
