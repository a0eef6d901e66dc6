/**
 * Exactly-once across broker restarts, on the real broker and DynamoDB Local: the two-stage
 * running-totals pipeline of the fault-injection suite (clicks → keyBy user → per-user count and
 * sum in state → sink) runs through LocalRun (emulated Kafka triggers, in-process stage handlers)
 * while an idempotent producer feeds it; the broker is restarted twice mid-run, once gracefully
 * (SIGTERM) and once with SIGKILL, on the same data dir (restartKafka). Nothing in the pipeline
 * is told: kafkajs clients reconnect, invocations fail and the triggers retry them. Then the
 * committed output (read_committed), the final state and the checkpoints are checked against the
 * oracle of test/support/oracle.ts: every click answered exactly once, in order, with the right
 * totals. A marker topic checks restartKafka itself: topics, committed records, group offsets
 * and transaction state survive both restarts.
 *
 * This file restarts the shared broker: every other client of it sees the outage. Integration
 * files run one at a time, and afterAll leaves the broker up (on the same data) for the next.
 */
import { changelogBatches } from '../../framework/record/changelog.js';
import { changelogOf } from '../../framework/topology/names.js';
import { loadTaskState, readCheckpoints, tableOf, type StoredCheckpoint } from '../../framework/ops/stage-items.js';
import { KafkajsChangelogReader } from '../../framework/kafka/changelog-reader.js';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchRecord, Checkpoint, TaskRef } from '../../framework/commit/ports.js';
import { DynamoTaskStore } from '../../framework/dynamodb/task-store.js';
import { stateMapKey } from '../../framework/state/task-state.js';
import { createTable, deleteTable } from '../../framework/dynamodb/table.js';
import { InvocationFailedError, stageHandler } from '../../framework/index.js';
import type { InvocationReport, KafkaHandler, StagePorts } from '../../framework/index.js';
import { ensureTopics } from '../../framework/kafka/admin.js';
import { parseProgress } from '../../framework/record/progress.js';
import { fixKafkajsReadCommitted } from '../../framework/kafka/read-committed.js';
import { readProvenance } from '../../framework/record/provenance.js';
import type { KafkaRecord } from '../../framework/record/record.js';
import { KafkaTxnSink } from '../../framework/kafka/txn-sink.js';
import { decodeEvent } from '../../framework/lambda/decode.js';
import { infraUp, restartKafka, type KafkaRestart } from '../../framework/local/infra/index.js';
import { LocalRun } from '../../framework/local/dev.js';
import type { Invoker } from '../../framework/local/esm/invoker.js';
import { taskRef } from '../../framework/runtime/task.js';
import type { Topology } from '../../framework/topology/topology.js';
import { Rng, runningTotalsTopology, traceFromEnv } from '../support/fault-driver.js';
import { deleteTestTopics, readToEnd, testBrokers, testDynamo, testKafka, uniqueName } from '../support/infra.js';
import type { Click, Discrepancy, Fed, Seen, Totals, TotalsUpdate } from '../support/oracle.js';
import { checkRepartition, checkTotals, expectTotals } from '../support/oracle.js';

const SEED = Number(process.env.SLUICE_SEED ?? 20_261_122);
const CLICKS = 600;
const USERS = 12;
const PARTITIONS = 3;
/** Clicks per produce request, and the pause between requests (about 5 s of input without outages). */
const SEND_BATCH = 10;
const SEND_GAP_MS = 80;

const app = uniqueName('brr');
// Short timeouts: a transaction a dead invocation left open holds read_committed readers (the
// next stage's trigger) back until the next begin of its task fences it, at most this long.
const topology: Topology = runningTotalsTopology(app, { partitions: PARTITIONS, pipeline: { functionTimeout: '10s', transactionTimeout: '30s' } });
const sourceTopic = `${app}-clicks`;
const internalTopic = `${app}.by-user.in`;
const sinkTopic = `${app}-totals`;
const markerTopic = `${app}-marker`;
const markerGroup = `${app}-marker-group`;
const table = uniqueName('brr-t');

/** One invocation as the invoker saw it. */
interface Invocation {
  readonly stage: string;
  readonly topic: string;
  readonly partition: number;
  readonly started: number;
  readonly ended: number;
  readonly report: InvocationReport | undefined;
  readonly error: string | undefined;
}

