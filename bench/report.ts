/**
 * The benchmark's report: the tables printed at the end, the targets of the issue and whether
 * each was met, and the JSON document `--json` prints and every run saves.
 */
import type { CostReport, MonthlyCost } from './cost.js';
import { formatCostReport } from './cost.js';
import type { LatencyStats } from './latency.js';
import type { BenchSettings, ConfigName, ConfigResult } from './run.js';

/** The machine a run was on. */
export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  /** Other heavy work seen when the run started (e.g. vitest), which makes figures noisy. */
  readonly concurrentLoad: readonly string[];
  readonly loadAverage: readonly number[];
}

/** A target of the benchmarks issue. */
export interface Target {
  readonly name: string;
  readonly wanted: string;
  readonly measured: string;
  readonly met: boolean | undefined;
  /** How far off, when missed. */
  readonly by?: string;
}

/** Everything a run produced. */
export interface BenchReport {
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly command: string;
  readonly machine: Machine;
  readonly settings: BenchSettings;
  readonly results: readonly ConfigResult[];
  readonly targets: readonly Target[];
  readonly cost: CostReport;
  readonly ok: boolean;
}

/** Drain throughput of a configuration that ran and verified. */
export function throughput(results: readonly ConfigResult[], name: ConfigName): number | undefined {
  const r = results.find((x) => x.name === name);
  return r?.ok ? r.drain?.eventsPerSecond : undefined;
}

/** The issue's targets, evaluated. */
export function evaluateTargets(results: readonly ConfigResult[]): Target[] {
  const raw = throughput(results, 'raw-kafkajs');
  const ks = throughput(results, 'kstreams-eos');
  const stateless = throughput(results, 'sluice-stateless-eos');
  const ysb = throughput(results, 'sluice-ysb-eos');
  const ysbResult = results.find((x) => x.name === 'sluice-ysb-eos');
  const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a !== undefined && b !== undefined ? a / b : undefined);
  const targets: Target[] = [];
  const r1 = ratio(stateless, raw);
  targets.push({
    name: 'stateless stage vs raw kafkajs (exactly-once)',
    wanted: '≥ 0.8 × raw kafkajs',
    measured: r1 === undefined ? 'not measured' : `${r1.toFixed(2)} × (${fmt(stateless)} vs ${fmt(raw)} events/s)`,
    met: r1 === undefined ? undefined : r1 >= 0.8,
    ...(r1 !== undefined && r1 < 0.8 ? { by: `${((0.8 - r1) * 100).toFixed(0)} points short (${fmt(0.8 * raw!)} events/s wanted)` } : {}),
  });
  const r2 = ratio(ysb, ks);
  targets.push({
    name: 'YSB pipeline vs Kafka Streams (exactly-once)',
    wanted: '≥ 0.5 × Kafka Streams EOS',
    measured: r2 === undefined ? 'not measured' : `${r2.toFixed(2)} × (${fmt(ysb)} vs ${fmt(ks)} events/s)`,
    met: r2 === undefined ? undefined : r2 >= 0.5,
    ...(r2 !== undefined && r2 < 0.5 ? { by: `${((0.5 - r2) * 100).toFixed(0)} points short (${fmt(0.5 * ks!)} events/s wanted)` } : {}),
  });
  const wru = ysbResult?.ok ? ysbResult.drain?.ops.writeUnits : undefined;
  const wruLive = ysbResult?.ok ? ysbResult.live?.ops.writeUnits : undefined;
  targets.push({
    name: 'DynamoDB write units per 1,000 YSB events (exactly-once)',
    wanted: '≤ 2',
    measured: wru === undefined ? 'not measured' : `${wru.toFixed(1)} with full batches (drain); ${wruLive?.toFixed(1) ?? '?'} live`,
    met: wru === undefined ? undefined : wru <= 2,
    ...(wru !== undefined && wru > 2 ? { by: `${(wru / 2).toFixed(1)} × the budget` } : {}),
  });
  return targets;
}

