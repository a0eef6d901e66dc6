/**
 * `npm run bench` / `npm run bench:quick`: Sluice against the raw kafkajs client and Kafka
 * Streams on the local broker and DynamoDB Local (started if not running, reused if running,
 * never stopped). See docs/benchmarks.md.
 *
 *   --quick                 small rates, one drain per configuration, short idle phase (75 s)
 *                           (default: the full run, three drains each, 10-minute idle phase)
 *   --repeats N             drain phases per configuration (interleaved; the median counts)
 *   --json                  print the report as JSON on stdout (progress and tables go to stderr)
 *   --only a,b              run only these configurations (raw-kafkajs, sluice-stateless-eos, …); the optional
 *                           sluice-stateless-eos-platformatic runs only when named (Node 22: docs/kafka-clients.md)
 *   --rate N --duration S   live phase: events/s and seconds
 *   --backlog N             events of the drain phase; --backlog-rate N: their density in event time
 *   --skew X --jitter MS    Zipf exponent of campaigns; most an event time lags its append
 *   --batch-size N --batching-window S --seed N
 *                           trigger settings other than the deployed defaults (framework/deploy/defaults.ts), to experiment
 *   --idle S --low-duration S   the YSB bottom phases: seconds without input, and of the 10 events/s phase
 *   --sweep batch-size|batching-window [--values a,b,…]
 *                           run one configuration (default sluice-ysb-eos; --only names another) once per value and
 *                           print a table per value: throughput, units, requests and cost (docs/benchmarks.md)
 *   --out FILE --plot FILE  where the JSON and the SVG go (default bench/results/, docs/benchmarks-<preset>.svg)
 *   --no-plot               do not write the SVG
 *   --rebuild-kstreams      rebuild the Kafka Streams program
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { createKafka } from '../framework/kafka/client.js';
import { infraUp } from '../framework/local/infra/index.js';
import { runGuarded } from './attempt.js';
import { costReport } from './cost.js';
import { ensureKStreamsBuilt } from './kstreams.js';
import { renderSvg } from './plot.js';
import { Progress } from './progress.js';
import { evaluateCostTargets, evaluateTargets, formatReport, throughput, type BenchReport, type Machine } from './report.js';
import { CONFIGS, invokerOf, type BenchSettings, type ConfigName, type ConfigResult } from './run.js';
import { buildFunctionBundle } from './processors/function-bundle.js';
import { runSweep, SWEEPS, type SweepName } from './sweep.js';
import { DEPLOY_DEFAULTS, localTriggerDefaults } from '../framework/deploy/defaults.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * What both presets share: the workload's shape, and the deployment's trigger settings and ticker
 * schedule — the deployed defaults (framework/deploy/defaults.ts), never bench-only values.
 */
const COMMON = {
  seed: 7,
  warmupFraction: 0.1,
  skew: 1,
  maxJitterMs: 1_000,
  sourcePartitions: 2,
  partitions: 4,
  ...localTriggerDefaults(DEPLOY_DEFAULTS),
  lowRate: 10,
} as const;

/** The presets. */
export const PRESETS: Record<'quick' | 'full', Omit<BenchSettings, 'configs' | 'preset'>> = {
  quick: {
    ...COMMON,
    repeats: 1,
    backlogEvents: 30_000,
    backlogRate: 3_000,
    liveRate: 400,
    liveDurationMs: 15_000,
    statelessLiveDurationMs: 6_000,
    burstMs: 5_000,
    idleMs: 75_000,
    lowDurationMs: 30_000,
  },
  full: {
    ...COMMON,
    repeats: 3,
    backlogEvents: 150_000,
    backlogRate: 5_000,
    liveRate: 1_000,
    liveDurationMs: 60_000,
    statelessLiveDurationMs: 20_000,
    burstMs: 10_000,
    idleMs: 600_000,
    lowDurationMs: 120_000,
  },
};