/** A restart, when it began and what restartKafka reported. */
interface Restart {
  readonly hard: boolean;
  readonly began: number;
  readonly ended: number;
  readonly outcome: KafkaRestart;
  /** What the marker topic looked like right after it. */
  readonly marker: MarkerView;
  /** Clicks acknowledged before it began. */
  readonly producedBefore: number;
}

interface MarkerView {
  readonly listed: boolean;
  readonly committed: string[];
  readonly groupOffset: string | undefined;
}

describe('exactly-once across broker restarts (graceful and SIGKILL) on Kafka and DynamoDB Local', () => {
  const log: Invocation[] = [];
  const restarts: Restart[] = [];
  const sinks: KafkaTxnSink[] = [];
  let kafka: Kafka;
  let store: DynamoTaskStore;
  let run: LocalRun | undefined;
  let input: Array<Fed<Click>> = [];
  let ranMs = 0;
  const t0 = Date.now();
  const mark = (what: string): void => console.log(`[broker-restart] +${Date.now() - t0} ms: ${what}`);

  beforeAll(async () => {
    kafka = testKafka(app);
    store = new DynamoTaskStore(testDynamo(), table);
    await createTable(testDynamo(), table);
    await createTopics(kafka, [
      // The clicks carry event times of 2026-01-01, and sinks keep event time as timestamp: no
      // time retention, or the broker's next retention check deletes them (see topologyTopicSpecs).
      { topic: sourceTopic, partitions: PARTITIONS, configs: NO_RETENTION },
      { topic: sinkTopic, partitions: PARTITIONS, configs: NO_RETENTION },
      { topic: markerTopic, partitions: 1 },
    ]);
    await prepareMarker(kafka);

    run = new LocalRun({ topology, kafka: triggerKafka(), brokers: testBrokers(), invoker: invoker(), batchSize: 20, batchingWindowMs: 50, tickIntervalMs: 1_000, taskTimes: store });
    await run.start();
    mark('LocalRun started');

    // The input: fixed by the seed; each click to a random partition of the source topic.
    const rng = new Rng(SEED);
    const clicks = Array.from({ length: CLICKS }, (_, i) => ({
      partition: rng.int(PARTITIONS),
      click: { id: `c${i}`, user: `u${rng.int(USERS)}`, amount: 1 + rng.int(9) } satisfies Click,
    }));
    let produced = 0;
    let productionFailed: unknown;
    const producer = inputProducer();
    await producer.connect();
    // Production runs on through each restart, but not past half (five sixths) of the input
    // before the first (second) restart has begun, so each restart has input before and after it.
    const begun = [deferred(), deferred()];
    const production = (async () => {
      for (let i = 0; i < clicks.length; i += SEND_BATCH) {
        if (i >= CLICKS / 2) await begun[0]!.promise;
        if (i >= (5 * CLICKS) / 6) await begun[1]!.promise;
        const batch = clicks.slice(i, i + SEND_BATCH);
        await producer.send({ topic: sourceTopic, messages: batch.map((c) => ({ partition: c.partition, value: JSON.stringify(c.click) })) });
        produced += batch.length;
        await sleep(SEND_GAP_MS);
      }
    })();
    production.catch((error: unknown) => (productionFailed = error));
    const producing = (): boolean => {
      if (productionFailed) throw new Error(`the input producer failed after ${produced} clicks: ${describeError(productionFailed)}`);
      return true;
    };
    const status = (): string => `${produced} clicks produced${productionFailed ? ` (the producer failed: ${describeError(productionFailed)})` : ''}; ${describeRun()}`;

    try {
      // Restart while input arrives and the pipeline is busy: after a third of the input (and a
      // sink output), then once the pipeline has committed outputs again after the first restart.
      await waitUntil('a third of the input is produced and the keyed stage has committed', 30_000, () => producing() && produced >= CLICKS / 3 && succeeded('by-user', t0) > 0, status);
      mark('first restart');
      restarts.push(await restart(false, produced, begun[0]!.resolve));
      await waitUntil('two thirds of the input are produced and the keyed stage commits again', 45_000, () => producing() && produced >= (2 * CLICKS) / 3 && succeeded('by-user', restarts[0]!.ended) > 0, status);
      mark('second restart');
      restarts.push(await restart(true, produced, begun[1]!.resolve));
      await production;
      mark('production done');
    } finally {
      await production.catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
    }
    await drain();
    mark('drained');
    input = (await readToEnd(kafka, sourceTopic, { isolation: 'read_committed' })).map((r) => ({ partition: r.partition, offset: r.offset, value: JSON.parse(r.value!.toString()) as Click }));
    ranMs = Date.now() - t0;
    // SLUICE_TRACE=1: one line per invocation.
    const trace = traceFromEnv();
    for (const i of trace ? log : []) trace?.(`+${i.started - t0}..+${i.ended - t0} ms ${i.stage} ${i.topic}/${i.partition}: ${i.error ?? `ok ${JSON.stringify(i.report?.tasks)}`}`);
    console.log(`[broker-restart] ran in ${ranMs} ms; ${describeRun()}`);
  }, 150_000);

  afterAll(async () => {
    // Whatever happened above, leave a healthy broker on the same data for the files after this one.
    await infraUp({ services: ['kafka'], keepData: true });
    await run?.stop().catch(() => undefined);
    await Promise.all(sinks.map((s) => s.close().catch(() => undefined)));
    await deleteTable(testDynamo(), table).catch(() => undefined);
    await deleteTestTopics(kafka, [...topology.topics.map((t) => t.name), sourceTopic, sinkTopic, markerTopic]).catch(() => undefined);
  }, 120_000);

  it('restartKafka restarted the shared broker (new pid, same address) gracefully and with SIGKILL, while input was produced', () => {
    expect(restarts.map((r) => r.outcome.stopped)).toEqual(['stopped', 'killed']);
    for (const r of restarts) {
      expect(r.outcome.brokers).toEqual(testBrokers());
      expect(r.outcome.pid).not.toBe(r.outcome.previousPid);
      expect(r.producedBefore).toBeGreaterThan(0);
      expect(r.producedBefore).toBeLessThan(CLICKS);
    }
  });

  it('kept the topics, committed records, consumer group offsets and transaction state (same data dir, not re-formatted)', () => {
    // prepareMarker committed "kept", aborted "dropped", left "open" in an open transaction
    // (fenced after the first restart) and committed the group's offset 1.
    for (const r of restarts) expect(r.marker).toEqual({ listed: true, committed: ['kept'], groupOffset: '1' });
  });

  it('felt the restarts: invocations failed (and were retried) or waited out the outage in their producers\' retries', () => {
    // Either is the pipeline living through the restart; an invocation that spanned a restart
    // waited for the broker (the sink's producers retry for about 20 s).
    const failed = log.filter((i) => i.error !== undefined);
    const spanned = log.filter((i) => restarts.some((r) => i.started < r.ended && i.ended > r.began));
    expect(failed.length + spanned.length).toBeGreaterThan(0);
    // Every stage kept committing after the last restart.
    for (const stage of ['clicks', 'by-user']) expect(succeeded(stage, restarts[1]!.ended)).toBeGreaterThan(0);
  });

  it('produced the input exactly once (the check of the test producer, not of Sluice)', () => {
    expect(input).toHaveLength(CLICKS);
    expect(new Set(input.map((f) => f.value.id)).size).toBe(CLICKS);
  });

  it('committed every click exactly once, in order, with the right totals and final state (read_committed, oracle)', async () => {
    const internal = await readToEnd(kafka, internalTopic, { isolation: 'read_committed' });
    const outputs = await readToEnd(kafka, sinkTopic, { isolation: 'read_committed' });
    const state = await finalState(internal);
    const found: Discrepancy[] = [...checkRepartition(input, seen<Click>(internal)), ...checkTotals(expectTotals(input), seen<TotalsUpdate>(outputs), state)];
    expect(describeDiscrepancies(found)).toEqual([]);
    expect(outputs).toHaveLength(CLICKS);
    // Each output once by provenance too: no (task, seq, idx) committed twice.
    for (const records of [internal, outputs]) {
      const ids = records.map((r) => readProvenance(r.headers)).map((p) => `${p?.task}/${p?.seq}/${p?.idx}`);
      expect(new Set(ids).size).toBe(records.length);
    }
  });

  it('left tasks that agree with Kafka: nothing pending, the committed progress (or changelog) records are the committed batches, nothing dead-lettered', async () => {
    const problems: string[] = [];
    if (topology.settings.commit === 'changelog') {
      // The changelog protocol: each task's changelog after its snapshot numbers the batches after it, in order, and ends at the task's position.
      const log = new KafkajsChangelogReader(kafka, { settleMs: 2_000 });
      try {
        for (const { task, ckpt } of await checkpoints()) {
          const base = await store.readCheckpoint(task);
          const { records } = await log.read(changelogOf(topology, task), base.log ?? 0);
          const read = changelogBatches(task.id, records);
          const entries = 'corrupt' in read ? [] : read.batches.map((b) => b.entry);
          if ('corrupt' in read) problems.push(`${task.id}: changelog record at ${read.corrupt.offset} ${read.corrupt.reason}`);
          else if (read.incompleteAt !== undefined) problems.push(`${task.id}: the changelog ends inside a batch's parts (from ${read.incompleteAt})`);
          const seqs = entries.map((e) => e.seq);
          const want = Array.from({ length: ckpt.committedSeq - base.committedSeq }, (_, i) => base.committedSeq + 1 + i);
          if (JSON.stringify(seqs) !== JSON.stringify(want)) problems.push(`${task.id}: changelog batches [${seqs.join(', ')}] after the snapshot at ${base.committedSeq}, the task is at ${ckpt.committedSeq}`);
          const last = entries.at(-1);
          if (last && last.nextOffset !== ckpt.nextOffset) problems.push(`${task.id}: last changelog record says nextOffset ${last.nextOffset}, the task ${ckpt.nextOffset}`);
        }
      } finally {
        await log.close();
      }
    } else {
      const progress = await readToEnd(kafka, topology.progressTopic, { isolation: 'read_committed' });
      const byTask = new Map<string, Array<{ seq: number; nextOffset: number }>>();
      for (const r of progress) {
        const p = parseProgress(r.value);
        if (p) byTask.set(p.task, [...(byTask.get(p.task) ?? []), p]);
      }
      for (const { task, ckpt, pending } of await checkpoints()) {
        if (pending) problems.push(`${task.id}: batch ${pending.seq} still pending`);
        const committed = Array.from({ length: ckpt.committedSeq }, (_, i) => i + 1).filter((s) => !ckpt.holes.includes(s));
        const seen = (byTask.get(task.id) ?? []).map((p) => p.seq);
        if (JSON.stringify([...seen].sort((a, b) => a - b)) !== JSON.stringify(committed)) {
          problems.push(`${task.id}: Kafka has committed progress records for batches [${seen.join(', ')}], the checkpoint counts [${committed.join(', ')}] (holes [${ckpt.holes.join(', ')}])`);
        }
        const last = byTask.get(task.id)?.at(-1);
        if (last && last.nextOffset !== ckpt.nextOffset) problems.push(`${task.id}: last progress record says nextOffset ${last.nextOffset}, the checkpoint ${ckpt.nextOffset}`);
      }
    }
    expect(problems).toEqual([]);
    for (const stage of topology.stages) expect(await readToEnd(kafka, stage.deadLetterTopic, { isolation: 'read_committed' })).toEqual([]);
  });

  // --- the rig -----------------------------------------------------------------------------------

  /**
   * The in-process invoker, with Lambda's concurrency model: a container runs one invocation at a
   * time, so concurrent invocations of a stage (its data and control triggers, its partitions) go
   * to different containers; an idle warm container is reused, else a new one starts. A failed
   * invocation keeps its container warm, as in Lambda.
   */
  function invoker(): Invoker {
    const connect = (): StagePorts => {
      const kafka = testKafka(`${app}-c${sinks.length}`);
      const sink = new KafkaTxnSink(kafka, { transactionTimeoutMs: topology.settings.transactionTimeoutMs });
      sinks.push(sink);
      return { store: new DynamoTaskStore(testDynamo(), table), sink, log: new KafkajsChangelogReader(kafka) };
    };
    const idle = new Map<string, KafkaHandler[]>(topology.stages.map((s) => [s.name, []]));
    return {
      invoke: async (functionName, event) => {
        const batch = decodeEvent(event).batches[0]!;
        const entry = { stage: functionName, topic: batch.topic, partition: batch.partition, started: Date.now() };
        const container = idle.get(functionName)!.pop() ?? stageHandler(topology, functionName, { connect });
        try {
          const report = await container(JSON.parse(JSON.stringify(event)));
          log.push({ ...entry, ended: Date.now(), report, error: undefined });
          return report;
        } catch (error) {
          log.push({ ...entry, ended: Date.now(), report: undefined, error: describeError(error) });
          throw error;
        } finally {
          idle.get(functionName)!.push(container);
        }
      },
    };
  }

  /** Successful invocations of `stage` that started after `since`. */
  function succeeded(stage: string, since: number): number {
    return log.filter((i) => i.stage === stage && i.report && i.started > since).length;
  }

  async function restart(hard: boolean, producedBefore: number, onBegin: () => void): Promise<Restart> {
    const began = Date.now();
    const restarting = restartKafka({ hard });
    onBegin();
    const outcome = await restarting;
    const ended = Date.now();
    if (!hard) await fenceOpenMarkerTransaction(kafka);
    const marker = await readMarker(kafka);
    console.log(`[broker-restart] ${hard ? 'SIGKILL' : 'SIGTERM'} restart after ${producedBefore} clicks: pid ${outcome.previousPid} → ${outcome.pid}, down ${outcome.downtimeMs} ms, restartKafka took ${ended - began} ms`);
    return { hard, began, ended, outcome, marker, producedBefore };
  }

  /** The table (and the changelogs) as the tools read them, under either commit protocol. */
  function tables(): ReturnType<typeof tableOf> {
    return tableOf({ dynamo: testDynamo(), table, kafka, topology });
  }

  /** A task's committed view (checkpoint protocol: its checkpoint and pending batch; changelog: snapshot + changelog). */
  async function view(task: TaskRef): Promise<StoredCheckpoint> {
    const [stored] = await readCheckpoints(tables(), [task]);
    return stored!;
  }

  /** Waits until every task has read all its committed input: the source tasks to the source's end, then the keyed tasks to the internal topic's end. */
  async function drain(): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    const sourceEnds = new Map((await admin.fetchTopicOffsets(sourceTopic)).map((p) => [p.partition, Number(p.high)]));
    await admin.disconnect();
    const stageOf = (name: string) => topology.stages.find((s) => s.name === name)!;
    const caughtUp = async (stage: string, topic: string, ends: ReadonlyMap<number, number>): Promise<boolean> => {
      for (const [partition, end] of ends) {
        const { checkpoint: ckpt, pending } = await view(taskRef(topology, stageOf(stage), topic, partition));
        if (ckpt.nextOffset < end || pending) return false;
      }
      return true;
    };
    await waitUntilAsync('the source tasks read all input', 60_000, () => caughtUp('clicks', sourceTopic, sourceEnds));
    const internal = await readToEnd(kafka, internalTopic, { isolation: 'read_committed' });
    const internalEnds = new Map<number, number>();
    for (const r of internal) internalEnds.set(r.partition, Math.max(internalEnds.get(r.partition) ?? 0, r.offset + 1));
    await waitUntilAsync('the keyed tasks read all committed input', 60_000, () => caughtUp('by-user', internalTopic, internalEnds));
  }

  /** Every data task and its checkpoint. */
  async function checkpoints(): Promise<Array<{ task: TaskRef; ckpt: Checkpoint; pending: BatchRecord | undefined }>> {
    const out: Array<{ task: TaskRef; ckpt: Checkpoint; pending: BatchRecord | undefined }> = [];
    for (const stage of topology.stages) {
      const input = stage.inputs[0]!;
      for (let p = 0; p < input.partitions; p += 1) {
        const task = taskRef(topology, stage, input.topic, p);
        const v = await view(task);
        out.push({ task, ckpt: v.checkpoint, pending: v.pending });
      }
    }
    return out;
  }

  /** The committed totals of every user, read from the keyed stage's state (each user's task = its internal partition). */
  async function finalState(internal: readonly KafkaRecord[]): Promise<Map<string, Totals | undefined>> {
    const stage = topology.stages.find((s) => s.name === 'by-user')!;
    const keysByPartition = new Map<number, Map<string, Buffer>>();
    for (const r of internal) {
      const keys = keysByPartition.get(r.partition) ?? new Map<string, Buffer>();
      keys.set(r.key!.toString('utf8'), r.key!);
      keysByPartition.set(r.partition, keys);
    }
    const state = new Map<string, Totals | undefined>();
    for (const user of new Set(input.map((f) => f.value.user))) state.set(user, undefined);
    for (const [partition, keys] of keysByPartition) {
      const task = taskRef(topology, stage, internalTopic, partition);
      const entries = await loadTaskState(tables(), await view(task));
      const values = new Map(entries.map((e) => [stateMapKey(e.key, e.name), e.value]));
      for (const key of keys.values()) {
        const value = values.get(stateMapKey(key, 'totals'));
        state.set(JSON.parse(key.toString('utf8')) as string, value ? (JSON.parse(value.bytes.toString('utf8')) as Totals) : undefined);
      }
    }
    return state;
  }

  function describeRun(): string {
    const failed = log.filter((i) => i.error !== undefined);
    const windows = restarts.map((r) => {
      const during = failed.filter((i) => i.ended >= r.began && i.started <= r.ended + 10_000);
      return `${r.hard ? 'SIGKILL' : 'SIGTERM'}: ${during.length} failed invocations`;
    });
    const kinds = new Map<string, number>();
    for (const f of failed) kinds.set(f.error!, (kinds.get(f.error!) ?? 0) + 1);
    const top = [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([e, n]) => `${n}× ${e}`);
    const recoveries = new Map<string, number>();
    for (const t of log.flatMap((i) => i.report?.tasks ?? [])) if (t.recovery) recoveries.set(t.recovery.outcome, (recoveries.get(t.recovery.outcome) ?? 0) + 1);
    const last = restarts.at(-1)?.ended ?? 0;
    const since = topology.stages.map((s) => `${s.name}: ${succeeded(s.name, last)} ok / ${failed.filter((i) => i.stage === s.name && i.started > last).length} failed`).join(', ');
    return `${log.length} invocations, ${failed.length} failed (${windows.join('; ')}); in-doubt batches recovered: ${JSON.stringify(Object.fromEntries(recoveries))}; since the last restart ${since}; errors: ${top.join(' | ') || 'none'}`;
  }
});