/** The bottom phases of the configurations that ran them: idle and 10 events/s, per minute (and per 1,000 events at 10/s). */
function bottomTable(results: readonly ConfigResult[]): string | undefined {
  const rows: string[][] = [];
  const n = (x: number | undefined, digits = 1): string => (x === undefined ? '–' : x.toFixed(digits));
  for (const c of results) {
    for (const phase of [c.idle, c.low]) {
      if (!phase) continue;
      const m = phase.perMinute;
      const label = phase.name === 'idle' ? `idle ${Math.round(phase.seconds)} s` : `${phase.rate} ev/s ${Math.round(phase.seconds)} s`;
      rows.push([
        c.name,
        label,
        n(m.invocations),
        n(m.controlInvocations),
        n(m.tickInvocations),
        `${n(m.tickerPasses)} / ${n(m.tickWrites)}`,
        n(m.writeUnits),
        n(m.readUnits),
        n(m.kafkaRequests),
        m.functionCpuMs === undefined ? n(m.cpuMs, 0) : `${n(m.invocationCpuMs, 0)} / ${n(m.functionCpuMs, 0)}`,
        phase.per1k ? `${n(phase.per1k.writeUnits)} / ${n(phase.per1k.invocations)}` : '–',
        phase.latency?.stageAdded ? ms(phase.latency.stageAdded) : '–',
      ]);
    }
  }
  if (rows.length === 0) return undefined;
  return [
    'Bottom of the range (YSB), per minute:',
    table(['configuration', 'phase', 'invocations', 'control', 'with ticks', 'ticker passes / writes', 'write units', 'read units', 'Kafka requests', 'CPU ms fn: invocations / process', 'per 1k events: WU / invocations', 'stage-added p50/p95/p99 ms'], rows),
    'Idle: no input after a burst whose last windows stay open. Control: invocations of the control triggers (marks, ticks); with ticks: those that carried a tick. Ticker passes: runs of the ticker\'s pass over the checkpoints; writes: the passes that had a task due and wrote its ticks. CPU of the function containers within invocations / in all (the rest is start-up and time between invocations, which Lambda freezes).',
  ].join('\n');
}

/** Issue 13's targets for the bottom of the range, from the cost report of sluice-ysb-eos (priced from its idle and 10 events/s phases). */
export function evaluateCostTargets(cost: CostReport): Target[] {
  const ysb = cost.pipelines.find((p) => p.config === 'sluice-ysb-eos');
  const at = (rate: number): MonthlyCost | undefined => {
    const c = ysb?.costs.find((x) => x.rate === rate);
    // Only a price from the phase measured at that rate counts.
    return c?.basis.measured ? c : undefined;
  };
  const target = (name: string, rate: number, limit: number): Target => {
    const c = at(rate);
    return {
      name,
      wanted: `≤ $${limit} a month`,
      measured: c === undefined ? 'not measured' : `$${c.total.toFixed(2)} (Lambda $${c.lambda.toFixed(2)} of which the ticker $${c.ticker.toFixed(2)}, DynamoDB $${c.dynamodb.toFixed(2)})`,
      met: c === undefined ? undefined : c.total <= limit,
      ...(c !== undefined && c.total > limit ? { by: `${(c.total / limit).toFixed(1)} × the budget` } : {}),
    };
  };
  return [target('idle YSB pipeline (exactly-once), monthly', 0, 1), target('YSB at 10 events/s (exactly-once), monthly', 10, 17)];
}

/** `yes`, `FAILED`, or for at-least-once what its contract let through. */
function verdict(c: ConfigResult): string {
  if (!c.ok) return 'FAILED';
  const dup = c.drain?.check.duplicates ?? 0;
  const repeated = (c.drain?.check.repeated ?? 0) + (c.live?.check.repeated ?? 0) + (c.low?.check.repeated ?? 0);
  const over = (c.drain?.check.overCounted ?? 0) + (c.live?.check.overCounted ?? 0) + (c.low?.check.overCounted ?? 0);
  const notes = [dup > 0 ? `${dup} dup` : '', repeated > 0 ? `${repeated} rep` : '', over > 0 ? `${over} over` : ''].filter((x) => x !== '');
  return notes.length > 0 ? `yes, ALO: ${notes.join(', ')}` : 'yes';
}

function fmt(n: number | undefined): string {
  return n === undefined ? '?' : Math.round(n).toLocaleString('en-US');
}

function ms(l: LatencyStats | undefined): string {
  return l === undefined ? '–' : `${Math.round(l.p50)} / ${Math.round(l.p95)} / ${Math.round(l.p99)}`;
}

