/**
 * The cost model: what a Sluice pipeline would cost per month on AWS at a given event rate,
 * from what the benchmark measured, set against the smallest Amazon Managed Service for Apache
 * Flink application.
 *
 * From the measured invocations of each stage (records, wall time, DynamoDB write and read units
 * and requests of each one) it builds a profile: the mean cost of a data invocation by batch size
 * (log₂ buckets, interpolated), the mean cost of a control invocation (marks, ticks) and how many
 * of those came per second. At a rate r, a stage reading `recordsPerEvent · r` records/s over P
 * partitions gets, per partition, what Lambda's Kafka trigger would send: full batches of B when
 * records come faster than B per batching window W, else one invocation per window (or per record,
 * below one record per window). Lambda: GB-s (duration × memory) and requests; DynamoDB on-demand:
 * write and read request units. Kafka (MSK) is left out: every option needs it. So are DynamoDB
 * storage, CloudWatch Logs (one EMF line per invocation) and data transfer.
 *
 * Caveats, said where the figures are shown: durations are wall times measured in one Node
 * process on this machine, where concurrent invocations share one core and DynamoDB Local answers
 * instead of DynamoDB — on AWS each invocation has its own CPU and round trips differ. Control
 * invocations per second are taken as measured in the live phase at every rate.
 *
 * Run on its own to print the table of a saved result: `npx tsx bench/cost.ts bench/results/latest-quick.json`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { InvocationSample } from './processors/protocol.js';

/** List prices the model uses. */
export interface Prices {
  /** When they were written down, and the caveat. */
  readonly asOf: string;
  readonly region: string;
  readonly note: string;
  /** AWS Lambda, x86, per GB-second of duration. */
  readonly lambdaPerGbSecond: number;
  /** AWS Lambda, per million requests. */
  readonly lambdaPerMillionRequests: number;
  /** DynamoDB on-demand, per million write request units. */
  readonly dynamoPerMillionWru: number;
  /** DynamoDB on-demand, per million read request units. */
  readonly dynamoPerMillionRru: number;
  /** Managed Service for Apache Flink, per KPU-hour. */
  readonly flinkPerKpuHour: number;
  /** Managed Service for Apache Flink running application storage, per GB-month, and GB per KPU. */
  readonly flinkStoragePerGbMonth: number;
  readonly flinkStorageGbPerKpu: number;
  readonly hoursPerMonth: number;
}

/** us-east-1 list prices as known on 2026-11-22. Assumptions: check them against the AWS pricing pages before relying on the dollars. */
export const PRICES: Prices = {
  asOf: '2026-11-22',
  region: 'us-east-1',
  note: 'list prices as known to the authors on this date, not fetched from AWS: check them on the AWS pricing pages (Lambda, DynamoDB on-demand after the Nov 2024 cut, Managed Service for Apache Flink)',
  lambdaPerGbSecond: 0.0000166667,
  lambdaPerMillionRequests: 0.2,
  dynamoPerMillionWru: 0.625,
  dynamoPerMillionRru: 0.125,
  flinkPerKpuHour: 0.11,
  flinkStoragePerGbMonth: 0.1,
  flinkStorageGbPerKpu: 50,
  hoursPerMonth: 730,
};

/** How the functions would be deployed. */
export interface Deployment {
  /** Memory of each stage function; 1,769 MB is one full vCPU, about what one invocation got here. */
  readonly lambdaMemoryMb: number;
  /** Records per invocation at most (the trigger's BatchSize). */
  readonly batchSize: number;
  /** The trigger's MaximumBatchingWindowInSeconds (Lambda's default for Kafka: 0.5 s). */
  readonly batchingWindowSeconds: number;
  /** The ticker: memory, and seconds it runs per one-minute schedule (it loops for 55 s). */
  readonly tickerMemoryMb: number;
  readonly tickerSecondsPerMinute: number;
}

/** The deployment the figures assume. */
export const DEPLOYMENT: Deployment = { lambdaMemoryMb: 1769, batchSize: 500, batchingWindowSeconds: 0.5, tickerMemoryMb: 128, tickerSecondsPerMinute: 55 };

/** Rates the report prices, events/s. */
export const RATES = [10, 1_000, 50_000] as const;