// --- the marker topic: what restartKafka must keep -------------------------------------------------

/** Commits "kept", aborts "dropped", leaves "open" in an open transaction, commits the group's offset 1. */
async function prepareMarker(kafka: Kafka): Promise<void> {
  const producer = kafka.producer({ transactionalId: `${app}-marker-txn`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const kept = await producer.transaction();
    await kept.send({ topic: markerTopic, messages: [{ value: 'kept' }] });
    await kept.commit();
    const dropped = await producer.transaction();
    await dropped.send({ topic: markerTopic, messages: [{ value: 'dropped' }] });
    await dropped.abort();
  } finally {
    await producer.disconnect();
  }
  const open = kafka.producer({ transactionalId: `${app}-marker-open`, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 600_000 });
  await open.connect();
  const txn = await open.transaction();
  await txn.send({ topic: markerTopic, messages: [{ value: 'open' }] });
  await open.disconnect(); // leaves the transaction open (kafkajs does not abort on disconnect)
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.setOffsets({ groupId: markerGroup, topic: markerTopic, partitions: [{ partition: 0, offset: '1' }] });
  } finally {
    await admin.disconnect();
  }
}

/**
 * A new producer of the open transaction's id: its InitProducerId makes the coordinator abort the
 * transaction it remembers across the restart. Had the restart lost the transaction state, the
 * marker topic's last stable offset would stay behind "open" and readMarker would time out.
 */
