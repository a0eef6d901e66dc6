/**
 * The cost model: what a Sluice pipeline would cost per month on AWS at a given event rate,
 * from what the benchmark measured, set against the smallest Amazon Managed Service for Apache
 * Flink application. Pure, but for the command line at the end.
 *
 * From the measured invocations of each stage (records, duration, CPU time, DynamoDB write and
 * read units of each one) it builds a profile: per phase (drain, live, and for YSB idle and the
 * 10 events/s phase) what each stage's data and control invocations did per second, and the mean
 * cost of a data invocation by batch size (log₂ buckets, interpolated) over all phases.
 *
 * A rate is priced from the phase measured at that rate (within 20 %): idle from the idle phase,
 * 10 events/s from the low-rate phase, 1,000 events/s from the live phase of the full run — its
 * invocations per second as they were, data scaled by rate ÷ phase rate. A rate no phase was
 * measured at (50,000 events/s; 1,000 in the quick run) takes its data invocations from the
 * batching model — what Lambda's trigger sends for the stage's input, one invocation carrying
 * every partition's records up to BatchSize B: full batches of B when records come faster than B
 * per batching window W, else one invocation per window (or per record below one record per
 * window) — and its control invocations per second from the phase nearest in rate
 * (window firings follow event time, not the event rate; marks sent per upstream batch would grow
 * with the rate, which this leaves out).
 * The ticker is priced from its schedule (framework/deploy/defaults.ts): runs per month × (run
 * time × its memory) and the read units of the checkpoints each pass reads; a run lasts its period
 * less one interval when it passes every interval, else what one pass took here (reads, and a
 * producer connect and a write when something was due).
 *
 * Lambda: GB-s at the deployed memory size and architecture, and requests. A duration measured
 * here ran on one full core (1,769 MB in Lambda's terms); below that Lambda gives a share of a
 * vCPU in proportion to memory, so the model stretches the CPU part of a duration (measured per
 * invocation when the functions ran out of process) by 1,769 ÷ memory. DynamoDB on-demand: write
 * and read request units. Kafka (MSK) is left out: every option needs it. So are DynamoDB
 * storage, CloudWatch Logs (one EMF line per invocation) and data transfer.
 *
 * Run on its own to print the table of a saved result: `npx tsx bench/cost.ts bench/results/latest-quick.json`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Architecture, DeployDefaults } from '../framework/deploy/defaults.js';
import { DEPLOY_DEFAULTS } from '../framework/deploy/defaults.js';
import type { InvocationSample } from './processors/protocol.js';

/** List prices the model uses. */
export interface Prices {
  /** When they were written down, and the caveat. */
  readonly asOf: string;
  readonly region: string;
  readonly note: string;
  /** AWS Lambda, x86_64, per GB-second of duration (first pricing tier). */
  readonly lambdaPerGbSecond: number;
  /** AWS Lambda, arm64 (Graviton), per GB-second of duration (first pricing tier). */
  readonly lambdaArmPerGbSecond: number;
  /** AWS Lambda, per million requests (both architectures). */
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

/** us-east-1 list prices. Assumptions: check them against the AWS pricing pages before relying on the dollars. */
export const PRICES: Prices = {
  asOf: '2026-11-22 (arm64 added 2026-12-05)',
  region: 'us-east-1',
  note: 'list prices as known to the authors on these dates, not fetched from AWS: check them on the AWS pricing pages (Lambda x86 and Arm first tier, DynamoDB on-demand after the Nov 2024 cut, Managed Service for Apache Flink)',
  lambdaPerGbSecond: 0.0000166667,
  lambdaArmPerGbSecond: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  dynamoPerMillionWru: 0.625,
  dynamoPerMillionRru: 0.125,
  flinkPerKpuHour: 0.11,
  flinkStoragePerGbMonth: 0.1,
  flinkStorageGbPerKpu: 50,
  hoursPerMonth: 730,
};

/** Memory at which Lambda gives a function one full vCPU (AWS Lambda docs, "Configuring function memory"). */
export const ONE_VCPU_MB = 1769;

/** How the functions would be deployed (framework/deploy/defaults.ts unless a sweep says otherwise). */
export interface Deployment {
  readonly lambdaMemoryMb: number;
  readonly architecture: Architecture;
  /** Records per invocation at most (the trigger's BatchSize). */
  readonly batchSize: number;
  /** The batching window of triggers on source topics, seconds. */
  readonly batchingWindowSeconds: number;
  /** The batching window of triggers on the topics Sluice writes between stages, seconds. */
  readonly internalBatchingWindowSeconds: number;
  /** The ticker: memory, its schedule's period, and seconds between ticks within a run. */
  readonly tickerMemoryMb: number;
  readonly tickerPeriodSeconds: number;
  readonly tickerIntervalSeconds: number;
}

/** The deployment of a set of defaults. */
export function deploymentOf(d: DeployDefaults): Deployment {
  return {
    lambdaMemoryMb: d.memorySizeMb,
    architecture: d.architecture,
    batchSize: d.batchSize,
    batchingWindowSeconds: d.batchingWindowSeconds,
    internalBatchingWindowSeconds: d.internalBatchingWindowSeconds,
    tickerMemoryMb: d.ticker.memorySizeMb,
    tickerPeriodSeconds: d.ticker.periodSeconds,
    tickerIntervalSeconds: d.ticker.intervalSeconds,
  };
}

/** The deployment the figures assume: Sluice's defaults. */
export const DEPLOYMENT: Deployment = deploymentOf(DEPLOY_DEFAULTS);

/** Rates the report prices, events/s (0: idle). */
export const RATES = [0, 10, 1_000, 50_000] as const;

/** Mean cost of one invocation. */
export interface InvocationCost {
  readonly records: number;
  /** Duration, and the CPU time in it when known (out of process), ms. */
  readonly ms: number;
  readonly cpuMs: number | undefined;
  readonly wru: number;
  readonly rru: number;
  readonly requests: number;
  /** Invocations the mean is over. */
  readonly count: number;
}

/** Sums of one kind of invocation of one stage in one phase. */
export interface InvocationTotals {
  readonly count: number;
  readonly ms: number;
  /** CPU ms of the invocations that reported it, and how many did. */
  readonly cpuMs: number;
  readonly cpuCount: number;
  readonly wru: number;
  readonly rru: number;
  readonly records: number;
}

/** What one stage did in one phase. */
export interface StagePhase {
  readonly stage: string;
  readonly data: InvocationTotals;
  readonly control: InvocationTotals;
}

/** One measured phase. */
export interface PhaseProfile {
  readonly name: string;
  /** Source events per second while it ran (drain: the measured throughput; idle: 0). */
  readonly rate: number;
  readonly seconds: number;
  /** Seconds of event time its input spans (the drain: fewer wall seconds than that); undefined = `seconds`. */
  readonly eventSeconds?: number;
  readonly events: number;
  readonly stages: readonly StagePhase[];
  /** Ticker writes per second. */
  readonly tickWritesPerSecond: number;
}

/** What one stage's invocations cost, over every phase. */
export interface StageProfile {
  readonly stage: string;
  readonly partitions: number;
  /** Whether its data trigger reads a source topic (else topics Sluice writes: the internal batching window). */
  readonly readsSource: boolean;
  /** Records the stage reads per source event. */
  readonly recordsPerEvent: number;
  /** Mean cost of data invocations (every attempt) by batch size, ascending. */
  readonly data: readonly InvocationCost[];
  /** Data invocations per batch delivered: above 1 when invocations failed and were retried. */
  readonly attemptsPerDelivery: number;
}

/** The ticker as measured, per pass: time reading the checkpoints, their read units, the share of passes that wrote ticks; and the time of one write and of connecting its producer (ms). */
export interface TickerProfile {
  readonly readMsPerPass: number;
  readonly rruPerPass: number;
  readonly writingPasses: number;
  readonly writeMs: number;
  readonly connectMs: number;
}

/** A pipeline's profile. */
export interface PipelineProfile {
  readonly config: string;
  readonly stages: readonly StageProfile[];
  readonly phases: readonly PhaseProfile[];
  readonly ticker?: TickerProfile;
}

/** Invocations of one phase and how long it ran. */
export interface PhaseSamples {
  readonly name: string;
  readonly rate: number;
  readonly samples: readonly InvocationSample[];
  readonly events: number;
  readonly seconds: number;
  /** Seconds of event time the phase's input spans, when not `seconds` (the drain: a backlog read faster than real time). */
  readonly eventSeconds?: number;
  readonly tickWrites: number;
}

/** Builds a pipeline's profile from its phases (the first, the drain, gives the records per event). */
export function buildProfile(config: string, stages: ReadonlyArray<{ name: string; partitions: number; readsSource?: boolean }>, ...phaseGroups: Array<PhaseSamples | readonly PhaseSamples[]>): PipelineProfile {
  const phases = phaseGroups.flat();
  const drain = phases[0];
  const all = phases.flatMap((p) => p.samples);
  return {
    config,
    stages: stages.map((s) => {
      // Failed invocations (conflicts, fenced producers) are retried: their cost is part of the price,
      // so means are over every attempt and rates count attempts per successful delivery.
      const data = all.filter((x) => x.stage === s.name && x.kind === 'data');
      const drainRecords = (drain?.samples ?? []).filter((x) => x.ok && x.stage === s.name && x.kind === 'data').reduce((n, x) => n + x.records, 0);
      const buckets = new Map<number, InvocationSample[]>();
      for (const x of data) {
        const b = Math.floor(Math.log2(Math.max(1, x.records)));
        buckets.set(b, [...(buckets.get(b) ?? []), x]);
      }
      const okData = data.filter((x) => x.ok).length;
      return {
        stage: s.name,
        partitions: s.partitions,
        readsSource: s.readsSource ?? true,
        recordsPerEvent: drain && drain.events > 0 ? drainRecords / drain.events : 0,
        data: [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([, xs]) => mean(xs)),
        attemptsPerDelivery: okData > 0 ? data.length / okData : 1,
      };
    }),
    phases: phases.map((p) => ({
      name: p.name,
      rate: p.rate,
      seconds: p.seconds,
      ...(p.eventSeconds === undefined ? {} : { eventSeconds: p.eventSeconds }),
      events: p.events,
      stages: stages.map((s) => ({
        stage: s.name,
        data: totals(p.samples.filter((x) => x.stage === s.name && x.kind === 'data')),
        control: totals(p.samples.filter((x) => x.stage === s.name && x.kind === 'control')),
      })),
      tickWritesPerSecond: p.seconds > 0 ? p.tickWrites / p.seconds : 0,
    })),
  };
}

/** The profile with the ticker's measured times. */
export function withTicker(profile: PipelineProfile, ticker: TickerProfile | undefined): PipelineProfile {
  return ticker ? { ...profile, ticker } : profile;
}

function totals(xs: readonly InvocationSample[]): InvocationTotals {
  const withCpu = xs.filter((x) => x.cpuMs !== undefined);
  const sum = (ys: readonly InvocationSample[], f: (x: InvocationSample) => number): number => ys.reduce((a, x) => a + f(x), 0);
  return { count: xs.length, ms: sum(xs, (x) => x.ms), cpuMs: sum(withCpu, (x) => x.cpuMs ?? 0), cpuCount: withCpu.length, wru: sum(xs, (x) => x.wru), rru: sum(xs, (x) => x.rru), records: sum(xs, (x) => x.records) };
}

function mean(xs: readonly InvocationSample[]): InvocationCost {
  const n = xs.length;
  const avg = (f: (x: InvocationSample) => number): number => (n === 0 ? 0 : xs.reduce((a, x) => a + f(x), 0) / n);
  const withCpu = xs.filter((x) => x.cpuMs !== undefined);
  const cpuMs = withCpu.length === 0 ? undefined : withCpu.reduce((a, x) => a + (x.cpuMs ?? 0), 0) / withCpu.length;
  return { records: avg((x) => x.records), ms: avg((x) => x.ms), cpuMs, wru: avg((x) => x.wru), rru: avg((x) => x.rru), requests: avg((x) => x.ddbRequests), count: n };
}

/** Mean cost of a data invocation of `records` records, interpolated between the measured buckets. */
export function costAt(buckets: readonly InvocationCost[], records: number): InvocationCost {
  const first = buckets[0];
  if (!first) return { records, ms: 0, cpuMs: undefined, wru: 0, rru: 0, requests: 0, count: 0 };
  if (records <= first.records) return { ...first, records };
  for (let i = 1; i < buckets.length; i += 1) {
    const a = buckets[i - 1]!;
    const b = buckets[i]!;
    if (records <= b.records) {
      const t = (records - a.records) / (b.records - a.records || 1);
      const lerp = (f: (c: InvocationCost) => number): number => f(a) + t * (f(b) - f(a));
      const cpuMs = a.cpuMs === undefined || b.cpuMs === undefined ? undefined : lerp((c) => c.cpuMs ?? 0);
      return { records, ms: lerp((c) => c.ms), cpuMs, wru: lerp((c) => c.wru), rru: lerp((c) => c.rru), requests: lerp((c) => c.requests), count: 0 };
    }
  }
  const last = buckets[buckets.length - 1]!;
  const k = records / last.records;
  return { records, ms: last.ms * k, cpuMs: last.cpuMs === undefined ? undefined : last.cpuMs * k, wru: last.wru * k, rru: last.rru * k, requests: last.requests * k, count: 0 };
}

/**
 * What Lambda's trigger sends for a stage input that gets `recordsPerSecond` over all its
 * partitions: invocations/s and records each. One invocation carries the records of every
 * partition that has any, up to BatchSize (as the trigger emulator the samples were measured on
 * does): full batches when records come faster than BatchSize per batching window, else one
 * invocation per window (or per record, below one record per window). A trigger on a topic Sluice
 * writes between stages gets its records in bursts, one per upstream commit (`burstsPerSecond`):
 * with a window shorter than the bursts' spacing (0 by default) it invokes once a burst.
 */
export function triggerInvocations(recordsPerSecond: number, d: Deployment, input: { readonly windowSeconds: number; readonly burstsPerSecond?: number } = { windowSeconds: d.batchingWindowSeconds }): { perSecond: number; records: number } {
  if (recordsPerSecond <= 0) return { perSecond: 0, records: 0 };
  const full = recordsPerSecond / d.batchSize;
  const perWindow = input.windowSeconds > 0 ? 1 / input.windowSeconds : Number.POSITIVE_INFINITY;
  const perSecond = Math.max(full, Math.min(recordsPerSecond, perWindow, input.burstsPerSecond ?? Number.POSITIVE_INFINITY));
  return { perSecond, records: recordsPerSecond / perSecond };
}

/** Billed duration at `memoryMb` of an invocation that took `ms` on one full core, `cpuMs` of it on the CPU: the CPU part stretches below one vCPU. */
export function durationAtMemory(ms: number, cpuMs: number | undefined, memoryMb: number): number {
  if (cpuMs === undefined || memoryMb >= ONE_VCPU_MB) return ms;
  const cpu = Math.min(cpuMs, ms);
  return ms - cpu + cpu * (ONE_VCPU_MB / memoryMb);
}

/** Price of a GB-second on an architecture. */
export function gbSecondPrice(prices: Prices, architecture: Architecture): number {
  return architecture === 'arm64' ? prices.lambdaArmPerGbSecond : prices.lambdaPerGbSecond;
}

/** Which phase a rate is priced from, and how. */
export interface CostBasis {
  /** The phase the control invocations (and, when `measured`, the data invocations) come from; undefined: none measured. */
  readonly phase: string | undefined;
  readonly phaseRate: number | undefined;
  /** True when the phase ran at this rate (within 20 %): its invocations per second are taken as measured. */
  readonly measured: boolean;
}

/** Monthly AWS cost of one pipeline at one rate. */
export interface MonthlyCost {
  readonly rate: number;
  readonly basis: CostBasis;
  readonly invocationsPerSecond: number;
  /** Partitions a stage input needs at this rate, one batch at a time per partition (the cost assumes they exist). */
  readonly partitionsNeeded: number;
  readonly gbSeconds: number;
  readonly requests: number;
  readonly wru: number;
  readonly rru: number;
  /** The ticker's runs per month and its share of the Lambda cost. */
  readonly tickerRuns: number;
  readonly ticker: number;
  readonly lambda: number;
  readonly dynamodb: number;
  readonly total: number;
}

/** The phase a rate is priced from: idle for 0, else the measured phase nearest in rate (log scale). */
export function basisFor(profile: PipelineProfile, rate: number): CostBasis {
  if (rate === 0) {
    const idle = profile.phases.find((p) => p.rate === 0 && p.seconds > 0);
    return idle ? { phase: idle.name, phaseRate: 0, measured: true } : { phase: undefined, phaseRate: undefined, measured: false };
  }
  const candidates = profile.phases.filter((p) => p.rate > 0 && p.seconds > 0);
  let best: PhaseProfile | undefined;
  for (const p of candidates) if (!best || Math.abs(Math.log(p.rate / rate)) < Math.abs(Math.log(best.rate / rate))) best = p;
  if (!best) return { phase: undefined, phaseRate: undefined, measured: false };
  return { phase: best.name, phaseRate: best.rate, measured: Math.abs(best.rate / rate - 1) <= 0.2 };
}

/** Prices a profile at `rate` events/s for a month (stages + the ticker). */
export function monthlyCost(profile: PipelineProfile, rate: number, prices: Prices = PRICES, d: Deployment = DEPLOYMENT): MonthlyCost {
  const seconds = prices.hoursPerMonth * 3600;
  const basis = basisFor(profile, rate);
  const phase = profile.phases.find((p) => p.name === basis.phase);
  const gb = d.lambdaMemoryMb / 1024;
  const billedMs = (t: InvocationTotals): number => (t.count === 0 ? 0 : durationAtMemory(t.ms, t.cpuCount === t.count ? t.cpuMs : undefined, d.lambdaMemoryMb));
  let invocations = 0;
  let gbs = 0;
  let wru = 0;
  let rru = 0;
  let partitionsNeeded = 1;
  let upstreamPerSecond = Number.POSITIVE_INFINITY;
  for (const s of profile.stages) {
    const measured = phase?.stages.find((x) => x.stage === s.stage);
    const per = phase && phase.seconds > 0 ? 1 / phase.seconds : 0;
    // The measured invocations carried several partitions each, as Lambda's do; pricing one per
    // partition (before 2026-12-05) charged each partition a whole invocation's fixed cost and, by
    // records, the write units of several task batches.
    // A stage after another gets its input in the upstream commits: at most one burst per upstream
    // invocation (the stage before it in the list: exact for chains, an approximation for joins).
    const trigger = s.readsSource
      ? triggerInvocations(rate * s.recordsPerEvent, d)
      : triggerInvocations(rate * s.recordsPerEvent, d, { windowSeconds: d.internalBatchingWindowSeconds, burstsPerSecond: upstreamPerSecond });
    upstreamPerSecond = trigger.perSecond;
    const modelData = trigger.perSecond * s.attemptsPerDelivery;
    // Control invocations (marks, ticks, the window firings they cause) per second of event time as
    // in the basis phase, at any rate: firings follow event time (windows per second), not the event
    // rate. Deployed, event time runs with real time; in the drain it ran ~4× faster.
    const eventSeconds = phase ? (phase.eventSeconds ?? phase.seconds) : 0;
    const perEventSecond = eventSeconds > 0 ? 1 / eventSeconds : 0;
    if (measured) {
      invocations += measured.control.count * perEventSecond;
      gbs += (billedMs(measured.control) / 1000) * perEventSecond * gb;
      wru += measured.control.wru * perEventSecond;
      rru += measured.control.rru * perEventSecond;
    }
    if (basis.measured && measured && phase) {
      // Data invocations as measured at (about) this rate, scaled to it.
      const k = phase.rate > 0 ? (rate / phase.rate) * per : 0;
      invocations += measured.data.count * k;
      gbs += (billedMs(measured.data) / 1000) * k * gb;
      wru += measured.data.wru * k;
      rru += measured.data.rru * k;
    } else if (rate > 0) {
      const data = costAt(s.data, trigger.records);
      invocations += modelData;
      gbs += ((modelData * durationAtMemory(data.ms, data.cpuMs, d.lambdaMemoryMb)) / 1000) * gb;
      wru += modelData * data.wru;
      rru += modelData * data.rru;
    }
    // A partition takes one batch at a time: full batches of B in ms(B) each bound its rate.
    const full = costAt(s.data, d.batchSize);
    const fullMs = durationAtMemory(full.ms, full.cpuMs, d.lambdaMemoryMb);
    const perPartitionMax = fullMs > 0 ? (d.batchSize / (fullMs * s.attemptsPerDelivery)) * 1000 : Number.POSITIVE_INFINITY;
    partitionsNeeded = Math.max(partitionsNeeded, Math.ceil((rate * s.recordsPerEvent) / perPartitionMax));
  }
  const tickerRuns = seconds / d.tickerPeriodSeconds;
  const tickerRunSeconds = tickerRunTime(d, profile.ticker);
  const tickerGbS = (d.tickerMemoryMb / 1024) * tickerRunSeconds * tickerRuns;
  const price = gbSecondPrice(prices, d.architecture);
  // Every pass reads the checkpoints of the tasks it may tick.
  const tickerPasses = tickerRuns * Math.max(1, Math.floor(d.tickerPeriodSeconds / d.tickerIntervalSeconds));
  const tickerRru = tickerPasses * (profile.ticker?.rruPerPass ?? 0);
  const ticker = tickerGbS * price + (tickerRuns / 1e6) * prices.lambdaPerMillionRequests + (tickerRru / 1e6) * prices.dynamoPerMillionRru;
  const monthGbS = gbs * seconds + tickerGbS;
  const monthRequests = invocations * seconds + tickerRuns;
  const lambda = monthGbS * price + (monthRequests / 1e6) * prices.lambdaPerMillionRequests;
  const dynamodb = ((wru * seconds) / 1e6) * prices.dynamoPerMillionWru + ((rru * seconds + tickerRru) / 1e6) * prices.dynamoPerMillionRru;
  return { rate, basis, invocationsPerSecond: invocations, partitionsNeeded, gbSeconds: monthGbS, requests: monthRequests, wru: wru * seconds, rru: rru * seconds + tickerRru, tickerRuns, ticker, lambda, dynamodb, total: lambda + dynamodb };
}

/** What one measured phase's invocations cost, per 1,000 of its source events (the ticker left out). */
export interface PhaseCost {
  readonly lambda: number;
  readonly dynamodb: number;
  readonly total: number;
}

/** The cost of a phase's invocations as measured (every stage, data and control), per 1,000 source events. */
export function phaseCostPer1k(profile: PipelineProfile, phaseName: string, prices: Prices = PRICES, d: Deployment = DEPLOYMENT): PhaseCost | undefined {
  const phase = profile.phases.find((p) => p.name === phaseName);
  if (!phase || phase.events === 0) return undefined;
  const gb = d.lambdaMemoryMb / 1024;
  let lambda = 0;
  let dynamodb = 0;
  for (const s of phase.stages) {
    for (const t of [s.data, s.control]) {
      if (t.count === 0) continue;
      const ms = durationAtMemory(t.ms, t.cpuCount === t.count ? t.cpuMs : undefined, d.lambdaMemoryMb);
      lambda += (ms / 1000) * gb * gbSecondPrice(prices, d.architecture) + (t.count / 1e6) * prices.lambdaPerMillionRequests;
      dynamodb += (t.wru / 1e6) * prices.dynamoPerMillionWru + (t.rru / 1e6) * prices.dynamoPerMillionRru;
    }
  }
  const k = 1000 / phase.events;
  return { lambda: lambda * k, dynamodb: dynamodb * k, total: (lambda + dynamodb) * k };
}

/**
 * Seconds one ticker run is billed: a run that passes every interval lasts its period less one
 * interval (it then leaves the rest to the next run); a run of one pass lasts what a pass took
 * here — reading the checkpoints, and for the share of passes with something due a producer
 * connect and a write (1 s when not measured).
 */
export function tickerRunTime(d: Deployment, measured: TickerProfile | undefined): number {
  if (d.tickerIntervalSeconds < d.tickerPeriodSeconds) return d.tickerPeriodSeconds - d.tickerIntervalSeconds;
  if (!measured) return 1;
  return (measured.readMsPerPass + measured.writingPasses * (measured.connectMs + measured.writeMs)) / 1000;
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
export function costReport(profiles: readonly PipelineProfile[], kstreamsEventsPerSecond: number | undefined, prices: Prices = PRICES, d: Deployment = DEPLOYMENT, rates: readonly number[] = RATES): CostReport {
  return {
    prices,
    deployment: d,
    rates: [...rates],
    pipelines: profiles.map((p) => ({ config: p.config, costs: rates.map((r) => monthlyCost(p, r, prices, d)) })),
    flinkMinimum: flinkMinimumMonthly(prices),
    ...(kstreamsEventsPerSecond !== undefined
      ? { flinkScaled: rates.map((rate) => ({ rate, kpus: flinkKpusFor(rate, kstreamsEventsPerSecond), monthly: flinkMonthly(flinkKpusFor(rate, kstreamsEventsPerSecond), prices) })) }
      : {}),
  };
}

/** Dollars: cents below $100, whole dollars above. */
export function usd(x: number): string {
  return x >= 100 ? `$${Math.round(x).toLocaleString('en-US')}` : `$${x.toFixed(2)}`;
}

/** How a basis reads in the table: the phase, and whether it ran at the rate. */
function basisLabel(b: CostBasis | undefined): string {
  // Results saved before phases were priced separately have no basis.
  if (!b?.phase) return b ? 'not measured' : '–';
  return b.measured ? b.phase : `model + ${b.phase}`;
}

/** The cost table as text. */
export function formatCostReport(r: CostReport): string {
  const head = ['monthly, us-east-1', ...r.rates.map((x) => (x === 0 ? 'idle' : `${x.toLocaleString('en-US')} ev/s`))];
  const rows: string[][] = [];
  for (const p of r.pipelines) {
    // An idle figure without an idle phase would be the ticker alone: not a measurement.
    const unmeasured = (c: MonthlyCost): boolean => c.rate === 0 && c.basis?.phase === undefined;
    rows.push([`${p.config} (Lambda + DynamoDB)`, ...p.costs.map((c) => (unmeasured(c) ? '–' : `${usd(c.total)} (${usd(c.lambda)} + ${usd(c.dynamodb)})`))]);
    rows.push([`  of which the ticker`, ...p.costs.map((c) => (c.ticker === undefined || unmeasured(c) ? '–' : usd(c.ticker)))]);
    rows.push([`  priced from`, ...p.costs.map((c) => basisLabel(c.basis))]);
    rows.push([`  partitions needed per stage input`, ...p.costs.map((c) => (c.rate === 0 ? '–' : `≥ ${c.partitionsNeeded}`))]);
  }
  rows.push(['Managed Flink, minimum (1 KPU + orchestration KPU)', ...r.rates.map(() => usd(r.flinkMinimum))]);
  if (r.flinkScaled) rows.push(['Managed Flink, KPUs scaled by Kafka Streams/core here', ...r.flinkScaled.map((f) => `${usd(f.monthly)} (${f.kpus} KPU)`)]);
  const widths = head.map((_, i) => Math.max(...[head, ...rows].map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]): string => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const d = r.deployment;
  return [
    line(head),
    ...rows.map(line),
    `priced from: the phase measured at that rate (idle; low = the 10 events/s phase; live); "model + <phase>": data invocations from the batching model, control invocations per second as in <phase>.`,
    `prices of ${r.prices.asOf} (${r.prices.region}; assumptions to check): Lambda $${r.prices.lambdaPerGbSecond}/GB-s x86_64, $${r.prices.lambdaArmPerGbSecond}/GB-s arm64, + $${r.prices.lambdaPerMillionRequests}/M requests; ` +
      `DynamoDB on-demand $${r.prices.dynamoPerMillionWru}/M WRU, $${r.prices.dynamoPerMillionRru}/M RRU; Managed Flink $${r.prices.flinkPerKpuHour}/KPU-h + $${r.prices.flinkStoragePerGbMonth}/GB-month × ${r.prices.flinkStorageGbPerKpu} GB/KPU; ${r.prices.hoursPerMonth} h/month.`,
    `deployment (framework/deploy/defaults.ts): ${d.lambdaMemoryMb} MB ${d.architecture} functions, BatchSize ${d.batchSize}, batching window ${d.batchingWindowSeconds} s on source topics, ${d.internalBatchingWindowSeconds} s on internal and control topics; ticker ${d.tickerMemoryMb} MB, a run every ${d.tickerPeriodSeconds} s passing every ${d.tickerIntervalSeconds} s; Kafka (MSK) not included (needed by every option).`,
  ].join('\n');
}

// `npx tsx bench/cost.ts <result.json> [--reprice]`: the cost table of a saved run, as the run
// printed it, or (--reprice) its measured profiles priced again by this model.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--')) ?? 'bench/results/latest-quick.json';
  const saved = JSON.parse(readFileSync(file, 'utf8')) as SavedRun;
  if (!saved.cost) {
    console.error(`${file} has no cost report`);
    process.exit(1);
  }
  console.log(formatCostReport(args.includes('--reprice') ? repriced(saved.cost, saved.results ?? [], saved.settings?.backlogRate) : saved.cost));
}

/** What --reprice reads of a saved run. */
interface SavedRun {
  readonly cost?: CostReport;
  readonly results?: SavedResult[];
  readonly settings?: { readonly backlogRate?: number };
}

/** What --reprice reads of a saved configuration result. */
interface SavedResult {
  readonly name: string;
  readonly ok: boolean;
  readonly invoker?: string;
  readonly profile?: PipelineProfile;
  readonly drain?: { readonly eventsPerSecond?: number };
}

/**
 * A saved run's profiles priced again with this model, at the deployment and rates it was priced at.
 * Runs from before 2026-12-05 evening saved no event-time span of the drain: it is the backlog's
 * events at the run's backlog rate.
 */
function repriced(cost: CostReport, results: readonly SavedResult[], backlogRate: number | undefined): CostReport {
  const withSpan = (p: PipelineProfile): PipelineProfile => ({
    ...p,
    phases: p.phases.map((ph) => (ph.name === 'drain' && ph.eventSeconds === undefined && backlogRate ? { ...ph, eventSeconds: ph.events / backlogRate } : ph)),
  });
  const profiles = results.flatMap((r) => (r.ok && r.profile && r.invoker !== 'in-process' ? [withSpan(r.profile)] : []));
  const kstreams = results.find((r) => r.name === 'kstreams-eos' && r.ok)?.drain?.eventsPerSecond;
  return costReport(profiles, kstreams, PRICES, cost.deployment, cost.rates);
}
