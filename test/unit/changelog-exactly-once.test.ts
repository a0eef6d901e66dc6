/**
 * Exactly-once of the changelog protocol (commit/changelog-protocol.ts,
 * docs/changelog-protocol.md), proven by the same fault injection as the checkpoint protocol
 * (test/unit/exactly-once.test.ts): crashes at every step of the protocol (compactions included),
 * zombies, redelivered and re-split batches, failed and lost port calls; committed output, state and
 * changelogs are compared with the oracle.
 *
 * Replay one schedule: SLUICE_SEED=<seed> npx vitest run --project unit test/unit/changelog-exactly-once.test.ts
 * Soak: SLUICE_SOAK=1 npx vitest run --project unit test/unit/changelog-exactly-once.test.ts
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { TaskLog, TxnSink } from '../../framework/commit/ports.js';
import type { FaultRunReport, FaultStats, Scenario } from '../support/fault-driver.js';
import { CHANGELOG_STEPS, describeStats, faultSuiteConfig, formatFailures, measureHappyPath, memoryWorld, mergeReports, runFaultSchedules, runningTotals, traceFromEnv } from '../support/fault-driver.js';

const config = faultSuiteConfig({ seed: 20_261_205, schedules: 40, soakSchedules: 3000 });
const changelog = { pipeline: { commit: 'changelog' as const } };
const scenarios: readonly Scenario[] = [runningTotals('keyed', changelog), runningTotals('repartition', changelog), runningTotals('chain', changelog)];
const runs = `${config.schedules} schedule(s) from seed ${config.seed}${config.soak ? ' (soak)' : ''}`;
const budget = (ms: number): number => (config.soak ? 4 * 3_600_000 : ms);
const faults = { crashSteps: CHANGELOG_STEPS };

describe(`changelog protocol: exactly-once under faults, in memory: ${runs}`, () => {
  const reports = new Map<string, FaultRunReport>();

  beforeAll(async () => {
    for (const scenario of scenarios) {
      const report = await runFaultSchedules(memoryWorld(), scenario, { seed: config.seed, schedules: config.schedules, faults, trace: traceFromEnv(), scheduleTimeoutMs: 60_000 });
      console.log(`${scenario.name} (changelog): ${describeStats(report.stats)}`);
      reports.set(scenario.name, report);
    }
    for (let round = 1; !config.replay && round <= 4 && missingCoverage([...reports.values()].map((r) => r.stats)).length > 0; round++) {
      console.log(`round ${round} of extra schedules, for ${missingCoverage([...reports.values()].map((r) => r.stats)).join(', ')}`);
      for (const scenario of scenarios) {
        const extra = await runFaultSchedules(memoryWorld(), scenario, { seed: config.seed + config.schedules + (round - 1) * 10, schedules: 10, faults, trace: traceFromEnv(), scheduleTimeoutMs: 60_000 });
        reports.set(scenario.name, mergeReports(reports.get(scenario.name)!, extra));
      }
    }
  }, budget(600_000));

  for (const scenario of scenarios) {
    it(`${scenario.name}: committed output, state and changelog equal the oracle`, () => {
      const report = reports.get(scenario.name)!;
      expect(report.failures.length, formatFailures(report)).toBe(0);
    });
  }

  it.skipIf(config.replay)('crashed at every step of the protocol, ran zombies, injected port failures and redelivered', () => {
    expect(missingCoverage([...reports.values()].map((r) => r.stats))).toEqual([]);
  });
});

/** The faults the schedules must have met, each named when missing. */
function missingCoverage(all: readonly FaultStats[]): string[] {
  const sum = (f: (s: FaultStats) => number): number => all.reduce((n, s) => n + f(s), 0);
  const counts: Array<[string, number]> = [
    ...CHANGELOG_STEPS.map((step): [string, number] => [`crashes at ${step}`, sum((s) => s.crashes[step])]),
    ['zombie pairs', sum((s) => s.zombiePairs)],
    ['calls that lost with a fenced producer', sum((s) => s.fenced)],
    ['batches rerun within an invocation after a lost race', sum((s) => s.reruns)],
    ['records redelivered', sum((s) => s.redelivered)],
    ...['sink.commit:lost-response', 'sink.readLog:unavailable', 'store.advance:lost-response', 'store.advance:stale-condition'].map((kind): [string, number] => [`injected ${kind}`, sum((s) => s.injected[kind] ?? 0)]),
  ];
  return counts.filter(([, n]) => n === 0).map(([name]) => name);
}

describe('changelog protocol: the checker fails when a guarantee is switched off', () => {
  it('reports duplicates when producers do not fence each other (every container its own transactional id)', async () => {
    let container = 0;
    const world = memoryWorld({
      wrap: (ports) => {
        const id = ++container;
        const inner = ports.sink;
        const sink: TxnSink = { ...inner, begin: (txnId) => inner.begin(`${txnId}#${id}`), claim: async () => undefined, resolve: (...a) => inner.resolve(...a), sendDirect: (r) => inner.sendDirect(r) };
        return { ...ports, sink };
      },
    });
    const report = await runFaultSchedules(world, runningTotals('keyed', changelog), { seed: 31, schedules: 4, faults: { ...faults, zombie: 0.6 } });
    expect(report.failures.length).toBeGreaterThan(0);
    expect(report.failures.flatMap((f) => f.violations.map((v) => v.kind))).toContain('duplicate');
  });

  it('reports lost state when a cold start reads no changelog (snapshot only)', async () => {
    const world = memoryWorld({
      wrap: (ports) => {
        const log: TaskLog = { read: async (at, from) => ({ records: [], next: (await ports.log!.read(at, from)).next }), trim: (at, before) => ports.log!.trim(at, before) };
        return { ...ports, log };
      },
    });
    const report = await runFaultSchedules(world, runningTotals('keyed', changelog), { seed: 37, schedules: 4, faults: { ...faults, coldStart: 0.5 } });
    expect(report.failures.length).toBeGreaterThan(0);
  });
});

describe('changelog protocol: cost of a fault-free batch', () => {
  it('the keyed stage: the checkpoint cold, then no store call at all; a changelog read and begin + send + commit in Kafka', async () => {
    const costs = await measureHappyPath(memoryWorld(), runningTotals('keyed', { ...changelog, users: 3 }), { seed: 3, batches: 3, batchSize: 4 });
    const storeCalls = (c: Readonly<Record<string, number>>): number => Object.entries(c).filter(([k]) => k.startsWith('store.')).reduce((n, [, v]) => n + v, 0);
    // Cold: the checkpoint (its snapshot is still empty, so there are no chunks to load); warm: nothing.
    expect(costs.map(storeCalls)).toEqual([1, 0, 0]);
    expect(costs[0]).toMatchObject({ 'store.readCheckpoint': 1 });
    for (const c of costs) expect(c).toMatchObject({ 'sink.claim': 1, 'sink.readLog': 1, 'sink.begin': 1, 'sink.send': 1, 'sink.commit': 1 });
  });
});