function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = head.map((_, i) => Math.max(...[head, ...rows].map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The figures as text tables. */
export function formatReport(r: BenchReport): string {
  const raw = throughput(r.results, 'raw-kafkajs');
  const ks = throughput(r.results, 'kstreams-eos');
  const x = (v: number | undefined, base: number | undefined): string => (v === undefined || base === undefined ? '–' : `${(v / base).toFixed(2)}×`);
  const main = table(
    ['configuration', 'verified', 'events/s', 'runs min–max', 'vs raw', 'vs KStreams', 'e2e p50/p95/p99 ms', 'stage-added p50/p95/p99 ms', 'samples', 'peak RSS MiB fn | process', 'failed attempts'],
    r.results.map((c) => [
      c.name,
      verdict(c),
      c.drain ? fmt(c.drain.eventsPerSecond) : '–',
      c.drain?.runs && c.drain.runs.length > 1 ? `${c.drain.runs.length}: ${fmt(Math.min(...c.drain.runs))}–${fmt(Math.max(...c.drain.runs))}` : '1',
      x(c.ok ? c.drain?.eventsPerSecond : undefined, raw),
      x(c.ok ? c.drain?.eventsPerSecond : undefined, ks),
      ms(c.live?.latency.endToEnd),
      ms(c.live?.latency.stageAdded),
      String(c.live?.latency.endToEnd?.n ?? '–'),
      `${c.functions ? String(Math.round(c.functions.peakRssMiB)) : '–'} | ${c.peakRssMiB === undefined ? '–' : String(Math.round(c.peakRssMiB))}`,
      c.failures === undefined ? '–' : String(c.failures),
    ]),
  );
  const per = (c: ConfigResult, f: (o: NonNullable<ConfigResult['drain']>['ops']) => number, digits = 1): string =>
    c.drain && c.live ? `${f(c.drain.ops).toFixed(digits)} | ${f(c.live.ops).toFixed(digits)}` : '–';
  const ops = table(
    ['per 1,000 events (drain | live)', 'DynamoDB requests', 'write units', 'read units', 'Kafka requests', 'transactions', 'invocations', 'CPU ms functions', 'CPU ms process'],
    r.results.map((c) => [
      c.name,
      per(c, (o) => o.dynamoRequests),
      per(c, (o) => o.writeUnits),
      per(c, (o) => o.readUnits),
      per(c, (o) => o.kafkaRequests),
      per(c, (o) => o.transactions),
      per(c, (o) => o.invocations),
      c.drain?.ops.functionCpuMs === undefined ? '–' : per(c, (o) => o.functionCpuMs ?? 0, 0),
      per(c, (o) => o.cpuMs, 0),
    ]),
  );
  const bottom = bottomTable(r.results);
  const targets = r.targets.map((t) => `  ${t.met === undefined ? 'n/a   ' : t.met ? 'MET   ' : 'MISSED'}  ${t.name}: wanted ${t.wanted}, measured ${t.measured}${t.by ? ` — ${t.by}` : ''}`);
  const failures = r.results.filter((c) => !c.ok).map((c) => `  ${c.name}: ${c.error ?? 'failed'}`);
  const s = r.settings;
  return [
    `Sluice benchmarks (${s.preset}) — ${r.startedAt}, ${r.durationSeconds.toFixed(0)} s, ${r.machine.cpus} cores (${r.machine.cpuModel}), ${r.machine.memoryGiB.toFixed(0)} GiB, Node ${r.machine.node}`,
    `workload: YSB, backlog ${fmt(s.backlogEvents)} events (drain phase, first ${s.warmupFraction * 100}% warm-up; median of ${s.repeats} run${s.repeats > 1 ? 's' : ''}), live ${fmt(s.liveRate)} events/s for ${s.liveDurationMs / 1000} s (stateless ${s.statelessLiveDurationMs / 1000} s); ` +
      `skew ${s.skew}, out-of-orderness ≤ ${s.maxJitterMs} ms, ${s.sourcePartitions} source partitions, ${s.partitions} internal; BatchSize ${s.batchSize}, batching window ${s.batchingWindowMs / 1000} s (source topics), ${s.internalBatchingWindowMs / 1000} s (internal and control topics), ticks every ${s.tickIntervalMs / 1000} s; ` +
      `YSB bottom phases: burst ${s.burstMs / 1000} s, idle ${s.idleMs / 1000} s, ${s.lowRate} events/s for ${s.lowDurationMs / 1000} s`,
    ...(r.machine.concurrentLoad.length > 0 ? [`WARNING: other load while running (figures are noisy): ${r.machine.concurrentLoad.join('; ')}`] : []),
    '',
    main,
    '',
    ops,
    '',
    'Kafka requests: every client the deployment runs (Sluice: stage producers + emulated Lambda pollers + ticker). Write/read units: estimated by DynamoDB pricing rules from item sizes.',
    'CPU ms functions: the stage functions\' containers, run as child processes that get one event at a time over a pipe, as Lambda runs them; CPU ms process: the processor\'s own process (the emulated pollers and event encoding, which on AWS are Lambda\'s) — for the -inproc lines, which run the functions in that process too, everything (the earlier measurement). Peak RSS: the largest function container | the processor process.',
    ...(bottom ? ['', bottom] : []),
    'Verified: outputs equal the oracle (exactly-once: exactly). At-least-once: nothing missing or wrong after dropping records whose Sluice provenance was seen before ("dup"); repeats under a new provenance ("rep") and window counts above the oracle\'s ("over") are allowed and shown.',
    'Failed attempts: invocations (Sluice) or transactions (raw loop) that failed and were retried — for Sluice mostly a data and a control invocation of one task contending for its checkpoint.',
    '',
    'targets:',
    ...targets,
    ...(failures.length > 0 ? ['', 'FAILED configurations:', ...failures] : []),
    '',
    formatCostReport(r.cost),
  ].join('\n');
}
