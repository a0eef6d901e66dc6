/**
 * Event time end to end on the real broker and DynamoDB Local, through LocalRun (one emulated
 * Kafka trigger per stage input and per control topic, plus the ticker):
 *
 *   events (3 partitions, eventTime = t, maxOutOfOrderness 2 s)
 *     → keyBy user → tumbling 10 s count, allowed lateness 1 s
 *     → keyBy region → tumbling 20 s sum of the counts → sink
 *
 * Every scenario's input is generated from a seed and fed in phases separated by barriers (read
 * from the tasks' checkpoints), so the fate of every record is certain; test/support/event-time-
 * oracle.ts computes what must be committed, and it is compared with what read_committed readers see:
 *  (a) exact window results of both stages, late records with their provenance;
 *  (b) the keyed stage's data trigger lags far behind its control trigger: fences hold the
 *      watermark back, so no window fires before its data is in;
 *  (c) a source partition goes idle: ticks mark it idle and windows fire in bounded time;
 *  (d) tasks crash at random protocol steps and Lambda-style retries run on new containers:
 *      still exactly the oracle's results;
 *  (e) (a) and (c) run twice, with boundary marks (the default: a mark only when a window of a
 *      stage downstream can fire or close) and with interval marks: the same results, firings and
 *      late records, and fewer marks on boundaries.
 */
import { readCheckpoints, tableOf } from '../../framework/ops/stage-items.js';
import { KafkajsChangelogReader } from '../../framework/kafka/changelog-reader.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { compile, count, InvocationFailedError, json, pipeline, stageHandler, sum } from '../../framework/index.js';
import type { Duration, InvocationReport, KafkaHandler, StagePorts, Topology } from '../../framework/index.js';
import type { FaultHook, CommitStep } from '../../framework/commit/ports.js';
import { SimulatedCrash } from '../../framework/commit/ports.js';
import { DynamoTaskStore } from '../../framework/dynamodb/task-store.js';
import { createTable, deleteTable } from '../../framework/dynamodb/table.js';
import { ensureTopics } from '../../framework/kafka/admin.js';
import { readProvenance } from '../../framework/record/provenance.js';
import type { KafkaRecord } from '../../framework/record/record.js';
import { KafkaTxnSink } from '../../framework/kafka/txn-sink.js';
import { KafkaBacklogProbe } from '../../framework/kafka/backlog-probe.js';
import { fromTheStart } from '../../framework/runtime/source-starts.js';
import { decodeEvent } from '../../framework/lambda/decode.js';
import { LocalRun } from '../../framework/local/dev.js';
import { inProcessInvoker, type Invoker } from '../../framework/local/esm/invoker.js';
import { LATE_HEADERS } from '../../framework/runtime/operators.js';
import { taskRef } from '../../framework/runtime/task.js';
import { tumbling } from '../../framework/time/windows.js';
import { ALL_STEPS, Rng } from '../support/fault-driver.js';
import type { EventTimeSpec, Ev, Expectation, Phase, RegionWindowResult, Sent, UserWindowResult } from '../support/event-time-oracle.js';
import { expectEventTime, idleScenario, phasedScenario, regionOf, sortRegionResults, sortUserResults } from '../support/event-time-oracle.js';
import { deleteTestTopics, readToEnd, testBrokers, testDynamo, testKafka, uniqueName } from '../support/infra.js';

const SPEC: EventTimeSpec = { sourcePartitions: 3, maxOutOfOrdernessMs: 2_000, userWindowMs: 10_000, userLatenessMs: 1_000, regionWindowMs: 20_000 };
/**
 * Event times start here, an hour ago, aligned to the 20 s windows. Not years ago: records keep
 * their event time as Kafka timestamp, and the broker rolls and deletes segments by timestamp
 * (retention.ms, 7 days by default), so old event times would make internal topics lose records.
 */
const BASE = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
const SEED = Number(process.env.SLUICE_SEED ?? 20_241_122);

// --- the rig: one pipeline, its topics and table, a LocalRun, and an invoker that keeps a log -----