/** Mean cost of one invocation. */
export interface InvocationCost {
  readonly records: number;
  readonly ms: number;
  readonly wru: number;
  readonly rru: number;
  readonly requests: number;
  /** Invocations the mean is over. */
  readonly count: number;
}

/** What one stage's invocations cost, as measured. */
export interface StageProfile {
  readonly stage: string;
  readonly partitions: number;
  /** Records the stage reads per source event. */
  readonly recordsPerEvent: number;
  /** Mean cost of data invocations (every attempt) by batch size, ascending. */
  readonly data: readonly InvocationCost[];
  /** Data invocations per batch delivered: above 1 when invocations failed and were retried. */
  readonly attemptsPerDelivery: number;
  /** Mean cost of a control invocation (every attempt), and how many were made per second while live. */
  readonly control: InvocationCost;
  readonly controlPerSecond: number;
}

/** A pipeline's profile. */
export interface PipelineProfile {
  readonly config: string;
  readonly stages: readonly StageProfile[];
}

/** Invocations of one phase and how long the phase ran. */
export interface PhaseSamples {
  readonly samples: readonly InvocationSample[];
  readonly events: number;
  readonly seconds: number;
}

/** Builds a pipeline's profile from the drain phase (large batches) and the live phase (small ones, control rate). */
export function buildProfile(config: string, stages: ReadonlyArray<{ name: string; partitions: number }>, drain: PhaseSamples, live: PhaseSamples): PipelineProfile {
  return {
    config,
    stages: stages.map((s) => {
      // Failed invocations (conflicts, fenced producers) are retried: their cost is part of the price,
      // so means are over every attempt and rates count attempts per successful delivery.
      const all = [...drain.samples, ...live.samples].filter((x) => x.stage === s.name);
      const data = all.filter((x) => x.kind === 'data');
      const drainRecords = drain.samples.filter((x) => x.ok && x.stage === s.name && x.kind === 'data').reduce((n, x) => n + x.records, 0);
      const liveControl = live.samples.filter((x) => x.stage === s.name && x.kind === 'control');
      const buckets = new Map<number, InvocationSample[]>();
      for (const x of data) {
        const b = Math.floor(Math.log2(Math.max(1, x.records)));
        buckets.set(b, [...(buckets.get(b) ?? []), x]);
      }
      const okData = data.filter((x) => x.ok).length;
      return {
        stage: s.name,
        partitions: s.partitions,
        recordsPerEvent: drain.events > 0 ? drainRecords / drain.events : 0,
        data: [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([, xs]) => mean(xs)),
        attemptsPerDelivery: okData > 0 ? data.length / okData : 1,
        control: mean(liveControl.length > 0 ? liveControl : all.filter((x) => x.kind === 'control')),
        controlPerSecond: live.seconds > 0 ? liveControl.length / live.seconds : 0,
      };
    }),
  };
}

function mean(xs: readonly InvocationSample[]): InvocationCost {
  const n = xs.length;
  const avg = (f: (x: InvocationSample) => number): number => (n === 0 ? 0 : xs.reduce((a, x) => a + f(x), 0) / n);
  return { records: avg((x) => x.records), ms: avg((x) => x.ms), wru: avg((x) => x.wru), rru: avg((x) => x.rru), requests: avg((x) => x.ddbRequests), count: n };
}

/** Mean cost of a data invocation of `records` records, interpolated between the measured buckets. */
export function costAt(buckets: readonly InvocationCost[], records: number): InvocationCost {
  const first = buckets[0];
  if (!first) return { records, ms: 0, wru: 0, rru: 0, requests: 0, count: 0 };
  if (records <= first.records) return { ...first, records };
  for (let i = 1; i < buckets.length; i += 1) {
    const a = buckets[i - 1]!;
    const b = buckets[i]!;
    if (records <= b.records) {
      const t = (records - a.records) / (b.records - a.records || 1);
      const lerp = (f: (c: InvocationCost) => number): number => f(a) + t * (f(b) - f(a));
      return { records, ms: lerp((c) => c.ms), wru: lerp((c) => c.wru), rru: lerp((c) => c.rru), requests: lerp((c) => c.requests), count: 0 };
    }
  }
  const last = buckets[buckets.length - 1]!;
  const k = records / last.records;
  return { records, ms: last.ms * k, wru: last.wru * k, rru: last.rru * k, requests: last.requests * k, count: 0 };
}

