/** The compact text view of `sluice status` (pure). */
import { formatDuration, type PipelineStatus, type TaskStatus } from './status.js';

const HEADER = ['STAGE', 'TASK', 'INPUT', 'END', 'NEXT', 'LAG', 'SEQ', 'VER', 'PENDING', 'WATERMARK', 'IDLE'] as const;
// Numbers read best right-aligned.
const RIGHT = new Set(['END', 'NEXT', 'LAG', 'SEQ', 'VER']);

/** The status as an aligned table, dead-letter lines and attention lines. */
export function formatStatus(status: PipelineStatus): string {
  const rows: string[][] = [];
  for (const stage of status.stages) {
    for (const t of stage.tasks) rows.push([stage.stage, t.task, `${t.topic}/${t.partition}`, num(t.endOffset), t.nextOffset < 0 ? '-' : String(t.nextOffset), num(t.lag), String(t.committedSeq), String(t.version), pendingCell(t), watermarkCell(t), idleCell(t)]);
  }
  const widths = HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (RIGHT.has(HEADER[i]!) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [`pipeline ${status.app} · table ${status.table} · brokers ${status.brokers.join(',')} · ${status.at}`, '', line(HEADER), ...rows.map(line), ''];
  out.push('dead letters');
  const topicWidth = Math.max(0, ...status.stages.map((s) => s.deadLetterTopic.length));
  for (const s of status.stages) {
    const count = s.deadLetterOffsets === null ? 'topic missing' : s.deadLetterOffsets === 0 ? 'none' : `end offset ${s.deadLetterOffsets} (records + transaction markers; \`sluice dlq list\` counts them)`;
    out.push(`  ${s.stage.padEnd(widths[0]!)}  ${s.deadLetterTopic.padEnd(topicWidth)}  ${count}`);
  }
  out.push('');
  if (status.attention.length === 0) out.push('ok: nothing needs attention');
  else out.push(`needs attention (${status.attention.length}):`, ...status.attention.map((a) => `  - ${a}`));
  return out.join('\n');
}

function num(n: number | null): string {
  return n === null ? '?' : String(n);
}

function pendingCell(t: TaskStatus): string {
  if (!t.pending) return '-';
  return `seq ${t.pending.seq} ${t.pending.ageMs === null ? '(age ?)' : formatDuration(t.pending.ageMs)}`;
}

function watermarkCell(t: TaskStatus): string {
  return t.watermark === null ? '-' : new Date(t.watermark).toISOString();
}

function idleCell(t: TaskStatus): string {
  return t.idle === null ? '-' : t.idle ? 'idle' : 'active';
}