async function fenceOpenMarkerTransaction(kafka: Kafka): Promise<void> {
  const fence = kafka.producer({ transactionalId: `${app}-marker-open`, idempotent: true, maxInFlightRequests: 1 });
  await fence.connect();
  try {
    const txn = await fence.transaction();
    await txn.abort();
  } finally {
    await fence.disconnect();
  }
}

async function readMarker(kafka: Kafka): Promise<MarkerView> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const listed = (await admin.listTopics()).includes(markerTopic);
    const committed = (await readToEnd(kafka, markerTopic, { isolation: 'read_committed', timeoutMs: 20_000 })).map((r) => r.value!.toString());
    const offsets = await admin.fetchOffsets({ groupId: markerGroup, topics: [markerTopic] });
    return { listed, committed, groupOffset: offsets[0]?.partitions.find((p) => p.partition === 0)?.offset };
  } finally {
    await admin.disconnect();
  }
}

// --- helpers ---------------------------------------------------------------------------------------

/**
 * The client of the emulated triggers (and the ticker): kafkajs's retry timing as in Lambda, not
 * its NODE_ENV=test defaults (50 ms doubling to at most 1 s), under which a trigger's consumer
 * gives up within about 5 s of an outage, restarts as a new group member, and then waits for the
 * coordinator to expire the old member (sessionTimeout, 30 s) before it gets its partitions back.
 * Lambda's pollers ride out a broker restart; with these timings the emulator's do too. The stage
 * handlers keep the test client (testKafka): their invocations fail fast and are retried.
 */