/** What one invocation did, as the invoker saw it. */
interface Invocation {
  readonly stage: string;
  readonly kind: 'data' | 'control';
  /** The partitions it carried (the trigger emulator bundles several, as Lambda does). */
  readonly partitions: readonly number[];
  readonly records: number;
  /** Highest watermark carried by the batch's marks (control batches). */
  readonly maxMark: number | undefined;
  readonly started: number;
  readonly ended: number;
  readonly report: InvocationReport | undefined;
  readonly error: unknown;
}

interface RigOptions {
  readonly prefix: string;
  /** The pipeline's mark policy (default: the pipeline default, boundaries). */
  readonly marks?: 'boundaries' | 'interval';
  readonly idleTimeout?: Duration;
  readonly tickIntervalMs?: number;
  readonly batchSize?: number;
  /**
   * Delays every data invocation of `stage` by `ms` before it runs (its trigger lags); with
   * `partition`, only those carrying that partition (the triggers then invoke each partition alone).
   */
  readonly delayData?: { readonly stage: string; readonly ms: number; readonly partition?: number };
  /** Whether the containers get the backlog probe lambdaPorts gives them (default true). */
  readonly backlogProbe?: boolean;
  /** Fault hook per stage, shared by every container of that stage. */
  readonly fault?: (stage: string) => FaultHook | undefined;
  /** The handlers' pendingGraceMs (default: the handler's own); under the changelog protocol, how long a control batch waits for the data its marks cover. */
  readonly pendingGraceMs?: number;
}

class Rig {
  readonly log: Invocation[] = [];
  readonly produced = [0, 0, 0];
  /** Containers replaced after a crash (Lambda starts a new one). */
  replaced = 0;
  private readonly ports: StagePorts[] = [];
  private run: LocalRun | undefined;

  private constructor(
    readonly app: string,
    readonly topology: Topology,
    readonly sourceTopic: string,
    readonly sinkTopic: string,
    readonly table: string,
    readonly kafka: Kafka,
    readonly store: DynamoTaskStore,
  ) {}

