/**
 * The benchmark's cost model: which measured phase prices a rate, how the ticker and memory size
 * enter the price. Profiles are built by hand here; the benchmark builds them from invocations.
 */
import { describe, expect, it } from 'vitest';
import { basisFor, DEPLOYMENT, durationAtMemory, monthlyCost, ONE_VCPU_MB, PRICES, tickerRunTime, type Deployment, type InvocationTotals, type PhaseProfile, type PipelineProfile } from '../../../bench/cost.js';

const none: InvocationTotals = { count: 0, ms: 0, cpuMs: 0, cpuCount: 0, wru: 0, rru: 0, records: 0 };

/** `count` invocations of `ms` each (no CPU figure), `wru` write units each. */
function invocations(count: number, ms: number, wru: number): InvocationTotals {
  return { count, ms: count * ms, cpuMs: 0, cpuCount: 0, wru: count * wru, rru: 0, records: count };
}

function phase(name: string, rate: number, seconds: number, data: InvocationTotals, control: InvocationTotals): PhaseProfile {
  return { name, rate, seconds, events: rate * seconds, stages: [{ stage: 'views', data, control }], tickWritesPerSecond: 0.2 };
}

/** One stage; an idle phase, a 10 events/s phase and a live phase at 1,000 events/s. */
const profile: PipelineProfile = {
  config: 'test',
  stages: [{ stage: 'views', partitions: 2, readsSource: true, recordsPerEvent: 1, data: [{ records: 500, ms: 100, cpuMs: undefined, wru: 2, rru: 1, requests: 3, count: 10 }], attemptsPerDelivery: 1 }],
  phases: [
    phase('drain', 8_000, 10, invocations(160, 100, 2), invocations(4, 50, 1)),
    phase('live', 1_000, 60, invocations(240, 40, 2), invocations(30, 20, 1)),
    phase('idle', 0, 600, none, invocations(120, 10, 0)),
    phase('low', 10, 120, invocations(240, 20, 2), invocations(60, 10, 1)),
  ],
};

/** Lambda cost of `ms` at the deployed memory, per invocation, with requests. */
const x86: Deployment = { ...DEPLOYMENT, architecture: 'x86_64' };

describe('basisFor', () => {
  it('prices idle from the idle phase and a rate from the phase measured at it', () => {
    expect(basisFor(profile, 0)).toEqual({ phase: 'idle', phaseRate: 0, measured: true });
    expect(basisFor(profile, 10)).toEqual({ phase: 'low', phaseRate: 10, measured: true });
    expect(basisFor(profile, 1_100)).toEqual({ phase: 'live', phaseRate: 1_000, measured: true });
  });

  it('takes the phase nearest in rate, not measured, for a rate no phase ran at', () => {
    expect(basisFor(profile, 50_000)).toEqual({ phase: 'drain', phaseRate: 8_000, measured: false });
    expect(basisFor(profile, 100)).toEqual({ phase: 'low', phaseRate: 10, measured: false });
  });

  it('has no basis for idle without an idle phase', () => {
    expect(basisFor({ ...profile, phases: profile.phases.filter((p) => p.name !== 'idle') }, 0)).toEqual({ phase: undefined, phaseRate: undefined, measured: false });
  });
});

