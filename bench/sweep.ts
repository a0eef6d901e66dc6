/**
 * Sweeps: one configuration (default sluice-ysb-eos) run once per value of one deployment
 * setting, everything else at the deployed defaults, so the defaults can be chosen from
 * measurements (framework/deploy/defaults.ts, docs/benchmarks.md):
 *
 *  - `batch-size` (100 / 500 / 2,000 / 10,000): the drain phase (full batches) and the live one.
 *    Per value, of the drain: events/s, DynamoDB write and read units, Kafka requests and
 *    invocations per 1,000 events, the functions' CPU, the cost of those 1,000 events, the largest
 *    batches' duration; the monthly cost at 1,000 and 50,000 events/s (the cost model with this
 *    BatchSize, from both phases); and the cost per 1,000 events modelled at other memory sizes.
 *  - `batching-window` (0 / 0.5 / 1 / 2 / 5 s): a short drain, then the live phase at the low rate
 *    (10 events/s). Per value: invocations per second, the cost of 1,000 events, the monthly cost at
 *    that rate as measured, and the latency the window adds.
 *
 * Every run is verified against the oracle like any other.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { runGuarded } from './attempt.js';
import { DEPLOYMENT, monthlyCost, phaseCostPer1k, PRICES, usd, type Deployment, type PhaseCost } from './cost.js';
import type { LatencyStats } from './latency.js';
import type { OpsPer1k } from './ops.js';
import { int } from './progress.js';
import { CONFIGS, type BenchSettings, type ConfigResult, type RunEnv } from './run.js';

/** The sweeps there are. */
export const SWEEPS = ['batch-size', 'batching-window'] as const;
/** One of SWEEPS. */
export type SweepName = (typeof SWEEPS)[number];

/** The values a sweep runs unless --values says otherwise. */
export const SWEEP_VALUES: Record<SweepName, readonly number[]> = { 'batch-size': [100, 500, 2_000, 10_000], 'batching-window': [0, 0.5, 1, 2, 5] };

/** Memory sizes the batch-size sweep models the cost at, MB. */
const MEMORY_SIZES = [256, 512, 1024, 1769] as const;

/** Monthly rates the batch-size sweep prices. */
const SWEEP_RATES = [1_000, 50_000] as const;

/** One value's figures. */
export interface SweepRow {
  readonly value: number;
  readonly config: string;
  readonly ok: boolean;
  readonly error?: string;
  /** Drain (batch-size) or live (batching-window) phase. */
  readonly eventsPerSecond?: number;
  readonly ops?: OpsPer1k;
  readonly costPer1k?: PhaseCost;
  readonly monthly: ReadonlyArray<{ readonly rate: number; readonly total: number; readonly basis: string }>;
  /** batch-size: per stage, the largest data invocations measured: their records and duration (ms). */
  readonly fullBatches?: ReadonlyArray<{ readonly stage: string; readonly records: number; readonly ms: number }>;
  /** batch-size: the cost of 1,000 events at other memory sizes (modelled). */
  readonly memory?: ReadonlyArray<{ readonly mb: number; readonly total: number }>;
  readonly peakRssMiB?: number;
  /** batching-window: invocations per second and latencies of the live phase. */
  readonly invocationsPerSecond?: number;
  readonly endToEnd?: LatencyStats;
  readonly stageAdded?: LatencyStats;
}

/** A sweep's report (saved as JSON). */
export interface SweepReport {
  readonly sweep: SweepName;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly settings: BenchSettings;
  readonly rows: readonly SweepRow[];
  readonly ok: boolean;
}

/** What runSweep needs. */
export interface SweepRun {
  readonly settings: BenchSettings;
  readonly env: RunEnv;
  readonly values: readonly number[] | undefined;
  /** batching-window: the live rate (default: the low rate, 10 events/s). */
  readonly rate: number | undefined;
  readonly json: boolean;
  readonly out: string | undefined;
}