  static async start(options: RigOptions): Promise<Rig> {
    const app = uniqueName(options.prefix);
    const sourceTopic = `${app}-events`;
    const sinkTopic = `${app}-region-sums`;
    const table = uniqueName(`${options.prefix}-t`);
    const topology = build(app, sourceTopic, sinkTopic, options.idleTimeout ?? '60s', options.marks);
    const kafka = testKafka(app);
    await createTable(testDynamo(), table);
    const admin = kafka.admin();
    await admin.connect();
    try {
      // Retried like LocalRun does: kafkajs gives up if a busy broker's metadata lags the creation.
      for (let attempt = 1; ; attempt += 1) {
        try {
          await ensureTopics(admin, [
            { topic: sourceTopic, partitions: SPEC.sourcePartitions },
            { topic: sinkTopic, partitions: 3 },
          ]);
          break;
        } catch (error) {
          if (attempt >= 5 || (error as { type?: unknown }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw error;
          await sleep(200 * attempt);
        }
      }
    } finally {
      await admin.disconnect();
    }
    const rig = new Rig(app, topology, sourceTopic, sinkTopic, table, kafka, new DynamoTaskStore(testDynamo(), table));
    rig.run = new LocalRun({
      topology,
      kafka,
      brokers: testBrokers(),
      invoker: rig.invoker(options),
      batchSize: options.batchSize ?? 25,
      batchingWindowMs: 100,
      ...(options.delayData?.partition !== undefined ? { bundlePartitions: false } : {}),
      tickIntervalMs: options.tickIntervalMs ?? 500,
      taskTimes: rig.store,
    });
    await rig.run.start();
    return rig;
  }

  /** The in-process invoker: one handler ("container") per stage, replaced when it crashes. */
  private invoker(options: RigOptions): Invoker {
    // What lambdaPorts builds in a Lambda container, with the test's kafkajs client (quiet unless
    // SLUICE_TEST_KAFKA_LOG is set: retried transient errors are logged at ERROR by kafkajs).
    const connect = (): StagePorts => {
      const kafka = testKafka(`${this.app}-c${this.ports.length}`);
      const ports: StagePorts = {
        store: new DynamoTaskStore(testDynamo(), this.table),
        sink: new KafkaTxnSink(kafka, { transactionTimeoutMs: this.topology.settings.transactionTimeoutMs }),
        log: new KafkajsChangelogReader(kafka),
        // LocalRun's triggers read sources from their start.
        ...(options.backlogProbe === false ? {} : { backlog: new KafkaBacklogProbe(kafka, { starts: fromTheStart(this.topology) }) }),
      };
      this.ports.push(ports);
      return ports;
    };
    const faults = new Map(this.topology.stages.map((s) => [s.name, options.fault?.(s.name)]));
    const container = (stage: string) => (): KafkaHandler => {
      const fault = faults.get(stage);
      return stageHandler(this.topology, stage, { connect, ...(fault ? { fault } : {}), ...(options.pendingGraceMs !== undefined ? { pendingGraceMs: options.pendingGraceMs } : {}) });
    };
    // One invocation at a time per container, as in Lambda; a crashed container is gone, with its
    // warm state and producers (they stay behind as zombies), and the next invocation gets a new one.
    const pool = inProcessInvoker(Object.fromEntries(this.topology.stages.map((s) => [s.name, container(s.name)])), {
      discard: (error) => {
        const crashed = isCrash(error);
        if (crashed) this.replaced += 1;
        return crashed;
      },
    });
    return {
      invoke: async (functionName, event) => {
        const stage = this.topology.stages.find((s) => s.name === functionName)!;
        const batches = decodeEvent(event).batches;
        const kind = batches[0]!.topic === stage.controlTopic ? 'control' : 'data';
        const delay = options.delayData;
        if (kind === 'data' && delay?.stage === functionName && (delay.partition === undefined || batches.some((b) => b.partition === delay.partition))) await sleep(delay.ms);
        const records = batches.flatMap((b) => b.records);
        const maxMark = kind === 'control' ? maxMarkOf(records) : undefined;
        const started = Date.now();
        const entry = { stage: functionName, kind, partitions: batches.map((b) => b.partition), records: records.length, maxMark, started } as const;
        try {
          const report = (await pool.invoke(functionName, event)) as InvocationReport;
          this.log.push({ ...entry, ended: Date.now(), report, error: undefined });
          return report;
        } catch (error) {
          this.log.push({ ...entry, ended: Date.now(), report: undefined, error });
          throw error;
        }
      },
    };
  }

  /** Produces records to the source topic, each to its partition, in order. */
  async produce(sends: readonly Sent[]): Promise<void> {
    const producer = this.kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic: this.sourceTopic, messages: sends.map((s) => ({ partition: s.partition, value: JSON.stringify(s.ev) })) });
      for (const s of sends) this.produced[s.partition]! += 1;
    } finally {
      await producer.disconnect();
    }
  }

  /** The committed views of a stage's tasks, by partition: input position and watermark (as the tools read them, under either protocol). */
  async checkpoints(stageName: string): Promise<Array<{ nextOffset: number; wm: number; idle: boolean; pending: boolean }>> {
    const stage = this.topology.stages.find((s) => s.name === stageName)!;
    const input = stage.inputs[0]!;
    const tasks = Array.from({ length: input.partitions }, (_, p) => taskRef(this.topology, stage, input.topic, p));
    const stored = await readCheckpoints(tableOf({ dynamo: testDynamo(), table: this.table, kafka: this.kafka, topology: this.topology }), tasks);
    return stored.map(({ checkpoint: c, pending }) => ({ nextOffset: c.nextOffset, wm: c.time.wm, idle: c.time.idle, pending: pending !== undefined }));
  }

  /**
   * Barrier: waits until the source stage has read everything produced, then every task of the
   * user stage (and, with `region`, of the region stage) has read all its committed input and has
   * at least `watermark`.
   */
  async drain(watermark: number, options: { region: boolean; timeoutMs?: number }): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 45_000;
    await waitUntil(`source tasks read offsets ${this.produced.join(', ')}`, timeoutMs, async () => (await this.checkpoints('events')).every((c, p) => c.nextOffset >= this.produced[p]!));
    for (const stage of options.region ? ['by-user', 'by-region'] : ['by-user']) {
      const ends = lastOffsets(await readToEnd(this.kafka, `${this.app}.${stage}.in`, { isolation: 'read_committed' }));
      let last: unknown;
      await waitUntil(`${stage} tasks read to ${JSON.stringify(Object.fromEntries(ends))} with watermark ≥ ${watermark - BASE} (+BASE)`, timeoutMs, async () => {
        const cs = await this.checkpoints(stage);
        last = cs.map((c) => ({ ...c, wm: c.wm - BASE }));
        return cs.every((c, p) => c.nextOffset >= (ends.get(p) ?? -1) + 1 && c.wm >= watermark);
      }).catch((error: unknown) => {
        throw new Error(`${error instanceof Error ? error.message : String(error)}; last seen: ${JSON.stringify(last)}; invocations: ${this.log.slice(-30).map((i) => `${i.stage} ${i.kind} p${i.partitions.join(',')} ${i.records} rec ${i.error ? `FAILED ${String(i.error).slice(0, 160)}` : `ok ${JSON.stringify(i.report?.tasks.map((t) => [t.task, t.seq, t.watermark - BASE, t.recovery?.outcome]))}`}`).join(' | ')}`);
      });
    }
  }

  async userResults(): Promise<Array<{ value: UserWindowResult; record: KafkaRecord }>> {
    const rs = await readToEnd(this.kafka, `${this.app}.by-region.in`, { isolation: 'read_committed' });
    return rs.map((record) => ({ value: JSON.parse(record.value!.toString()) as UserWindowResult, record }));
  }

  async regionResults(): Promise<RegionWindowResult[]> {
    const rs = await readToEnd(this.kafka, this.sinkTopic, { isolation: 'read_committed' });
    return rs.map((r) => JSON.parse(r.value!.toString()) as RegionWindowResult);
  }

  async late(stage: 'by-user' | 'by-region'): Promise<KafkaRecord[]> {
    return readToEnd(this.kafka, `${this.app}.${stage}.late`, { isolation: 'read_committed' });
  }

  async stop(): Promise<void> {
    await this.run?.stop();
    await Promise.all(this.ports.map((p) => (p.sink instanceof KafkaTxnSink ? p.sink.close().catch(() => undefined) : Promise.resolve())));
    await Promise.all(this.ports.map((p) => (p.backlog instanceof KafkaBacklogProbe ? p.backlog.close().catch(() => undefined) : Promise.resolve())));
    await deleteTable(testDynamo(), this.table).catch(() => undefined);
    await deleteTestTopics(this.kafka, [...this.topology.topics.map((t) => t.name)]).catch(() => undefined);
  }
}