/** What the command line asks for. */
interface Command {
  readonly settings: BenchSettings;
  readonly json: boolean;
  readonly out: string | undefined;
  readonly plot: string | undefined;
  readonly rebuild: boolean;
  readonly sweep: SweepName | undefined;
  readonly sweepValues: readonly number[] | undefined;
  /** --rate, when given (the batching-window sweep runs at the low rate otherwise). */
  readonly rate: number | undefined;
}

function settingsFrom(argv: readonly string[]): Command {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      only: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      backlog: { type: 'string' },
      'backlog-rate': { type: 'string' },
      skew: { type: 'string' },
      jitter: { type: 'string' },
      'batch-size': { type: 'string' },
      'batching-window': { type: 'string' },
      idle: { type: 'string' },
      'low-duration': { type: 'string' },
      sweep: { type: 'string' },
      values: { type: 'string' },
      seed: { type: 'string' },
      repeats: { type: 'string' },
      out: { type: 'string' },
      plot: { type: 'string' },
      'no-plot': { type: 'boolean', default: false },
      'rebuild-kstreams': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const preset = values.quick ? 'quick' : 'full';
  const p = PRESETS[preset];
  const num = (v: string | undefined, fallback: number, what: string): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${what} wants a number ≥ 0, got ${v}`);
    return n;
  };
  const names = CONFIGS.map((c) => c.name as string);
  const sweep = values.sweep as SweepName | undefined;
  if (sweep !== undefined && !SWEEPS.includes(sweep)) throw new Error(`unknown sweep ${sweep}; known: ${SWEEPS.join(', ')}`);
  const sweepValues = values.values?.split(',').map((x) => num(x.trim(), 0, 'values'));
  // Optional configurations (the platformatic client, which needs Node 22; the in-process lines of
  // at-least-once) run only when named. A sweep runs the exactly-once YSB pipeline unless told otherwise.
  const configs = (values.only?.split(',').map((x) => x.trim()) ?? (sweep ? ['sluice-ysb-eos'] : CONFIGS.filter((c) => !('optional' in c)).map((c) => c.name))) as ConfigName[];
  for (const c of configs) if (!names.includes(c)) throw new Error(`unknown configuration ${c}; known: ${names.join(', ')}`);
  const duration = values.duration === undefined ? undefined : num(values.duration, 0, 'duration') * 1000;
  const settings: BenchSettings = {
    ...p,
    preset,
    seed: num(values.seed, p.seed, 'seed'),
    repeats: Math.max(1, Math.floor(num(values.repeats, p.repeats, 'repeats'))),
    backlogEvents: num(values.backlog, p.backlogEvents, 'backlog'),
    backlogRate: num(values['backlog-rate'], p.backlogRate, 'backlog-rate'),
    liveRate: num(values.rate, p.liveRate, 'rate'),
    liveDurationMs: duration ?? p.liveDurationMs,
    statelessLiveDurationMs: duration === undefined ? p.statelessLiveDurationMs : Math.min(duration, Math.max(p.statelessLiveDurationMs, duration / 3)),
    skew: num(values.skew, p.skew, 'skew'),
    maxJitterMs: num(values.jitter, p.maxJitterMs, 'jitter'),
    batchSize: num(values['batch-size'], p.batchSize, 'batch-size'),
    // --batching-window: every trigger's, as an explicit `maximumBatchingWindow` deploys.
    batchingWindowMs: values['batching-window'] === undefined ? p.batchingWindowMs : num(values['batching-window'], 0, 'batching-window') * 1000,
    internalBatchingWindowMs: values['batching-window'] === undefined ? p.internalBatchingWindowMs : num(values['batching-window'], 0, 'batching-window') * 1000,
    idleMs: values.idle === undefined ? p.idleMs : num(values.idle, 0, 'idle') * 1000,
    lowDurationMs: values['low-duration'] === undefined ? p.lowDurationMs : num(values['low-duration'], 0, 'low-duration') * 1000,
    configs: CONFIGS.filter((c) => configs.includes(c.name)).map((c) => c.name),
  };
  if (settings.backlogEvents / settings.backlogRate > 2_400) throw new Error('the backlog must span less than 40 minutes of event time: raise --backlog-rate');
  if (settings.liveDurationMs < 2 * 10_000 && settings.preset === 'full') throw new Error('--duration must cover at least two 10 s windows');
  if (settings.batchSize < 1 || settings.batchSize > 10_000 || !Number.isInteger(settings.batchSize)) throw new Error('--batch-size: Lambda allows 1 to 10,000 records');
  return {
    settings,
    json: values.json,
    out: values.out,
    plot: values['no-plot'] || sweep ? undefined : (values.plot ?? `docs/benchmarks-${preset}.svg`),
    rebuild: values['rebuild-kstreams'],
    sweep,
    sweepValues,
    rate: values.rate === undefined ? undefined : settings.liveRate,
  };
}

/** Other heavy processes (tests, other benchmarks) that would make the figures noisy. */
function concurrentLoad(): string[] {
  const found: string[] = [];
  const ours = ancestors();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    if (ours.has(Number(pid))) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue;
    }
    if (/node_modules\/\.bin\/vitest|vitest\/dist|bench\/main\.ts/.test(cmd) && !cmd.includes('bench/processors/')) found.push(`pid ${pid}: ${cmd.slice(0, 100)}`);
  }
  return found;
}

/** The first (full) run of a configuration with the drain repeats folded in: median throughput; any failed repeat fails it. */
function mergeRounds(first: ConfigResult, repeats: readonly ConfigResult[]): ConfigResult {
  if (repeats.length === 0 || !first.drain) return first.drain ? { ...first, drain: { ...first.drain, runs: [first.drain.eventsPerSecond] } } : first;
  const runs = [first, ...repeats].map((r) => r.drain?.eventsPerSecond ?? Number.NaN);
  const failed = repeats.filter((r) => !r.ok);
  const ok = runs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const median = ok.length === 0 ? Number.NaN : ok.length % 2 === 1 ? ok[(ok.length - 1) / 2]! : (ok[ok.length / 2 - 1]! + ok[ok.length / 2]!) / 2;
  return {
    ...first,
    ok: first.ok && failed.length === 0,
    ...(failed.length > 0 ? { error: [first.error, ...failed.map((r, i) => `repeat ${i + 2}: ${r.error ?? 'failed'}`)].filter(Boolean).join('; ') } : {}),
    drain: { ...first.drain, eventsPerSecond: median, runs },
  };
}

/** This process and its parents (npm, npx, sh), which are not "other" load. */
function ancestors(): Set<number> {
  const out = new Set<number>();
  for (let pid = process.pid; pid > 1 && !out.has(pid); ) {
    out.add(pid);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return out;
}

function machine(): Machine {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: totalmem() / 2 ** 30,
    node: process.versions.node,
    platform: `${process.platform} ${process.arch}`,
    concurrentLoad: concurrentLoad(),
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

async function main(): Promise<number> {
  const { settings: parsed, json, out, plot, rebuild, sweep, sweepValues, rate } = settingsFrom(process.argv.slice(2));
  let settings = parsed;
  const progress = new Progress();
  const started = Date.now();
  const m = machine();
  progress.log(`Sluice benchmarks, ${settings.preset}: ${settings.configs.join(', ')}`);
  progress.log(`machine: ${m.cpus} cores, ${m.memoryGiB.toFixed(0)} GiB (${(freemem() / 2 ** 30).toFixed(0)} GiB free), load ${m.loadAverage.join(' ')}`);
  if (m.concurrentLoad.length > 0) progress.log(`WARNING: other heavy processes are running; figures will be noisy:\n  ${m.concurrentLoad.join('\n  ')}`);

  let configs = settings.configs;
  if (configs.includes('kstreams-eos')) {
    const why = ensureKStreamsBuilt((line) => progress.log(line), rebuild);
    if (why) {
      progress.log(`cannot build the Kafka Streams baseline (${why}): skipping it`);
      configs = configs.filter((c) => c !== 'kstreams-eos');
    }
  }
  const infra = await infraUp({ log: (line) => progress.log(`[infra] ${line}`) });
  const kafka = createKafka({ brokers: infra.kafka.brokers, clientId: 'sluice-bench', logLevel: 'nothing' });
  const runId = Date.now().toString(36);
  const env = { kafka, brokers: infra.kafka.brokers, dynamodbEndpoint: infra.dynamodb.endpoint, runId, progress, position: '' };
  // The out-of-process containers run the stage function bundled, as `sluice deploy` would ship it.
  const bundled = configs.some((c) => { const spec = CONFIGS.find((x) => x.name === c)!; return spec.engine === 'sluice' && invokerOf(spec) === 'process'; });
  if (bundled) settings = { ...settings, functionScript: await buildFunctionBundle() };
  if (sweep) return runSweep(sweep, { settings, env, values: sweepValues, rate, json, out });

  // Round 1 runs every configuration in full; later rounds repeat only the drain phase, one
  // configuration after the other, so slow drifts of a shared machine touch them all alike.
  const rounds: ConfigResult[][] = [];
  for (let round = 1; round <= settings.repeats; round += 1) {
    const results: ConfigResult[] = [];
    for (const [i, name] of configs.entries()) {
      const spec = CONFIGS.find((c) => c.name === name)!;
      const position = `[${settings.repeats > 1 ? `round ${round}/${settings.repeats} ` : ''}${i + 1}/${configs.length}]`;
      const id = `${runId}${round > 1 ? String.fromCharCode(96 + round) : ''}`;
      const result = await runGuarded(spec, settings, { ...env, runId: id, position }, round > 1);
      results.push(result);
      progress.log(`${position} ${name}: ${result.ok ? 'verified' : `FAILED — ${(result.error ?? '').split('\n')[0]}`}`);
    }
    rounds.push(results);
  }
  const results = rounds[0]!.map((first, i) => mergeRounds(first, rounds.slice(1).map((r) => r[i]!)));

  // Priced: what the functions themselves did (out of process); the -inproc lines only show the change of method.
  const profiles = results.flatMap((r) => (r.ok && r.profile && r.invoker !== 'in-process' ? [r.profile] : []));
  const cost = costReport(profiles, throughput(results, 'kstreams-eos'));
  const report: BenchReport = {
    startedAt: new Date(started).toISOString(),
    durationSeconds: (Date.now() - started) / 1000,
    command: `npm run ${settings.preset === 'quick' ? 'bench:quick' : 'bench'}${process.argv.length > 2 ? ` -- ${process.argv.slice(2).filter((a) => a !== '--quick').join(' ')}` : ''}`.trim(),
    machine: m,
    settings: { ...settings, configs },
    results,
    targets: [...evaluateTargets(results), ...evaluateCostTargets(cost)],
    cost,
    ok: results.length > 0 && results.every((r) => r.ok),
  };

  const file = out ?? `bench/results/${settings.preset}-${report.startedAt.replace(/[:.]/g, '-')}.json`;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/latest-${settings.preset}.json`, `${JSON.stringify(report, null, 2)}\n`);
  if (plot) {
    mkdirSync(dirname(plot), { recursive: true });
    writeFileSync(plot, renderSvg(report));
  }
  const text = formatReport(report);
  if (json) {
    process.stderr.write(`${text}\n`);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    process.stdout.write(`${text}\n`);
  }
  progress.log(`saved ${file}${plot ? ` and ${plot}` : ''}`);
  if (!report.ok) progress.log('FAILED: a configuration did not run or its outputs differ from the oracle (see above).');
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(2);
  },
);
