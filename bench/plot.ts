/**
 * The benchmark figure as a self-contained SVG (no browser, no library): throughput of every
 * configuration with the targets drawn in, and its end-to-end and stage-added latency
 * percentiles on a log scale.
 */
import type { BenchReport } from './report.js';
import { throughput } from './report.js';

const COLORS: Record<string, string> = { raw: '#7f7f7f', kstreams: '#d95f02', sluice: '#1b9e77' };
const WIDTH = 960;
const LABEL = 200;
const ROW = 26;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`;
}

/** Renders the report's figure. */
export function renderSvg(r: BenchReport): string {
  const results = r.results;
  const n = results.length;
  const plotW = WIDTH - LABEL - 140;
  const parts: string[] = [];
  let y = 30;
  parts.push(text(12, y, `Sluice benchmarks (${r.settings.preset}), ${r.startedAt.slice(0, 10)}, ${r.machine.cpus} cores / ${r.machine.memoryGiB.toFixed(0)} GiB — YSB workload`, 'font-weight="bold" font-size="15"'));

  // Throughput.
  y += 28;
  parts.push(text(12, y, 'Throughput, drain phase (events/s after warm-up, verified against the oracle; bar = median, whisker = min–max of the runs)', 'font-weight="bold"'));
  y += 36;
  const max = Math.max(1, ...results.flatMap((c) => [c.drain?.eventsPerSecond ?? 0, ...(c.drain?.runs ?? []).filter((x) => Number.isFinite(x))]));
  const scale = niceMax(max);
  const xOf = (v: number): number => LABEL + (v / scale) * plotW;
  const top = y;
  results.forEach((c, i) => {
    const rowY = top + i * ROW;
    const v = c.drain?.eventsPerSecond ?? 0;
    parts.push(text(LABEL - 8, rowY + 17, c.name, 'text-anchor="end"'));
    parts.push(`<rect x="${LABEL}" y="${rowY + 4}" width="${Math.max(0, xOf(v) - LABEL).toFixed(1)}" height="${ROW - 8}" fill="${COLORS[c.engine] ?? '#666'}" ${c.ok ? '' : 'fill-opacity="0.3"'}/>`);
    const runs = (c.drain?.runs ?? []).filter((x) => Number.isFinite(x));
    let labelX = xOf(v) + 6;
    if (runs.length > 1) {
      // Whisker: the slowest and fastest of the repeated drains (the bar is their median).
      const [lo, hi] = [xOf(Math.min(...runs)), xOf(Math.max(...runs))];
      parts.push(`<line x1="${lo.toFixed(1)}" y1="${rowY + ROW / 2}" x2="${hi.toFixed(1)}" y2="${rowY + ROW / 2}" stroke="#222"/>`);
      parts.push(`<line x1="${lo.toFixed(1)}" y1="${rowY + 8}" x2="${lo.toFixed(1)}" y2="${rowY + ROW - 8}" stroke="#222"/>`);
      parts.push(`<line x1="${hi.toFixed(1)}" y1="${rowY + 8}" x2="${hi.toFixed(1)}" y2="${rowY + ROW - 8}" stroke="#222"/>`);
      labelX = Math.max(labelX, hi + 6);
    }
    parts.push(text(labelX, rowY + 17, c.ok ? Math.round(v).toLocaleString('en-US') : `${Math.round(v).toLocaleString('en-US')} (FAILED)`));
  });
  const bottom = top + n * ROW;
  parts.push(...axis(top, bottom, [0, scale / 4, scale / 2, (3 * scale) / 4, scale], xOf, (v) => Math.round(v).toLocaleString('en-US')));
  const raw = throughput(results, 'raw-kafkajs');
  const ks = throughput(results, 'kstreams-eos');
  if (raw !== undefined) parts.push(...marker(xOf(0.8 * raw), top, bottom, '0.8 × raw', 0));
  if (ks !== undefined) parts.push(...marker(xOf(0.5 * ks), top, bottom, '0.5 × KStreams', 11));
  y = bottom + 50;

  // Latency.
  parts.push(text(12, y, 'Latency, live phase (ms, log scale): end to end (filled) and stage-added (outline); bar = p50, ticks = p95, p99', 'font-weight="bold"'));
  y += 10;
  const values = results.flatMap((c) => [c.live?.latency.endToEnd?.p99, c.live?.latency.stageAdded?.p99, c.live?.latency.stageAdded?.p50].filter((v): v is number => v !== undefined));
  const lows = results.flatMap((c) => [c.live?.latency.endToEnd?.p50, c.live?.latency.stageAdded?.p50].filter((v): v is number => v !== undefined && v > 0));
  const lo = 10 ** Math.floor(Math.log10(Math.max(1, Math.min(100, ...lows))));
  const hi = Math.max(10, ...values) * 1.5;
  const lx = (v: number): number => LABEL + ((Math.log10(Math.max(lo, v)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
  const ltop = y;
  results.forEach((c, i) => {
    const rowY = ltop + i * ROW * 1.4;
    parts.push(text(LABEL - 8, rowY + 20, c.name, 'text-anchor="end"'));
    const color = COLORS[c.engine] ?? '#666';
    const e = c.live?.latency.endToEnd;
    const a = c.live?.latency.stageAdded;
    if (e) {
      parts.push(`<rect x="${LABEL}" y="${rowY + 4}" width="${(lx(e.p50) - LABEL).toFixed(1)}" height="11" fill="${color}"/>`);
      parts.push(...ticks(lx(e.p95), lx(e.p99), rowY + 4, 11, color));
      parts.push(text(lx(e.p99) + 6, rowY + 14, `${Math.round(e.p50)} / ${Math.round(e.p95)} / ${Math.round(e.p99)}`, 'font-size="11"'));
    }
    if (a) {
      parts.push(`<rect x="${LABEL}" y="${rowY + 18}" width="${(lx(a.p50) - LABEL).toFixed(1)}" height="11" fill="none" stroke="${color}"/>`);
      parts.push(...ticks(lx(a.p95), lx(a.p99), rowY + 18, 11, color));
      parts.push(text(lx(a.p99) + 6, rowY + 28, `${Math.round(a.p50)} / ${Math.round(a.p95)} / ${Math.round(a.p99)}`, 'font-size="11"'));
    }
  });
  const lbottom = ltop + n * ROW * 1.4;
  const decades: number[] = [];
  for (let d = lo; d <= hi; d *= 10) decades.push(d);
  parts.push(...axis(ltop, lbottom, decades, lx, (v) => v.toLocaleString('en-US')));
  y = lbottom + 40;
  parts.push(text(12, y, `Live: ${r.settings.liveRate.toLocaleString('en-US')} events/s. Stage-added latency leaves out what the semantics make any engine wait for (the watermark: max event time − out-of-orderness).`, 'font-size="11" fill="#555"'));
  y += 16;
  parts.push(text(12, y, 'Local emulation: Lambda triggers emulated in one Node process; DynamoDB Local; one Kafka 3.9.2 broker; all on the same 2 cores. See docs/benchmarks.md.', 'font-size="11" fill="#555"'));
  const height = y + 16;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function axis(top: number, bottom: number, values: readonly number[], x: (v: number) => number, label: (v: number) => string): string[] {
  return values.flatMap((v) => [
    `<line x1="${x(v).toFixed(1)}" y1="${top}" x2="${x(v).toFixed(1)}" y2="${bottom}" stroke="#ddd"/>`,
    text(x(v), bottom + 14, label(v), 'text-anchor="middle" font-size="10" fill="#555"'),
  ]);
}

function marker(x: number, top: number, bottom: number, label: string, lift: number): string[] {
  return [
    `<line x1="${x.toFixed(1)}" y1="${top - 4 - lift}" x2="${x.toFixed(1)}" y2="${bottom}" stroke="#c00" stroke-dasharray="4 3"/>`,
    text(x + 3, top - 6 - lift, label, 'font-size="10" fill="#c00"'),
  ];
}

function ticks(x95: number, x99: number, y: number, h: number, color: string): string[] {
  return [
    `<line x1="${x95.toFixed(1)}" y1="${y}" x2="${x95.toFixed(1)}" y2="${y + h}" stroke="${color}" stroke-width="2"/>`,
    `<line x1="${x99.toFixed(1)}" y1="${y}" x2="${x99.toFixed(1)}" y2="${y + h}" stroke="${color}" stroke-width="1"/>`,
  ];
}