function build(app: string, sourceTopic: string, sinkTopic: string, idleTimeout: Duration, marks: 'boundaries' | 'interval' | undefined): Topology {
  const p = pipeline(app, { partitions: 3, idleTimeout, watermarkInterval: '200ms', ...(marks ? { marks } : {}) });
  p.source<Ev>(sourceTopic, { serde: json<Ev>(), partitions: SPEC.sourcePartitions, eventTime: (e) => e.t, maxOutOfOrderness: SPEC.maxOutOfOrdernessMs })
    .stage('events')
    .keyBy((e) => e.user, { name: 'user' })
    .window(tumbling(SPEC.userWindowMs), { allowedLateness: SPEC.userLatenessMs })
    .aggregate(count())
    .map((r): UserWindowResult => ({ user: r.key, region: regionOf(r.key), start: r.window.start, end: r.window.end, count: r.value, firing: r.firing }))
    .keyBy((r) => r.region, { name: 'region' })
    .window(tumbling(SPEC.regionWindowMs))
    .aggregate(sum((r: UserWindowResult) => r.count))
    .sink(sinkTopic, { serde: json() });
  return compile(p.plan());
}

// --- checks shared by the scenarios ----------------------------------------------------------------

/** Feeds the phases with a barrier after each (the oracle's assumption), the last one through the region stage. */
async function feed(rig: Rig, phases: readonly Phase[], expected: Expectation, onPhase?: (k: number) => void): Promise<void> {
  for (const [k, phase] of phases.entries()) {
    onPhase?.(k);
    await rig.produce(phase.sends);
    await rig.drain(expected.watermarks[k]!, { region: k === phases.length - 1 });
  }
}

