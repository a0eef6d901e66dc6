/**
 * Joins and tables on the real broker and DynamoDB Local, checked against oracles under faults:
 *
 *  (a) the stream-table and interval join stages under the fault-injection driver
 *      (test/support/fault-driver.ts, scenarios in test/support/join-scenarios.ts): crashes at every
 *      commit step, zombie invocations, redelivered and re-split batches, flaky ports, lost offset
 *      commits; committed output and join state equal the oracles;
 *  (b) the fraud example end to end through LocalRun (emulated data and control triggers, ticker):
 *      accounts table ⋈ payments (processing order), then payments ⋈ logins (left interval join on
 *      event time), with containers crashing at random protocol steps and zombie invocations racing
 *      the real ones. The alerts and cleared topics hold exactly functions/fraud/oracle.ts's results,
 *      each once; nothing is late or dead-lettered; the table is queryable (readState) and the
 *      interval join's state of closed sessions is gone.
 *
 * Replay (a) with SLUICE_SEED=<seed>; (b) draws its faults from SLUICE_SEED too.
 */
import { readCheckpoints, tableOf } from '../../framework/ops/stage-items.js';
import { KafkajsChangelogReader } from '../../framework/kafka/changelog-reader.js';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile, InvocationFailedError, stageHandler } from '../../framework/index.js';
import type { InvocationReport, KafkaHandler, StagePorts, Topology } from '../../framework/index.js';
import type { CommitStep } from '../../framework/commit/ports.js';
import { SimulatedCrash } from '../../framework/commit/ports.js';
import { DynamoTaskStore } from '../../framework/dynamodb/task-store.js';
import { createTable, deleteTable } from '../../framework/dynamodb/table.js';
import { isFencedError, ProducerFencedError } from '../../framework/kafka/sink-errors.js';
import { readProvenance } from '../../framework/record/provenance.js';
import type { KafkaRecord } from '../../framework/record/record.js';
import { LocalRun } from '../../framework/local/dev.js';
import { inProcessInvoker, type Invoker } from '../../framework/local/esm/invoker.js';
import { taskRef } from '../../framework/runtime/task.js';
import { readState } from '../../framework/dynamodb/state-query.js';
import type { World } from '../support/fault-driver.js';
import { ALL_STEPS, describeStats, faultSuiteConfig, formatFailures, Rng, runFaultSchedules, traceFromEnv } from '../support/fault-driver.js';
import { intervalJoin, tableJoin } from '../support/join-scenarios.js';
import { createTopologyTopics, deleteTestTopics, readToEnd, testBrokers, testDynamo, testKafka, uniqueName } from '../support/infra.js';
import { testSink, type TestSink } from '../support/sink-client.js';
import { buildFraud, type FraudTopics, type ScoredPayment } from '../../functions/fraud/pipeline.js';
import { generateFraud } from '../../functions/fraud/generator.js';
import { describeScored, expectFraud } from '../../functions/fraud/oracle.js';

const config = faultSuiteConfig({ seed: 20_261_717, schedules: 4, soakSchedules: 30 });
// A crashed zombie's open transaction holds read_committed readers back until the broker aborts it.
const short = { pipeline: { functionTimeout: '4s', transactionTimeout: '8s' } } as const;

const kafka: Kafka = testKafka('sluice-test-joins');
const dynamo: DynamoDBClient = testDynamo();
const table = uniqueName('sluice-test-joins');

beforeAll(async () => {
  await createTable(dynamo, table);
});

afterAll(async () => {
  await deleteTable(dynamo, table).catch(() => undefined);
  dynamo.destroy();
});