function triggerKafka(): Kafka {
  fixKafkajsReadCommitted();
  // About 30 s of retries per request before a consumer gives up (and restarts as a new member).
  const retry = { retries: 12, initialRetryTime: 300, maxRetryTime: 3_000, factor: 0.2, multiplier: 2 };
  const level = { error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO, debug: logLevel.DEBUG }[process.env.SLUICE_TEST_KAFKA_LOG ?? ''] ?? logLevel.NOTHING;
  return new Kafka({ clientId: `${app}-esm`, brokers: testBrokers(), logLevel: level, connectionTimeout: 3_000, requestTimeout: 30_000, retry });
}

/**
 * The test's input producer, idempotent so the broker drops the duplicates of its retries. It
 * rides out an outage of about a minute: its own client, because kafkajs's retry defaults under
 * NODE_ENV=test (which vitest sets) give up reconnecting after about a second.
 */
function inputProducer(): Producer {
  const retry = { retries: 40, initialRetryTime: 200, maxRetryTime: 2_000, factor: 0.2, multiplier: 2 };
  const kafka = new Kafka({ clientId: `${app}-input`, brokers: testBrokers(), logLevel: logLevel.NOTHING, connectionTimeout: 3_000, retry });
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry });
}

const NO_RETENTION = { 'retention.ms': '-1' } as const;