/** Window results of both stages, each exactly once, equal the oracle's. */
async function expectExactResults(rig: Rig, expected: Expectation): Promise<void> {
  const users = await rig.userResults();
  expect(describeUsers(sortUserResults(users.map((u) => u.value)))).toEqual(describeUsers(expected.userResults));
  // Each result once and traceable: distinct provenance (task, seq, idx) from a user-stage task.
  const prov = users.map((u) => readProvenance(u.record.headers)!);
  expect(prov.every((p) => /^by-user\.[0-2]$/.test(p.task))).toBe(true);
  expect(new Set(prov.map((p) => `${p.task}/${p.seq}/${p.idx}`)).size).toBe(users.length);
  expect(sortRegionResults(await rig.regionResults())).toEqual(expected.regionResults);
  expect(await rig.late('by-region')).toEqual([]);
}

/** Every late record on the user stage's late topic once, with headers that lead back to its source record. */
async function expectLateRecords(rig: Rig, expected: Expectation): Promise<void> {
  const late = await rig.late('by-user');
  const values = late.map((r) => JSON.parse(r.value!.toString()) as Ev);
  expect(values.map((v) => v.id).sort()).toEqual(expected.late.map((l) => l.ev.id).sort());
  const internal = await readToEnd(rig.kafka, `${rig.app}.by-user.in`, { isolation: 'read_committed' });
  const at = new Map(internal.map((r) => [`${r.partition}@${r.offset}`, r]));
  for (const [i, r] of late.entries()) {
    const want = expected.late.find((l) => l.ev.id === values[i]!.id)!;
    expect(values[i]).toEqual(want.ev);
    const header = (name: string): string | undefined => r.headers.find((h) => h.name === name)?.value.toString();
    // Where the late record was read: the user stage's input, the task that dropped it into the late topic.
    expect(header(LATE_HEADERS.topic)).toBe(`${rig.app}.by-user.in`);
    const partition = Number(header(LATE_HEADERS.partition));
    expect(readProvenance(r.headers)?.task).toBe(`by-user.${partition}`);
    expect(Number(header(LATE_HEADERS.watermark))).toBeGreaterThanOrEqual(want.cleanupTime);
    // …and that input record is the event, written by the source task of the partition it was produced to.
    const origin = at.get(`${partition}@${header(LATE_HEADERS.offset)}`);
    expect(origin, `late record ${want.ev.id} points at a record of the user stage's input`).toBeDefined();
    expect((JSON.parse(origin!.value!.toString()) as Ev).id).toBe(want.ev.id);
    expect(readProvenance(origin!.headers)?.task).toBe(`events.${want.partition}`);
  }
}

// --- what a run produced, to compare runs with each other ------------------------------------------

const MARKS = ['boundaries', 'interval'] as const;

/** Everything a run committed that the semantics define (not the watermark a late record missed: that is how far marks got). */
interface Outcome {
  readonly results: { readonly users: string[]; readonly regions: RegionWindowResult[]; readonly late: string[] };
  /** Control invocations of by-user and by-region. */
  readonly controlInvocations: readonly number[];
  /** Marks committed to the control topics of by-user and by-region. */
  readonly marks: number;
}
const outcomes = new Map<string, Outcome>();

async function outcomeOf(rig: Rig): Promise<Outcome> {
  const late = await rig.late('by-user');
  const marks = (await Promise.all(['by-user', 'by-region'].map((s) => readToEnd(rig.kafka, `${rig.app}.${s}.control`, { isolation: 'read_committed' }))))
    .flat()
    .filter((r) => maxMarkOf([r]) !== undefined).length;
  return {
    results: {
      users: describeUsers(sortUserResults((await rig.userResults()).map((u) => u.value))),
      regions: sortRegionResults(await rig.regionResults()),
      late: late.map((r) => (JSON.parse(r.value!.toString()) as Ev).id).sort(),
    },
    controlInvocations: ['by-user', 'by-region'].map((s) => rig.log.filter((i) => i.stage === s && i.kind === 'control').length),
    marks,
  };
}

// --- the scenarios ---------------------------------------------------------------------------------