describe('monthlyCost', () => {
  it('takes the invocations per second of the phase measured at the rate as they were', () => {
    // low: (240 data + 60 control) over 120 s.
    expect(monthlyCost(profile, 10).invocationsPerSecond).toBeCloseTo(2.5, 10);
  });

  it('models the data invocations of a rate no phase ran at, with the nearest phase\'s control invocations per second', () => {
    // 50,000 events/s over 2 partitions in full batches of 500: 100 data invocations/s; the drain
    // made 0.4 control invocations per second.
    const c = monthlyCost(profile, 50_000, PRICES, { ...DEPLOYMENT, batchSize: 500 });
    expect(c.basis).toEqual({ phase: 'drain', phaseRate: 8_000, measured: false });
    expect(c.invocationsPerSecond).toBeCloseTo(100.4, 10);
  });

  it("takes the control invocations per second of event time: a drain's backlog spans more event time than the drain took", () => {
    // The drain read 40 s of event time in its 10 s: 4 control invocations are 0.1 per second deployed.
    const drain = profile.phases.find((p) => p.name === 'drain')!;
    const fast: PipelineProfile = { ...profile, phases: profile.phases.map((p) => (p === drain ? { ...p, eventSeconds: 40 } : p)) };
    const c = monthlyCost(fast, 50_000, PRICES, { ...DEPLOYMENT, batchSize: 500 });
    expect(c.invocationsPerSecond).toBeCloseTo(100.1, 10);
  });

  it('bundles the partitions of a stage into one invocation per batching window below BatchSize, as the trigger does', () => {
    // 1,000 events/s over 2 partitions, BatchSize 10,000, window 0.5 s: 2 data invocations/s of
    // 500 records (not 2 per partition); 50,000 events/s fill batches: 5/s of 10,000.
    const low = monthlyCost(profile, 1_000, PRICES, DEPLOYMENT);
    expect(low.basis.measured).toBe(true);
    const model = (rate: number): number => monthlyCost({ ...profile, phases: profile.phases.filter((p) => p.name !== 'live') }, rate, PRICES, { ...DEPLOYMENT, batchSize: 10_000, batchingWindowSeconds: 0.5 }).invocationsPerSecond;
    expect(model(1_000)).toBeCloseTo(2 + 0.4, 10);
    expect(model(50_000)).toBeCloseTo(5 + 0.4, 10);
  });

  it('invokes a stage on an internal topic with a 0 s window once per upstream commit, not once per record', () => {
    // views (source, window 0.5 s) → counts (internal, window 0): counts gets one burst per views
    // invocation: 2/s at 1,000 events/s; at 50,000 events/s full batches on both.
    const chain: PipelineProfile = {
      ...profile,
      stages: [profile.stages[0]!, { ...profile.stages[0]!, stage: 'counts', readsSource: false, recordsPerEvent: 0.5 }],
      phases: profile.phases.filter((p) => p.name === 'drain'),
    };
    const at = (rate: number, internal: number): number => monthlyCost(chain, rate, PRICES, { ...DEPLOYMENT, batchSize: 10_000, batchingWindowSeconds: 0.5, internalBatchingWindowSeconds: internal }).invocationsPerSecond;
    const control = 0.4;
    expect(at(1_000, 0)).toBeCloseTo(2 + 2 + control, 10);
    expect(at(1_000, 0.5)).toBeCloseTo(2 + 2 + control, 10);
    expect(at(1, 0)).toBeCloseTo(1 + 0.5 + control, 10);
    expect(at(50_000, 0)).toBeCloseTo(5 + 5 + control, 10);
  });

  it('prices idle from the idle phase\'s control invocations and the ticker', () => {
    const c = monthlyCost(profile, 0);
    expect(c.invocationsPerSecond).toBeCloseTo(0.2, 10);
    expect(c.wru).toBe(0);
    const seconds = PRICES.hoursPerMonth * 3600;
    const gbs = 0.2 * seconds * 0.01 * (DEPLOYMENT.lambdaMemoryMb / 1024);
    const controlLambda = gbs * PRICES.lambdaArmPerGbSecond + ((0.2 * seconds) / 1e6) * PRICES.lambdaPerMillionRequests;
    expect(c.lambda - c.ticker).toBeCloseTo(controlLambda, 6);
  });

  it('charges x86 more than arm64 per GB-second, the same per request', () => {
    const arm = monthlyCost(profile, 10);
    const x = monthlyCost(profile, 10, PRICES, x86);
    expect(x.gbSeconds).toBeCloseTo(arm.gbSeconds, 6);
    expect(x.lambda - arm.lambda).toBeCloseTo(arm.gbSeconds * (PRICES.lambdaPerGbSecond - PRICES.lambdaArmPerGbSecond), 6);
  });

  it('bills the ticker a run per period of its schedule, and the read units of every pass', () => {
    const oneMinute = { ...DEPLOYMENT, tickerPeriodSeconds: 60, tickerIntervalSeconds: 60 };
    const quiet = monthlyCost(profile, 0, PRICES, oneMinute);
    const reading = monthlyCost({ ...profile, ticker: { readMsPerPass: 0, rruPerPass: 2, writingPasses: 0, writeMs: 0, connectMs: 0 } }, 0, PRICES, oneMinute);
    const runs = (PRICES.hoursPerMonth * 3600) / 60;
    expect(quiet.tickerRuns).toBeCloseTo(runs, 6);
    expect(reading.dynamodb - quiet.dynamodb).toBeCloseTo(((runs * 2) / 1e6) * PRICES.dynamoPerMillionRru, 9);
  });
});

describe('tickerRunTime', () => {
  const measured = { readMsPerPass: 20, rruPerPass: 3, writingPasses: 0.5, writeMs: 4, connectMs: 100 };

  it('bills a run that passes every interval its period less one interval', () => {
    expect(tickerRunTime({ ...DEPLOYMENT, tickerPeriodSeconds: 60, tickerIntervalSeconds: 5 }, measured)).toBe(55);
  });

  it('bills a one-pass run its reads, and a connect and a write for the share of passes that wrote', () => {
    expect(tickerRunTime({ ...DEPLOYMENT, tickerPeriodSeconds: 60, tickerIntervalSeconds: 60 }, measured)).toBeCloseTo(0.072, 10);
  });
});

describe('durationAtMemory', () => {
  it('keeps a duration at one vCPU or more, and stretches its CPU part below', () => {
    expect(durationAtMemory(100, 40, ONE_VCPU_MB)).toBe(100);
    expect(durationAtMemory(100, 40, ONE_VCPU_MB / 2)).toBeCloseTo(140, 10);
    expect(durationAtMemory(100, undefined, 512)).toBe(100);
  });
});