/** The real world of the fault driver: a TxnSink of the client under test and a DynamoTaskStore per container. */
const realWorld: World = {
  async open(topology: Topology) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createTopologyTopics(admin, topology);
    } finally {
      await admin.disconnect();
    }
    const sinks: Array<TestSink | KafkajsChangelogReader> = [];
    // One per schedule: a kafkajs cluster refreshes metadata for every topic it ever read, and fails when one was deleted.
    const observerLog = new KafkajsChangelogReader(kafka, { settleMs: 2_000 });
    sinks.push(observerLog);
    return {
      container: () => {
        const sink = testSink(kafka, { transactionTimeoutMs: topology.settings.transactionTimeoutMs, resolveTimeoutMs: 60_000 });
        sinks.push(sink);
        const log = new KafkajsChangelogReader(kafka);
        sinks.push(log);
        return { store: new DynamoTaskStore(dynamo, table), sink, log };
      },
      observer: new DynamoTaskStore(dynamo, table),
      observerLog,
      readCommitted: (topic) => readToEnd(kafka, topic, { isolation: 'read_committed', timeoutMs: 60_000 }),
      isFenced: (error) => error instanceof ProducerFencedError || isFencedError(error),
      close: async () => {
        await Promise.all(sinks.map((s) => s.close().catch(() => undefined)));
        await deleteTestTopics(kafka, topology.topics.map((t) => t.name));
      },
    };
  },
};

describe(`(a) join stages under the fault driver on Kafka and DynamoDB Local: ${config.schedules} schedule(s) per scenario from seed ${config.seed}`, () => {
  for (const scenario of [tableJoin({ ...short, partitions: 2 }), intervalJoin({ ...short, partitions: 2 })]) {
    it(`${scenario.name}: committed output and join state equal the oracle`, async () => {
      const t0 = Date.now();
      const report = await runFaultSchedules(realWorld, scenario, { seed: config.seed, schedules: config.schedules, records: 24, invocations: 14, maxBatch: 5, trace: traceFromEnv() });
      console.log(`[joins] ${scenario.name} in ${Date.now() - t0} ms: ${describeStats(report.stats)}`);
      expect(report.failures.length, formatFailures(report)).toBe(0);
    }, 180_000);
  }
});

// --- (b) the fraud example through LocalRun -------------------------------------------------------

const PARTITIONS = 2;

/** One emulated deployment of the fraud pipeline: its topics, LocalRun, crashing containers and zombies. */
class FraudRig {
  readonly crashes = new Map<CommitStep, number>(ALL_STEPS.map((s) => [s, 0]));
  zombies = 0;
  replaced = 0;
  private readonly sinks: TestSink[] = [];
  private readonly ghosts: Array<Promise<unknown>> = [];
  private run: LocalRun | undefined;
  readonly store = new DynamoTaskStore(dynamo, table);

  constructor(
    readonly topics: FraudTopics,
    readonly topology: Topology,
    private readonly rng: Rng,
  ) {}