/** What Lambda's trigger does at `recordsPerSecond` on one partition: invocations/s and records each. */
export function invocationsPerPartition(recordsPerSecond: number, d: Deployment): { perSecond: number; records: number } {
  if (recordsPerSecond <= 0) return { perSecond: 0, records: 0 };
  const full = recordsPerSecond / d.batchSize;
  const perSecond = Math.max(full, Math.min(recordsPerSecond, 1 / d.batchingWindowSeconds));
  return { perSecond, records: recordsPerSecond / perSecond };
}

/** Monthly AWS cost of one pipeline at one rate. */
export interface MonthlyCost {
  readonly rate: number;
  readonly invocationsPerSecond: number;
  /** Partitions a stage input needs at this rate, one batch at a time per partition (the cost assumes they exist). */
  readonly partitionsNeeded: number;
  readonly gbSeconds: number;
  readonly requests: number;
  readonly wru: number;
  readonly rru: number;
  readonly lambda: number;
  readonly dynamodb: number;
  readonly total: number;
}

/** Prices a profile at `rate` events/s for a month (stages + the ticker). */
export function monthlyCost(profile: PipelineProfile, rate: number, prices: Prices = PRICES, d: Deployment = DEPLOYMENT): MonthlyCost {
  const seconds = prices.hoursPerMonth * 3600;
  let invocations = 0;
  let gbs = 0;
  let wru = 0;
  let rru = 0;
  let partitionsNeeded = 1;
  const gb = d.lambdaMemoryMb / 1024;
  for (const s of profile.stages) {
    const perPartition = invocationsPerPartition((rate * s.recordsPerEvent) / s.partitions, d);
    const data = costAt(s.data, perPartition.records);
    const dataPerSecond = perPartition.perSecond * s.partitions * s.attemptsPerDelivery;
    // A partition takes one batch at a time: full batches of B in ms(B) each bound its rate.
    const full = costAt(s.data, d.batchSize);
    const perPartitionMax = full.ms > 0 ? (d.batchSize / (full.ms * s.attemptsPerDelivery)) * 1000 : Number.POSITIVE_INFINITY;
    partitionsNeeded = Math.max(partitionsNeeded, Math.ceil((rate * s.recordsPerEvent) / perPartitionMax));
    invocations += dataPerSecond + s.controlPerSecond;
    gbs += ((dataPerSecond * data.ms + s.controlPerSecond * s.control.ms) / 1000) * gb;
    wru += dataPerSecond * data.wru + s.controlPerSecond * s.control.wru;
    rru += dataPerSecond * data.rru + s.controlPerSecond * s.control.rru;
  }
  const tickerGbS = (d.tickerMemoryMb / 1024) * d.tickerSecondsPerMinute * 60 * prices.hoursPerMonth;
  const tickerRequests = 60 * prices.hoursPerMonth;
  const monthGbS = gbs * seconds + tickerGbS;
  const monthRequests = invocations * seconds + tickerRequests;
  const lambda = monthGbS * prices.lambdaPerGbSecond + (monthRequests / 1e6) * prices.lambdaPerMillionRequests;
  const dynamodb = ((wru * seconds) / 1e6) * prices.dynamoPerMillionWru + ((rru * seconds) / 1e6) * prices.dynamoPerMillionRru;
  return { rate, invocationsPerSecond: invocations, partitionsNeeded, gbSeconds: monthGbS, requests: monthRequests, wru: wru * seconds, rru: rru * seconds, lambda, dynamodb, total: lambda + dynamodb };
}

/** The smallest Managed Service for Apache Flink application: one KPU plus the orchestration KPU, and its storage. */
export function flinkMinimumMonthly(prices: Prices = PRICES): number {
  return flinkMonthly(1, prices);
}

/** A Flink application of `kpus` processing KPUs (plus the orchestration one) per month. */
export function flinkMonthly(kpus: number, prices: Prices = PRICES): number {
  return (kpus + 1) * prices.flinkPerKpuHour * prices.hoursPerMonth + kpus * prices.flinkStorageGbPerKpu * prices.flinkStoragePerGbMonth;
}

/**
 * KPUs a rate needs if one KPU (1 vCPU) does what the Kafka Streams job did here per second:
 * a rough scale, not a Flink measurement.
 */
