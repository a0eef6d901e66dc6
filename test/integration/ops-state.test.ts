/**
 * State tools on the real broker and DynamoDB Local: `state get` reads a key's committed count,
 * a savepoint exported from a run restores the same state and checkpoints into a fresh table,
 * import and reset refuse what they must, and a reset to the earliest offset with cleared state
 * (moving the trigger's consumer group too) makes the stage recount to the same result. Under
 * both commit protocols: the checkpoint protocol's tools rewrite DynamoDB checkpoints; the
 * changelog protocol's read a task's snapshot plus its changelog and rebase by committing one
 * changelog record that replaces the state (docs/changelog-protocol.md).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile, count, json, pipeline, stageHandler, string } from '../../framework/index.js';
import type { Topology } from '../../framework/index.js';
import { rebaseSeq } from '../../framework/commit/checkpoint.js';
import { DynamoTaskStore } from '../../framework/dynamodb/task-store.js';
import { createTable, deleteTable } from '../../framework/dynamodb/table.js';
import { inProcessInvoker } from '../../framework/local/esm/invoker.js';
import { EventSourceMapping } from '../../framework/local/esm/mapping.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { resetStage } from '../../framework/ops/reset.js';
import { exportSavepoint, importSavepoint } from '../../framework/ops/savepoint.js';
import { parseSavepoint } from '../../framework/ops/savepoint-format.js';
import { readCheckpoints, tableOf } from '../../framework/ops/stage-items.js';
import { stageTasks } from '../../framework/ops/stages.js';
import { getState } from '../../framework/ops/state-get.js';
import { closeTarget, openTarget, type OpsTarget } from '../../framework/ops/target.js';
import { createTopologyTopics, discardPending, leavePending, readToEnd, testBrokers, testDynamo, testDynamoEndpoint, testKafka, uniqueName } from '../support/infra.js';

interface Click {
  readonly user: string;
}

const USERS = { ann: 7, bob: 4, cy: 1 } as const;

for (const commit of ['checkpoint', 'changelog'] as const) suite(commit);

function suite(commit: 'checkpoint' | 'changelog'): void {
  const app = uniqueName(commit === 'checkpoint' ? 'ops-state' : 'ops-state-cl');
  const source = `${app}-clicks`;
  const table = uniqueName(`ops-state-${commit}-table`);
  const restored = uniqueName(`ops-state-${commit}-restored`);

  function build(name = app): Topology {
    const p = pipeline(name, { partitions: 2, functionTimeout: '30s', transactionTimeout: '60s', commit });
    p.source<Click>(source, { serde: json<Click>(), partitions: 2 })
      .stage('clicks')
      .keyBy((c) => c.user, { name: 'user', keySerde: string() })
      .aggregate(count(), { name: 'clicks' })
      .sink(`${name}-counts`, { serde: json() });
    return compile(p.plan());
  }

  describe(`sluice state, savepoint and reset (commit: ${commit})`, () => {
    const topology = build();
    const byUser = topology.stages[1]!;
    let kafka: Kafka;
    let target: OpsTarget;
    let run: (stages: readonly string[]) => Promise<void>;

    beforeAll(async () => {
      kafka = testKafka('ops-state');
      await createTable(testDynamo(), table);
      await createTable(testDynamo(), restored);
      const admin = kafka.admin();
      await admin.connect();
      await createTopologyTopics(admin, topology);
      await admin.disconnect();
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      const messages = Object.entries(USERS).flatMap(([user, n]) => Array.from({ length: n }, (_, i) => ({ partition: i % 2, value: JSON.stringify({ user }) })));
      await producer.send({ topic: source, messages });
      await producer.disconnect();

      const connect = lambdaPorts(topology, { table, dynamodbEndpoint: testDynamoEndpoint() });
      const invoker = inProcessInvoker(Object.fromEntries(topology.stages.map((s) => [s.name, () => stageHandler(topology, s.name, { connect })])));
      // Runs the stages' triggers until their input is processed, then stops them (so a group can be moved).
      run = async (stages) => {
        const mappings: EventSourceMapping[] = [];
        for (const stage of topology.stages.filter((s) => stages.includes(s.name))) {
          for (const input of stage.inputs) {
            const m = new EventSourceMapping({ kafka, brokers: testBrokers(), topic: input.topic, functionName: stage.name, invoker, batchSize: 4, batchingWindowMs: 100 });
            mappings.push(m);
            await m.start();
          }
        }
        for (const m of mappings) await m.waitForCatchUp();
        for (const m of mappings) await m.stop();
      };
      await run(['clicks', 'by-user']);
      target = openTarget(topology, { brokers: testBrokers(), table, dynamodbEndpoint: testDynamoEndpoint(), region: undefined });
    });

    afterAll(async () => {
      if (target) closeTarget(target);
      await deleteTable(testDynamo(), table).catch(() => undefined);
      await deleteTable(testDynamo(), restored).catch(() => undefined);
    });

    it("reads a key's committed count, with the key as JSON or as a plain string", async () => {
      expect(await getState(target, 'by-user', '"ann"')).toMatchObject({ state: 'clicks', value: 7 });
      const bob = await getState(target, 'by-user', 'bob', { format: 'string' });
      expect(bob.value).toBe(4);
      expect(bob.task).toMatch(/^by-user\.\d$/);
      expect(await getState(target, 'by-user', Buffer.from('cy').toString('base64'), { format: 'base64' })).toMatchObject({ value: 1 });
    });

    it('reads nothing for a key that never came', async () => {
      const none = await getState(target, 'by-user', '"zed"');
      expect(none.bytes).toBeUndefined();
      expect(none.value).toBeUndefined();
    });

    it('exports a savepoint and imports it into a fresh table with the same state and checkpoints', async () => {
      const file = join(mkdtempSync(join(tmpdir(), 'sluice-sp-')), 'by-user.jsonl');
      const exported = await exportSavepoint(target, 'by-user', file);
      expect(exported).toMatchObject({ tasks: 2, state: 3, timers: 0 });
      const sp = parseSavepoint(readFileSync(file, 'utf8'), file);
      expect(sp.header).toMatchObject({ format: 'sluice-savepoint', version: 2, app, stage: 'by-user', tasks: ['by-user.0', 'by-user.1'] });

      // Fresh: a new table, and under the changelog protocol new changelogs too (a task's state is there as well): the same pipeline as another app.
      const freshTopology = commit === 'checkpoint' ? topology : build(uniqueName('ops-state-c2'));
      if (freshTopology !== topology) {
        const admin = kafka.admin();
        await admin.connect();
        await createTopologyTopics(admin, freshTopology);
        await admin.disconnect();
      }
      const fresh = openTarget(freshTopology, { brokers: testBrokers(), table: restored, dynamodbEndpoint: testDynamoEndpoint(), region: undefined });
      try {
        expect(await importSavepoint(fresh, 'by-user', file)).toMatchObject({ tasks: 2, state: 3, deleted: 0 });
        for (const [user, n] of Object.entries(USERS)) expect((await getState(fresh, 'by-user', JSON.stringify(user))).value).toBe(n);
        const [before, after] = await Promise.all([
          readCheckpoints(tableOf(target), stageTasks(topology, byUser)),
          readCheckpoints(tableOf(fresh), stageTasks(freshTopology, freshTopology.stages[1]!)),
        ]);
        expect(after.map((c) => c.checkpoint.nextOffset)).toEqual(before.map((c) => c.checkpoint.nextOffset));
        // The checkpoint protocol keeps the batch numbers; the changelog protocol's import is the task's first batch.
        expect(after.map((c) => c.checkpoint.committedSeq)).toEqual(commit === 'checkpoint' ? before.map((c) => c.checkpoint.committedSeq) : [1, 1]);

        // Importing again needs --force; with it the stage is replaced and reads the same.
        await expect(importSavepoint(fresh, 'by-user', file)).rejects.toMatchObject({ code: 'SLUICE_OPS_NOT_EMPTY' });
        expect(await importSavepoint(fresh, 'by-user', file, { force: true })).toMatchObject({ deleted: 3, state: 3 });
        expect((await getState(fresh, 'by-user', '"ann"')).value).toBe(7);
      } finally {
        closeTarget(fresh);
      }
    });

    // The changelog protocol has no pending batches: a batch is decided by its Kafka commit alone.
    if (commit === 'checkpoint') it('refuses export, import and reset while a task has a pending batch', async () => {
      const [task] = await readCheckpoints(tableOf(target), stageTasks(topology, byUser));
      const file = join(mkdtempSync(join(tmpdir(), 'sluice-sp-')), 'x.jsonl');
      await exportSavepoint(target, 'by-user', file);
      const store = new DynamoTaskStore(testDynamo(), table);
      const pending = await leavePending(store, task!.task, Date.now());
      try {
        await expect(exportSavepoint(target, 'by-user', file)).rejects.toMatchObject({ code: 'SLUICE_OPS_PENDING' });
        await expect(importSavepoint(target, 'by-user', file, { force: true })).rejects.toMatchObject({ code: 'SLUICE_OPS_PENDING' });
        await expect(resetStage(target, 'by-user', { to: { offset: 'earliest' }, state: 'keep' })).rejects.toMatchObject({ code: 'SLUICE_OPS_PENDING', message: expect.stringContaining(`task ${task!.task.id} has pending batch ${pending.seq}`) as string });
      } finally {
        await discardPending(store, task!.task);
      }
    });

    it('refuses an offset outside the partition and changes nothing', async () => {
      const tasks = stageTasks(topology, byUser);
      const before = await readCheckpoints(tableOf(target), tasks);
      await expect(resetStage(target, 'by-user', { to: { offset: 10_000 }, state: 'clear' })).rejects.toMatchObject({ code: 'SLUICE_OPS_OFFSET' });
      const after = await readCheckpoints(tableOf(target), tasks);
      expect(after.map((c) => [c.checkpoint.version, c.checkpoint.committedSeq])).toEqual(before.map((c) => [c.checkpoint.version, c.checkpoint.committedSeq]));
      expect((await getState(target, 'by-user', '"ann"')).value).toBe(7);
    });

    it('resets to the earliest offset with cleared state, and the stage counts everything again to the same result', async () => {
      const tasks = stageTasks(topology, byUser);
      const before = await readCheckpoints(tableOf(target), tasks);
      const input = byUser.inputs[0]!.topic;
      const result = await resetStage(target, 'by-user', { to: { offset: 'earliest' }, state: 'clear', consumerGroup: `sluice-esm-by-user-${input}` });
      expect(result.moves.map((m) => m.to)).toEqual([0, 0]);
      expect(result.deletedItems).toBe(3);

      const reset = await readCheckpoints(tableOf(target), tasks);
      expect(reset.map((c) => c.checkpoint.nextOffset)).toEqual([0, 0]);
      if (commit === 'checkpoint') {
        // Sequence numbers never go back (a rebase jumps a whole ring); the version moves so warm containers reload.
        expect(reset.map((c) => c.checkpoint.committedSeq)).toEqual(before.map((c) => rebaseSeq(c.checkpoint)));
        expect(reset.map((c) => c.checkpoint.version)).toEqual(before.map((c) => c.checkpoint.version + 1));
      } else {
        // One changelog record replacing the state: the next batch number; warm containers are fenced and read it.
        expect(reset.map((c) => c.checkpoint.committedSeq)).toEqual(before.map((c) => c.checkpoint.committedSeq + 1));
      }
      expect((await getState(target, 'by-user', '"ann"')).bytes).toBeUndefined();

      await run(['by-user']);
      for (const [user, n] of Object.entries(USERS)) expect((await getState(target, 'by-user', JSON.stringify(user))).value).toBe(n);
    });

    it('an import under warm containers: their next batch counts from the imported state, not from their memory', async () => {
      const file = join(mkdtempSync(join(tmpdir(), 'sluice-sp-')), 'warm.jsonl');
      await exportSavepoint(target, 'by-user', file);
      // One more click per user on each source partition (every mapping's partitions get records, so each can tell it caught up).
      const clickEveryone = async (): Promise<void> => {
        const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
        await producer.connect();
        await producer.send({ topic: source, messages: Object.keys(USERS).flatMap((user) => [0, 1].map((partition) => ({ partition, value: JSON.stringify({ user }) }))) });
        await producer.disconnect();
      };
      const counts = async (): Promise<unknown[]> => Promise.all(Object.keys(USERS).map(async (user) => (await getState(target, 'by-user', JSON.stringify(user))).value));
      await clickEveryone();
      await run(['clicks', 'by-user']);
      expect(await counts()).toEqual(Object.values(USERS).map((n) => n + 2));
      // The containers that counted those clicks stay warm, their memory two clicks a user ahead of the savepoint.
      await importSavepoint(target, 'by-user', file, { force: true });
      expect(await counts()).toEqual(Object.values(USERS));
      // A warm container's next batch finds the checkpoint's version moved (checkpoint protocol), or is
      // fenced and reads the rebase record (changelog protocol), and counts from the imported state.
      await clickEveryone();
      await run(['clicks', 'by-user']);
      expect(await counts()).toEqual(Object.values(USERS).map((n) => n + 2));
      // …and no count from that memory reached the sink (had it committed on its memory, a rerun
      // would fix the state but not the committed output).
      const outputs = await readToEnd(kafka, `${app}-counts`, { isolation: 'read_committed', timeoutMs: 60_000 });
      const highest = new Map<string, number>();
      for (const r of outputs) {
        const { key, value } = JSON.parse(r.value!.toString('utf8')) as { key: string; value: number };
        highest.set(key, Math.max(highest.get(key) ?? 0, value));
      }
      console.log(`highest committed counts: ${JSON.stringify([...highest])}`);
      expect(Object.fromEntries(highest)).toEqual(Object.fromEntries(Object.entries(USERS).map(([u, n]) => [u, n + 2])));
    });
  });
}