describe('event time through two keyed window stages on real Kafka and DynamoDB Local', () => {
  for (const marks of MARKS) {
    describe(`(a) exact window results and late records (marks: ${marks})`, () => {
      const phases = phasedScenario(SEED, SPEC, { base: BASE, perPartition: 30, latePhase: true });
      const expected = expectEventTime(SPEC, phases);
      let rig: Rig;
      beforeAll(async () => {
        const t0 = Date.now();
        rig = await Rig.start({ prefix: 'eta', marks });
        await feed(rig, phases, expected);
        outcomes.set(`a/${marks}`, await outcomeOf(rig));
        console.log(`[event-time] (a) marks: ${marks} ran in ${Date.now() - t0} ms`);
      });
      afterAll(async () => rig?.stop());

      it('has input with every kind of fate (the oracle is not vacuous)', () => {
        const fates = [...expected.fates.values()];
        expect(fates.filter((f) => f === 'late').length).toBeGreaterThanOrEqual(5);
        expect(fates.filter((f) => f === 'late-firing').length).toBeGreaterThanOrEqual(3);
        expect(expected.userResults.filter((r) => r.firing === 'late').length).toBeGreaterThanOrEqual(3);
        expect(expected.regionResults.length).toBeGreaterThanOrEqual(10);
      });

      it('commits exactly the window results of both stages, each once (read_committed)', async () => {
        await expectExactResults(rig, expected);
      });

      it('sends every record beyond lateness to the late topic, once, with provenance headers', async () => {
        await expectLateRecords(rig, expected);
      });
    });
  }

  describe('(b) control topic consumed far ahead of the data topic', () => {
    const phases = phasedScenario(SEED + 1, SPEC, { base: BASE, perPartition: 30, latePhase: false });
    const expected = expectEventTime(SPEC, phases);
    let rig: Rig;
    beforeAll(async () => {
      const t0 = Date.now();
      // No wait for the data (as when a control batch's wait runs out): the marks of control
      // batches far ahead are queued behind the data, the path this scenario proves.
      rig = await Rig.start({ prefix: 'etb', delayData: { stage: 'by-user', ms: 600 }, batchSize: 15, pendingGraceMs: 0 });
      await feed(rig, phases, expected);
      console.log(`[event-time] (b) ran in ${Date.now() - t0} ms`);
    });
    afterAll(async () => rig?.stop());

    it('applied marks only behind the data: no window fired before its data was in', async () => {
      await expectExactResults(rig, expected);
      expect(await rig.late('by-user')).toEqual([]);
    });

    it('really had the control trigger far ahead of the data trigger', () => {
      const data = rig.log.filter((i) => i.stage === 'by-user' && i.kind === 'data' && i.report);
      const mainRecords = phases[0]!.sends.length;
      // Control invocations that carried marks of the push (watermark 70.499 s) and succeeded
      // while the user stage's data trigger had not yet delivered the main phase.
      const ahead = rig.log.filter((i) => {
        if (i.stage !== 'by-user' || i.kind !== 'control' || !i.report || (i.maxMark ?? -Infinity) < expected.watermarks[0]!) return false;
        const delivered = data.filter((d) => d.ended <= i.ended).reduce((n, d) => n + d.records, 0);
        return delivered < mainRecords / 2;
      });
      expect(ahead.length).toBeGreaterThan(0);
    });
  });

  for (const marks of MARKS) {
  describe(`(c) an idle source partition (marks: ${marks})`, () => {
    const idle = idleScenario(SEED + 2, SPEC, { base: BASE, idlePartition: 2, idleRecords: 12, startRecords: 12, trickleSteps: 40 });
    const expected = expectEventTime(SPEC, [idle.phase]);
    let rig: Rig;
    let trickleEnded = 0;
    beforeAll(async () => {
      const t0 = Date.now();
      rig = await Rig.start({ prefix: 'etc', idleTimeout: '2s', tickIntervalMs: 500, marks });
      await rig.produce(idle.start);
      // The active partitions get a record every 200 ms (never idle); the idle one gets nothing more.
      for (const step of idle.trickle) {
        await sleep(200);
        await rig.produce(step);
      }
      trickleEnded = Date.now();
      await rig.drain(expected.watermarks[0]!, { region: true });
      outcomes.set(`c/${marks}`, await outcomeOf(rig));
      console.log(`[event-time] (c) marks: ${marks} ran in ${Date.now() - t0} ms`);
    });
    afterAll(async () => rig?.stop());

    it('still fires every window the active partitions passed, exactly', async () => {
      await expectExactResults(rig, expected);
      expect(await rig.late('by-user')).toEqual([]);
      const sources = await rig.checkpoints('events');
      expect(sources[2]!.idle).toBe(true);
    });

    it('fired them while the other partitions were active, within a bounded time of the partition going quiet', () => {
      const quiet = Math.max(...rig.log.filter((i) => i.stage === 'events' && i.kind === 'data' && i.partitions.includes(2) && i.report).map((i) => i.ended));
      // The idle partition's watermark stays below 10 s; a user-stage watermark of 20 s means it was left out.
      const beyond = rig.log.find((i) => i.stage === 'by-user' && i.report?.tasks.some((t) => t.watermark >= BASE + 19_999));
      expect(beyond, 'the user stage never got past the idle partition').toBeDefined();
      const latency = beyond!.ended - quiet;
      console.log(`[event-time] idle partition quiet → user-stage watermark past it: ${latency} ms (idleTimeout 2000 ms, ticks every 500 ms)`);
      // While the other partitions were still getting data: the idle one was left out, not flushed at the end.
      expect(beyond!.ended).toBeLessThan(trickleEnded);
      // idleTimeout, a tick, the idle mark's way through two triggers; generous for a loaded 2-core machine.
      expect(latency).toBeLessThan(2_000 + 6_000);
    });
  });
  }

  describe('(d) crashes at random protocol steps, Lambda-style retries', () => {
    const phases = phasedScenario(SEED + 3, SPEC, { base: BASE, perPartition: 25, latePhase: true });
    const expected = expectEventTime(SPEC, phases);
    const crashes = new Map<CommitStep, number>(ALL_STEPS.map((s) => [s, 0]));
    const crashedStages = new Set<string>();
    const crashesByPhase = phases.map(() => 0);
    let phase = 0;
    let rig: Rig;
    beforeAll(async () => {
      const t0 = Date.now();
      const rng = new Rng(SEED + 3);
      let budget = 30;
      // Which stage a 5 % draw hits depends on how the stages' steps interleave (timing), so a
      // stage can go uncrashed by chance (seen once in a full run); a stage not yet crashed by its
      // 40th step is crashed there.
      const steps = new Map<string, number>();
      rig = await Rig.start({
        prefix: 'etd',
        fault: (stage) => (step, task, seq) => {
          steps.set(stage, (steps.get(stage) ?? 0) + 1);
          const overdue = !crashedStages.has(stage) && steps.get(stage)! >= 40;
          if (budget > 0 && (rng.chance(0.05) || overdue)) {
            budget -= 1;
            crashes.set(step, crashes.get(step)! + 1);
            crashedStages.add(stage);
            crashesByPhase[phase]! += 1;
            throw new SimulatedCrash(step, task.id, seq);
          }
        },
      });
      await feed(rig, phases, expected, (k) => (phase = k));
      console.log(`[event-time] (d) ran in ${Date.now() - t0} ms`);
    });
    afterAll(async () => rig?.stop());

    it('crashed tasks of every stage, and Lambda retried them on new containers', () => {
      console.log(`[event-time] crashes by step: ${JSON.stringify(Object.fromEntries(crashes))}, by phase: ${crashesByPhase.join('/')}; containers replaced: ${rig.replaced}`);
      expect([...crashes.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(8);
      expect(crashesByPhase.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
      expect(crashedStages.size).toBe(3);
      expect(rig.replaced).toBeGreaterThanOrEqual(8);
    });

    it('still commits exactly the oracle: no window result duplicated or missing', async () => {
      await expectExactResults(rig, expected);
      await expectLateRecords(rig, expected);
    });
  });
  describe('(f) a source partition whose trigger lags more than idleTimeout behind it', () => {
    // Partition 1's data invocations each wait 3 s (a throttled, retrying or slow trigger) while
    // ticks come every 300 ms and idleTimeout is 1.5 s: between its batches the partition is quiet
    // for longer than idleTimeout, but holds records its task has not read. It is behind, not idle:
    // the backlog probe keeps it in the minimum. Without the probe (the second run) it turns idle,
    // the other partitions carry the watermark past its records, and they come late.
    const phases = phasedScenario(SEED + 4, SPEC, { base: BASE, perPartition: 20, latePhase: false });
    const expected = expectEventTime(SPEC, phases);
    const lagging = { stage: 'events', ms: 3_000, partition: 1 } as const;
    const runs = new Map<boolean, { rig: Rig; quietGaps: number }>();
    for (const backlogProbe of [true, false]) {
      beforeAll(async () => {
        const t0 = Date.now();
        const rig = await Rig.start({ prefix: 'etf', idleTimeout: '1500ms', tickIntervalMs: 300, delayData: lagging, batchSize: 10, backlogProbe });
        await feed(rig, phases, expected);
        // Times partition 1 went longer than idleTimeout between two data batches (it was quiet, not done).
        const ends = rig.log.filter((i) => i.stage === 'events' && i.kind === 'data' && i.partitions.includes(1) && i.report).map((i) => i.ended);
        const quietGaps = ends.slice(1).filter((t, k) => t - ends[k]! > 1_500).length;
        runs.set(backlogProbe, { rig, quietGaps });
        console.log(`[event-time] (f) backlog probe ${backlogProbe ? 'on' : 'off'}: ran in ${Date.now() - t0} ms, ${quietGaps} quiet gaps longer than idleTimeout`);
      });
    }
    afterAll(async () => Promise.all([...runs.values()].map((r) => r.rig.stop())));

    it('keeps the lagging partition in the minimum: exactly the oracle, nothing late', async () => {
      const { rig, quietGaps } = runs.get(true)!;
      expect(quietGaps).toBeGreaterThan(0);
      await expectExactResults(rig, expected);
      expect(await rig.late('by-user')).toEqual([]);
    });

    it('(the check can fail) without the probe the partition turns idle and its records come late', async () => {
      const { rig, quietGaps } = runs.get(false)!;
      expect(quietGaps).toBeGreaterThan(0);
      expect((await rig.late('by-user')).length).toBeGreaterThan(0);
    });
  });

  describe('(e) boundary marks against interval marks, on the same input', () => {
    it('give the same window results, firings and late records, with lateness, out-of-order input and an idle partition', () => {
      for (const scenario of ['a', 'c']) {
        const boundaries = outcomes.get(`${scenario}/boundaries`);
        const interval = outcomes.get(`${scenario}/interval`);
        expect(boundaries, `scenario (${scenario}) ran with boundary marks`).toBeDefined();
        expect(interval, `scenario (${scenario}) ran with interval marks`).toBeDefined();
        expect(boundaries!.results).toEqual(interval!.results);
        console.log(
          `[event-time] (${scenario}) control invocations by-user/by-region: boundaries ${boundaries!.controlInvocations.join('/')}, interval ${interval!.controlInvocations.join('/')}; marks committed: ${boundaries!.marks} vs ${interval!.marks}`,
        );
        // Under a steady trickle (c) far fewer marks: the point of boundary marks. In a burst (a)
        // the counts depend on batching, either way: interval marks go out at most once per
        // watermarkInterval (200 ms) while the watermark moves, boundary marks once per batch that
        // crosses a window boundary, so fast batches give interval fewer (seen: 54 against 45 in a
        // CI trial, 54 against 57 before). Only the results must agree there.
        if (scenario === 'c') expect(boundaries!.marks * 2).toBeLessThan(interval!.marks);
      }
      expect(outcomes.get('a/boundaries')!.results.late.length).toBeGreaterThan(0);
    });
  });
});

// --- helpers -------------------------------------------------------------------------------------

function describeUsers(rs: readonly UserWindowResult[]): string[] {
  return rs.map((r) => `${r.user} [${r.start - BASE}, ${r.end - BASE}) ${r.firing} ${r.count}`);
}

function lastOffsets(records: readonly KafkaRecord[]): Map<number, number> {
  const ends = new Map<number, number>();
  for (const r of records) ends.set(r.partition, Math.max(ends.get(r.partition) ?? -1, r.offset));
  return ends;
}

function maxMarkOf(records: readonly KafkaRecord[]): number | undefined {
  let max: number | undefined;
  for (const r of records) {
    try {
      const v = JSON.parse(r.value?.toString() ?? 'null') as { watermark?: unknown } | null;
      if (typeof v?.watermark === 'number') max = Math.max(max ?? -Infinity, v.watermark);
    } catch {
      // not a mark
    }
  }
  return max;
}

function isCrash(error: unknown): boolean {
  return error instanceof SimulatedCrash || (error instanceof InvocationFailedError && error.failures.some((f) => f.error instanceof SimulatedCrash));
}

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(200);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