export function flinkKpusFor(rate: number, eventsPerSecondPerKpu: number): number {
  return Math.max(1, Math.ceil(rate / Math.max(1, eventsPerSecondPerKpu)));
}

/** The cost rows of a report. */
export interface CostReport {
  readonly prices: Prices;
  readonly deployment: Deployment;
  readonly rates: readonly number[];
  readonly pipelines: ReadonlyArray<{ readonly config: string; readonly costs: readonly MonthlyCost[] }>;
  readonly flinkMinimum: number;
  /** Scaled by the Kafka Streams throughput measured here, when it ran. */
  readonly flinkScaled?: ReadonlyArray<{ readonly rate: number; readonly kpus: number; readonly monthly: number }>;
}

/** Prices every profile at every rate. */
export function costReport(profiles: readonly PipelineProfile[], kstreamsEventsPerSecond: number | undefined, prices: Prices = PRICES, d: Deployment = DEPLOYMENT): CostReport {
  return {
    prices,
    deployment: d,
    rates: [...RATES],
    pipelines: profiles.map((p) => ({ config: p.config, costs: RATES.map((r) => monthlyCost(p, r, prices, d)) })),
    flinkMinimum: flinkMinimumMonthly(prices),
    ...(kstreamsEventsPerSecond !== undefined
      ? { flinkScaled: RATES.map((rate) => ({ rate, kpus: flinkKpusFor(rate, kstreamsEventsPerSecond), monthly: flinkMonthly(flinkKpusFor(rate, kstreamsEventsPerSecond), prices) })) }
      : {}),
  };
}

/** The cost table as text. */
export function formatCostReport(r: CostReport): string {
  const usd = (x: number): string => (x >= 100 ? `$${Math.round(x).toLocaleString('en-US')}` : `$${x.toFixed(2)}`);
  const head = ['monthly, us-east-1', ...r.rates.map((x) => `${x.toLocaleString('en-US')} ev/s`)];
  const rows: string[][] = [];
  for (const p of r.pipelines) {
    rows.push([`${p.config} (Lambda + DynamoDB)`, ...p.costs.map((c) => `${usd(c.total)} (${usd(c.lambda)} + ${usd(c.dynamodb)})`)]);
    rows.push([`  partitions needed per stage input`, ...p.costs.map((c) => `≥ ${c.partitionsNeeded}`)]);
  }
  rows.push(['Managed Flink, minimum (1 KPU + orchestration KPU)', ...r.rates.map(() => usd(r.flinkMinimum))]);
  if (r.flinkScaled) rows.push(['Managed Flink, KPUs scaled by Kafka Streams/core here', ...r.flinkScaled.map((f) => `${usd(f.monthly)} (${f.kpus} KPU)`)]);
  const widths = head.map((_, i) => Math.max(...[head, ...rows].map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]): string => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const d = r.deployment;
  return [
    line(head),
    ...rows.map(line),
    `prices of ${r.prices.asOf} (${r.prices.region}; assumptions to check): Lambda $${r.prices.lambdaPerGbSecond}/GB-s + $${r.prices.lambdaPerMillionRequests}/M requests; ` +
      `DynamoDB on-demand $${r.prices.dynamoPerMillionWru}/M WRU, $${r.prices.dynamoPerMillionRru}/M RRU; Managed Flink $${r.prices.flinkPerKpuHour}/KPU-h + $${r.prices.flinkStoragePerGbMonth}/GB-month × ${r.prices.flinkStorageGbPerKpu} GB/KPU; ${r.prices.hoursPerMonth} h/month.`,
    `deployment: ${d.lambdaMemoryMb} MB functions, BatchSize ${d.batchSize}, batching window ${d.batchingWindowSeconds} s, ticker ${d.tickerMemoryMb} MB × ${d.tickerSecondsPerMinute} s/min; Kafka (MSK) not included (needed by every option).`,
  ].join('\n');
}

// `npx tsx bench/cost.ts <result.json>`: the cost table of a saved run.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2] ?? 'bench/results/latest-quick.json';
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { cost?: CostReport };
  if (!saved.cost) {
    console.error(`${file} has no cost report`);
    process.exit(1);
  }
  console.log(formatCostReport(saved.cost));
}