/** Runs a sweep, prints its table, saves its JSON; resolves with the exit code. */
export async function runSweep(name: SweepName, run: SweepRun): Promise<number> {
  const started = Date.now();
  const values = run.values ?? SWEEP_VALUES[name];
  const rows: SweepRow[] = [];
  for (const config of run.settings.configs) {
    const spec = CONFIGS.find((c) => c.name === config)!;
    for (const [i, value] of values.entries()) {
      const position = `[${name} ${value} ${i + 1}/${values.length}]`;
      const { settings, deployment } = sweepSettings(name, value, run.settings, run.rate);
      const result = await runGuarded(spec, settings, { ...run.env, runId: `${run.env.runId}${String.fromCharCode(97 + rows.length)}`, position }, false);
      run.env.progress.log(`${position} ${config}: ${result.ok ? 'verified' : `FAILED — ${(result.error ?? '').split('\n')[0]}`}`);
      rows.push(row(name, value, result, deployment, settings));
    }
  }
  const report: SweepReport = { sweep: name, startedAt: new Date(started).toISOString(), durationSeconds: (Date.now() - started) / 1000, settings: run.settings, rows, ok: rows.every((r) => r.ok) };
  const file = run.out ?? `bench/results/sweep-${name}-${report.startedAt.replace(/[:.]/g, '-')}.json`;
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  const text = formatSweep(report);
  if (run.json) {
    process.stderr.write(`${text}\n`);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else process.stdout.write(`${text}\n`);
  run.env.progress.log(`saved ${file}`);
  return report.ok ? 0 : 1;
}

/** The settings of one run of a sweep, and the deployment its costs assume. */
function sweepSettings(name: SweepName, value: number, base: BenchSettings, rate: number | undefined): { settings: BenchSettings; deployment: Deployment } {
  if (name === 'batch-size') {
    if (!Number.isInteger(value) || value < 1 || value > 10_000) throw new Error(`batch size ${value}: Lambda allows 1 to 10,000`);
    return { settings: { ...base, batchSize: value, repeats: 1, skipBottom: true, liveDurationMs: Math.min(base.liveDurationMs, 20_000) }, deployment: { ...DEPLOYMENT, batchSize: value } };
  }
  if (value < 0 || value > 300) throw new Error(`batching window ${value} s: Lambda allows 0 to 300 s`);
  // A short drain (it is not what this sweep is about), then the low rate live.
  const settings: BenchSettings = {
    ...base,
    // As `maximumBatchingWindow` deploys when set: every trigger of every stage.
    batchingWindowMs: value * 1000,
    internalBatchingWindowMs: value * 1000,
    repeats: 1,
    skipBottom: true,
    backlogEvents: Math.min(base.backlogEvents, 3_000),
    liveRate: rate ?? base.lowRate,
    liveDurationMs: Math.max(base.lowDurationMs, 30_000),
    statelessLiveDurationMs: Math.max(base.lowDurationMs, 30_000),
  };
  return { settings, deployment: { ...DEPLOYMENT, batchingWindowSeconds: value, internalBatchingWindowSeconds: value } };
}

function row(name: SweepName, value: number, r: ConfigResult, d: Deployment, s: BenchSettings): SweepRow {
  const base = { value, config: r.name, ok: r.ok, ...(r.error ? { error: r.error.split('\n')[0] } : {}), ...(r.functions ? { peakRssMiB: r.functions.peakRssMiB } : {}) };
  const profile = r.profile;
  if (name === 'batch-size') {
    if (!r.drain || !profile) return { ...base, monthly: [] };
    const costPer1k = phaseCostPer1k(profile, 'drain', PRICES, d);
    return {
      ...base,
      eventsPerSecond: r.drain.eventsPerSecond,
      ops: r.drain.ops,
      ...(costPer1k ? { costPer1k } : {}),
      monthly: SWEEP_RATES.map((rate) => {
        const c = monthlyCost(profile, rate, PRICES, d);
        return { rate, total: c.total, basis: c.basis.phase ?? '' };
      }),
      fullBatches: profile.stages.flatMap((st) => {
        const last = st.data[st.data.length - 1];
        return last ? [{ stage: st.stage, records: last.records, ms: last.ms }] : [];
      }),
      memory: MEMORY_SIZES.map((mb) => ({ mb, total: phaseCostPer1k(profile, 'drain', PRICES, { ...d, lambdaMemoryMb: mb })?.total ?? Number.NaN })),
    };
  }
  if (!r.live || !profile) return { ...base, monthly: [] };
  const costPer1k = phaseCostPer1k(profile, 'live', PRICES, d);
  const c = monthlyCost(profile, s.liveRate, PRICES, d);
  return {
    ...base,
    eventsPerSecond: r.live.eventsPerSecond,
    ops: r.live.ops,
    ...(costPer1k ? { costPer1k } : {}),
    monthly: [{ rate: s.liveRate, total: c.total, basis: c.basis.phase ?? '' }],
    invocationsPerSecond: (r.live.ops.invocations * r.live.events) / 1000 / r.live.seconds,
    ...(r.live.latency.endToEnd ? { endToEnd: r.live.latency.endToEnd } : {}),
    ...(r.live.latency.stageAdded ? { stageAdded: r.live.latency.stageAdded } : {}),
  };
}

/** The sweep as a text table. */
export function formatSweep(r: SweepReport): string {
  const n = (x: number | undefined, digits = 1): string => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
  // Three significant digits of small dollar amounts, without an exponent.
  const cents = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '–' : x === 0 ? '$0' : `$${x.toFixed(Math.max(2, 2 - Math.floor(Math.log10(x))))}`);
  const ms = (l: LatencyStats | undefined): string => (l ? `${Math.round(l.p50)} / ${Math.round(l.p99)}` : '–');
  const batch = r.sweep === 'batch-size';
  const head = batch
    ? ['BatchSize', 'config', 'ok', 'events/s', 'WU/1k', 'RU/1k', 'Kafka req/1k', 'invocations/1k', 'fn CPU ms/1k', '$ per 1k events', ...SWEEP_RATES.map((x) => `monthly @ ${int(x)}/s`), 'largest batches: records × ms', 'peak RSS MiB']
    : ['window s', 'config', 'ok', 'invocations/s', 'WU/1k', 'RU/1k', 'Kafka req/1k', 'fn CPU ms/1k', '$ per 1k events', `monthly @ ${int(r.rows[0]?.monthly[0]?.rate ?? r.settings.lowRate)}/s`, 'e2e p50/p99 ms', 'stage-added p50/p99 ms'];
  const rows = r.rows.map((x) =>
    batch
      ? [
          String(x.value),
          x.config,
          x.ok ? 'yes' : 'FAILED',
          x.eventsPerSecond === undefined ? '–' : int(x.eventsPerSecond),
          n(x.ops?.writeUnits),
          n(x.ops?.readUnits),
          n(x.ops?.kafkaRequests),
          n(x.ops?.invocations, 2),
          n(x.ops?.functionCpuMs ?? x.ops?.cpuMs, 0),
          cents(x.costPer1k?.total),
          ...SWEEP_RATES.map((rate) => {
            const m = x.monthly.find((y) => y.rate === rate);
            return m ? usd(m.total) : '–';
          }),
          (x.fullBatches ?? []).map((b) => `${b.stage} ${int(b.records)} × ${int(b.ms)}`).join(', ') || '–',
          n(x.peakRssMiB, 0),
        ]
      : [
          String(x.value),
          x.config,
          x.ok ? 'yes' : 'FAILED',
          n(x.invocationsPerSecond, 2),
          n(x.ops?.writeUnits),
          n(x.ops?.readUnits),
          n(x.ops?.kafkaRequests),
          n(x.ops?.functionCpuMs ?? x.ops?.cpuMs, 0),
          cents(x.costPer1k?.total),
          x.monthly[0] ? usd(x.monthly[0].total) : '–',
          ms(x.endToEnd),
          ms(x.stageAdded),
        ],
  );
  const widths = head.map((_, i) => Math.max(...[head, ...rows].map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]): string => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [`sweep ${r.sweep} — ${r.startedAt}, ${r.durationSeconds.toFixed(0)} s`, line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  if (batch) {
    out.push('', `$ per 1,000 events (drain) at other memory sizes, modelled: the CPU part of each invocation stretched by ${1769} MB ÷ memory below one vCPU`);
    const mHead = ['BatchSize', ...MEMORY_SIZES.map((mb) => `${mb} MB`)];
    const mRows = r.rows.map((x) => [String(x.value), ...MEMORY_SIZES.map((mb) => cents(x.memory?.find((y) => y.mb === mb)?.total))]);
    const mw = mHead.map((_, i) => Math.max(...[mHead, ...mRows].map((row) => (row[i] ?? '').length)));
    out.push(mHead.map((c, i) => c.padStart(mw[i]!)).join('  '), ...mRows.map((row) => row.map((c, i) => c.padStart(mw[i]!)).join('  ')));
  }
  out.push(
    '',
    batch
      ? 'Drain phase (a backlog, full batches). $ per 1k events: Lambda (duration × memory of every invocation, requests) + DynamoDB units, at the deployed memory and architecture; monthly: the cost model with this BatchSize (priced from: the live phase at its rate, else the batching model and the nearest phase\'s control invocations).'
      : `Live at ${int(r.rows[0]?.monthly[0]?.rate ?? r.settings.lowRate)} events/s with this batching window; monthly as measured at that rate. Latency: per (window, campaign), visible − last view's append (e2e), and minus what the window semantics make any engine wait (stage-added).`,
    `Deployment otherwise: ${DEPLOYMENT.lambdaMemoryMb} MB ${DEPLOYMENT.architecture}, BatchSize ${DEPLOYMENT.batchSize}, window ${DEPLOYMENT.batchingWindowSeconds} s (framework/deploy/defaults.ts).`,
  );
  const failed = r.rows.filter((x) => !x.ok);
  if (failed.length > 0) out.push('', 'FAILED:', ...failed.map((x) => `  ${x.value} ${x.config}: ${x.error ?? 'failed'}`));
  return out.join('\n');
}