  static async start(seed: number): Promise<FraudRig> {
    const app = uniqueName('jf').slice(0, 30).replace(/-+$/, '');
    const topics: FraudTopics = { accounts: `${app}-accounts`, logins: `${app}-logins`, payments: `${app}-payments`, alerts: `${app}-alerts`, cleared: `${app}-cleared` };
    const topology = compile(buildFraud(app, topics, PARTITIONS).pipeline.plan());
    const rig = new FraudRig(topics, topology, new Rng(seed));
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createTopologyTopics(admin, topology);
    } finally {
      await admin.disconnect();
    }
    rig.run = new LocalRun({ topology, kafka, brokers: testBrokers(), invoker: rig.invoker(), batchSize: 20, batchingWindowMs: 100, tickIntervalMs: 500, taskTimes: rig.store });
    await rig.run.start();
    return rig;
  }

  /**
   * Real containers crash at random protocol steps (Lambda then retries on a new one); one
   * invocation in eight also runs on a zombie container at the same time, as an earlier attempt
   * Lambda gave up on would, and whatever the zombie does is ignored.
   */
  private invoker(): Invoker {
    const connect = (): StagePorts => {
      const sink = testSink(kafka, { transactionTimeoutMs: this.topology.settings.transactionTimeoutMs });
      this.sinks.push(sink);
      return { store: new DynamoTaskStore(dynamo, table), sink, log: new KafkajsChangelogReader(kafka) };
    };
    let budget = 24;
    const fault = (step: CommitStep, task: { id: string }, seq: number): void => {
      if (budget > 0 && this.rng.chance(0.04)) {
        budget -= 1;
        this.crashes.set(step, this.crashes.get(step)! + 1);
        throw new SimulatedCrash(step, task.id, seq);
      }
    };
    const stages = this.topology.stages.map((s) => s.name);
    const real = inProcessInvoker(Object.fromEntries(stages.map((s) => [s, (): KafkaHandler => stageHandler(this.topology, s, { connect, fault })])), {
      discard: (error) => {
        const crashed = isCrash(error);
        if (crashed) this.replaced += 1;
        return crashed;
      },
    });
    const zombies = inProcessInvoker(Object.fromEntries(stages.map((s) => [s, (): KafkaHandler => stageHandler(this.topology, s, { connect })])));
    return {
      invoke: async (functionName, event) => {
        if (this.rng.chance(0.125)) {
          this.zombies += 1;
          this.ghosts.push(zombies.invoke(functionName, event).catch(() => undefined));
        }
        return (await real.invoke(functionName, event)) as InvocationReport;
      },
    };
  }

  /** Produces to a source topic (to `partition`, or by key, or round robin). */
  async produce(topic: string, messages: ReadonlyArray<{ key?: string; value: unknown; partition?: number }>): Promise<void> {
    const producer = kafka.producer();
    await producer.connect();
    try {
      for (let i = 0; i < messages.length; i += 100) {
        await producer.send({
          topic,
          messages: messages.slice(i, i + 100).map((m, j) => ({ key: m.key ?? null, value: m.value === null ? null : JSON.stringify(m.value), partition: m.partition ?? (m.key === undefined ? (i + j) % PARTITIONS : undefined) })),
        });
      }
    } finally {
      await producer.disconnect();
    }
  }

  /** Waits until every task of `stage` has read its whole committed input and, if given, has at least `watermark`. */
  async drain(stage: string, watermark?: number): Promise<void> {
    const s = this.topology.stages.find((x) => x.name === stage)!;
    const input = s.inputs[0]!;
    const last = new Map<number, number>();
    for (const r of await this.committed(input.topic)) last.set(r.partition, Math.max(last.get(r.partition) ?? -1, r.offset));
    const deadline = Date.now() + 90_000;
    for (;;) {
      // The tasks' committed views, as the tools read them under either protocol.
      const tasks = Array.from({ length: input.partitions }, (_, p) => taskRef(this.topology, s, input.topic, p));
      const cs = (await readCheckpoints(tableOf({ dynamo, table, kafka, topology: this.topology }), tasks)).map((x) => x.checkpoint);
      const read = cs.every((c, p) => c.nextOffset > (last.get(p) ?? -1));
      if (read && (watermark === undefined || cs.every((c) => c.time.wm >= watermark))) return;
      if (Date.now() > deadline) {
        throw new Error(`stage ${stage}: not drained in 90 s (positions ${cs.map((c) => c.nextOffset).join(',')}, last offsets ${JSON.stringify(Object.fromEntries(last))}, watermarks ${cs.map((c) => c.time.wm).join(',')}, want ${watermark})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async committed(topic: string): Promise<KafkaRecord[]> {
    return readToEnd(kafka, topic, { isolation: 'read_committed', timeoutMs: 60_000 });
  }

  async stop(): Promise<void> {
    await this.run?.stop();
    await Promise.all(this.ghosts);
    await Promise.all(this.sinks.map((s) => s.close().catch(() => undefined)));
    await deleteTestTopics(kafka, this.topology.topics.map((t) => t.name)).catch(() => undefined);
  }
}

function isCrash(error: unknown): boolean {
  return error instanceof SimulatedCrash || (error instanceof InvocationFailedError && error.failures.some((f) => f.error instanceof SimulatedCrash));
}

describe('(b) the fraud example through emulated Lambda triggers, with crashes and zombies', () => {
  const seed = Number(process.env.SLUICE_SEED ?? 20_261_718);
  // Event times an hour ago: sinks keep them as record timestamps, and the broker's retention goes by those.
  const start = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
  const input = generateFraud({ seed, accounts: 20, payments: 120, start, spacingMs: 3_000 });
  const finalWatermark = input.end - 5_000;
  const expected = expectFraud(input.accounts, input.logins, input.payments, finalWatermark);
  let rig: FraudRig;
  let lines: { alerts: string[]; cleared: string[] };
  let records: KafkaRecord[];

  beforeAll(async () => {
    const t0 = Date.now();
    rig = await FraudRig.start(seed);
    // Accounts first, through enrich: the account join is in processing order.
    await rig.produce(rig.topics.accounts, input.accounts.map((c) => ({ key: c.key, value: c.value })));
    await rig.drain('accounts');
    await rig.drain('enrich');
    const events = [...input.logins.map((l) => ({ topic: rig.topics.logins, at: l.at, value: l })), ...input.payments.map((p) => ({ topic: rig.topics.payments, at: p.at, value: p }))].sort((a, b) => a.at - b.at);
    await rig.produce(rig.topics.logins, events.filter((e) => e.topic === rig.topics.logins));
    await rig.produce(rig.topics.payments, events.filter((e) => e.topic === rig.topics.payments));
    const end = input.endOfStream(PARTITIONS);
    await rig.produce(rig.topics.logins, end.logins.map((value, partition) => ({ value, partition })));
    await rig.produce(rig.topics.payments, end.payments.map((value, partition) => ({ value, partition })));
    await rig.drain('score', finalWatermark);
    records = [...(await rig.committed(rig.topics.alerts)), ...(await rig.committed(rig.topics.cleared))];
    const describeAll = (rs: KafkaRecord[]) => rs.map((r) => describeScored(JSON.parse(r.value!.toString()) as ScoredPayment)).sort();
    lines = { alerts: describeAll(await rig.committed(rig.topics.alerts)), cleared: describeAll(await rig.committed(rig.topics.cleared)) };
    console.log(
      `[joins] fraud example in ${Date.now() - t0} ms: ${lines.alerts.length} alerts, ${lines.cleared.length} cleared; crashes ${JSON.stringify(Object.fromEntries([...rig.crashes].filter(([, n]) => n > 0)))}, ${rig.replaced} containers replaced, ${rig.zombies} zombie invocations`,
    );
  }, 240_000);

  afterAll(async () => rig?.stop());

  it('writes exactly the oracle’s alerts and cleared payments', () => {
    expect(expected.alerts.length + expected.cleared.length).toBeGreaterThan(100);
    expect(lines.alerts).toEqual(expected.alerts);
    expect(lines.cleared).toEqual(expected.cleared);
  });

  it('writes each result once (distinct provenance), from the score stage', () => {
    const prov = records.map((r) => readProvenance(r.headers)!);
    expect(prov.every((p) => /^score\.\d$/.test(p.task))).toBe(true);
    expect(new Set(prov.map((p) => `${p.task}/${p.seq}/${p.idx}`)).size).toBe(records.length);
  });

  it('really crashed containers and raced zombies against them', () => {
    expect([...rig.crashes.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3);
    expect(rig.zombies).toBeGreaterThanOrEqual(3);
  });

  it('sends nothing to late or dead-letter topics', async () => {
    for (const stage of rig.topology.stages) {
      expect(await rig.committed(stage.deadLetterTopic), stage.deadLetterTopic).toEqual([]);
      for (const late of stage.outputs.filter((o) => o.kind === 'late')) expect(await rig.committed(late.topic), late.topic).toEqual([]);
    }
  });

  it('keeps the accounts table as queryable state of enrich: every account’s last row, closed ones gone', async () => {
    const target = { client: dynamo, table, topology: rig.topology, log: new KafkajsChangelogReader(kafka, { settleMs: 2_000 }) };
    for (const key of new Set(input.accounts.map((c) => c.key))) {
      const bytes = await readState(target, 'enrich', Buffer.from(key), 'table-accounts');
      expect(bytes === undefined ? undefined : JSON.parse(bytes.toString()), key).toEqual(expected.table.get(key));
    }
  });

  it('has dropped the interval join state of every session whose windows the watermark closed', async () => {
    const target = { client: dynamo, table, topology: rig.topology, log: new KafkajsChangelogReader(kafka, { settleMs: 2_000 }) };
    const joinState = rig.topology.stages.find((s) => s.name === 'score')!.state[0]!.name;
    // A payment leaves state at its time + 1 min, a login at its time + 30 min (when no payment can reach it any more).
    const closed = input.payments.filter((p) => p.at + 60_000 <= finalWatermark && input.logins.every((l) => l.session !== p.session || l.at + 30 * 60_000 <= finalWatermark));
    expect(closed.length).toBeGreaterThan(10);
    for (const p of closed.slice(0, 25)) expect(await readState(target, 'score', Buffer.from(p.session), joinState), p.session).toBeUndefined();
  });
});
