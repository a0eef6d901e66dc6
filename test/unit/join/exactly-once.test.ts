/**
 * Joins under the fault-injection driver, in memory (test/support/fault-driver.ts): crashes at
 * every commit step, zombies, redelivered and re-split batches, flaky ports, lost offset commits.
 * The committed output and join state must equal the scenarios' oracles (test/support/join-scenarios.ts).
 *
 * Replay one schedule: SLUICE_SEED=<seed> npx vitest run --project unit test/unit/join/exactly-once.test.ts
 */
import { describe, expect, it } from 'vitest';
import type { TaskStore } from '../../../framework/commit/ports.js';
import { CHANGELOG_STEPS, describeStats, faultSuiteConfig, formatFailures, memoryWorld, runFaultSchedules, traceFromEnv } from '../../support/fault-driver.js';
import { intervalJoin, tableJoin } from '../../support/join-scenarios.js';

const config = faultSuiteConfig({ seed: 20_261_701, schedules: 25, soakSchedules: 2000 });

describe(`joins exactly-once under faults, in memory: ${config.schedules} schedule(s) from seed ${config.seed}`, () => {
  const checkpoint = { pipeline: { commit: 'checkpoint' as const } };
  for (const scenario of [tableJoin(checkpoint), intervalJoin(checkpoint)]) {
    it(`${scenario.name} (commit: checkpoint): committed output and join state equal the oracle`, async () => {
      const report = await runFaultSchedules(memoryWorld(), scenario, { seed: config.seed, schedules: config.schedules, records: 40, trace: traceFromEnv() });
      console.log(`${scenario.name}: ${describeStats(report.stats)}`);
      expect(report.failures.length, formatFailures(report)).toBe(0);
      if (!config.replay) {
        // The faults really happened: crashes at most steps, zombies, recoveries both ways.
        expect(Object.values(report.stats.crashes).filter((n) => n > 0).length).toBeGreaterThanOrEqual(6);
        expect(report.stats.zombiePairs).toBeGreaterThan(0);
        expect(report.stats.recovered.committed).toBeGreaterThan(0);
        expect(report.stats.recovered.aborted).toBeGreaterThan(0);
      }
    }, 120_000);
  }

  // The default protocol: crashes at its steps (compactions included: the schedules snapshot every other batch).
  for (const scenario of [tableJoin(), intervalJoin()]) {
    it(`${scenario.name} (commit: changelog): committed output, join state and changelog equal the oracle`, async () => {
      const report = await runFaultSchedules(memoryWorld(), scenario, { seed: config.seed, schedules: config.schedules, records: 40, faults: { crashSteps: CHANGELOG_STEPS }, trace: traceFromEnv() });
      console.log(`${scenario.name} (changelog): ${describeStats(report.stats)}`);
      expect(report.failures.length, formatFailures(report)).toBe(0);
      if (!config.replay) {
        expect(Object.values(report.stats.crashes).filter((n) => n > 0).length).toBeGreaterThanOrEqual(5);
        expect(report.stats.zombiePairs).toBeGreaterThan(0);
        expect(report.stats.fenced).toBeGreaterThan(0);
      }
    }, 120_000);
  }

  it('the oracles are not vacuous: they catch join state lost on a cold start', async () => {
    const forgetful = memoryWorld({ wrap: (ports) => ({ ...ports, store: forgetting(ports.store) }) });
    for (const scenario of [tableJoin({ pipeline: { commit: 'checkpoint' } }), intervalJoin({ pipeline: { commit: 'checkpoint' } })]) {
      const report = await runFaultSchedules(forgetful, scenario, { seed: 7, schedules: 3, records: 40, faults: { crash: 0.3, zombie: 0, coldStart: 0.5 } });
      expect(report.failures.length, scenario.name).toBeGreaterThan(0);
      expect(formatFailures(report, 50)).toMatch(/(value|lost|state): /);
    }
  });
});

/** A store that loads nothing: a container that starts cold has forgotten every row and buffer. */
function forgetting(inner: TaskStore): TaskStore {
  return {
    read: (task) => inner.read(task),
    readCheckpoint: (task) => inner.readCheckpoint(task),
    load: async (task, ckpt, after) => ({ ...(await inner.load(task, ckpt, after)), entries: [] }),
    prepare: (task, record) => inner.prepare(task, record),
    writeSnapshot: (task, snapshot) => inner.writeSnapshot(task, snapshot),
    snapshotComplete: (task, snapshot) => inner.snapshotComplete(task, snapshot),
    confirm: (task, from, record) => inner.confirm(task, from, record),
    abandon: (task, from, record) => inner.abandon(task, from, record),
    compact: (task, from, snapshot) => inner.compact(task, from, snapshot),
    advance: (task, from, next) => inner.advance(task, from, next),
  };
}