async function createTopics(kafka: Kafka, topics: Array<{ topic: string; partitions: number; configs?: Readonly<Record<string, string>> }>): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Retried like LocalRun does: kafkajs gives up if a busy broker's metadata lags the creation.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await ensureTopics(admin, topics);
        return;
      } catch (error) {
        if (attempt >= 5) throw error;
        await sleep(200 * attempt);
      }
    }
  } finally {
    await admin.disconnect();
  }
}

function seen<T>(records: readonly KafkaRecord[]): Array<Seen<T>> {
  return records.map((r) => {
    const p = readProvenance(r.headers);
    return {
      value: JSON.parse(r.value!.toString('utf8')) as T,
      key: r.key ? (JSON.parse(r.key.toString('utf8')) as unknown) : undefined,
      partition: r.partition,
      where: `${r.topic}/${r.partition}@${r.offset}${p ? ` (task ${p.task} seq ${p.seq} idx ${p.idx})` : ''}`,
    };
  });
}

function describeDiscrepancies(found: readonly Discrepancy[]): string[] {
  return found.slice(0, 12).map((d) => `${d.kind}: ${d.message}`);
}

function describeError(error: unknown): string {
  if (error instanceof InvocationFailedError) return [...new Set(error.failures.map((f) => describeError(f.error)))].join('; ');
  if (!(error instanceof Error)) return String(error);
  const type = (error as { type?: unknown }).type;
  const code = (error as { code?: unknown }).code;
  return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}${typeof type === 'string' ? ` ${type}` : ''}: ${error.message.slice(0, 120)}`;
}

async function waitUntil(what: string, timeoutMs: number, check: () => boolean, status?: () => string): Promise<void> {
  await waitUntilAsync(what, timeoutMs, () => Promise.resolve(check()), status);
}

async function waitUntilAsync(what: string, timeoutMs: number, check: () => Promise<boolean>, status?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}${status ? `; ${status()}` : ''}`);
    await sleep(100);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
