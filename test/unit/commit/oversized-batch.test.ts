// A batch whose state changes do not fit one batch record (a DynamoDB item holds 400 KB) writes a
// snapshot with it instead; its record carries no changes and names the snapshot. Under the
// changelog protocol (a Kafka record holds about 1 MB) the changes go into several changelog
// records of the batch's transaction instead. Here records are capped at 32 bytes
// (CompactionPolicy.maxRecordBytes) so a few keys are already too much.
import { describe, expect, it } from 'vitest';
import { json, pipeline, valueState } from '../../../framework/index.js';
import type { FaultHook } from '../../../framework/commit/ports.js';
import { SimulatedCrash } from '../../../framework/commit/ports.js';
import { stageHarness } from '../../../framework/testing/index.js';
import { taskRef } from '../../../framework/runtime/task.js';
import { changelogOf } from '../../../framework/topology/names.js';
import { parseChangelog } from '../../../framework/record/changelog.js';

interface Visit {
  readonly user: string;
}

const visits = valueState<number>('visits');

function counting(mode: 'exactly-once' | 'at-least-once', commit: 'checkpoint' | 'changelog' = 'checkpoint') {
  const p = pipeline('big', { partitions: 1, mode, commit });
  p.source('visits', { serde: json<Visit>() })
    .keyBy((v) => v.user, { name: 'user' })
    .process<string>(
      (v, ctx) => {
        const n = (ctx.state(visits).get() ?? 0) + 1;
        ctx.state(visits).set(n);
        ctx.emit(`${v.user} ${n}`);
      },
      { state: [visits] },
    )
    .sink('out', { serde: json<string>() });
  return p;
}

const USERS = ['ann', 'bob', 'cy', 'dee', 'eve', 'fay', 'gus', 'hal'];
const batch = (users: readonly string[]) => users.map((user) => ({ key: user, value: { user } }));
const TINY = { everyBatches: 32, minBytes: 64 * 1024, maxRecordBytes: 32 };

/** Crashes once, the first time `step` is reached. */
function crashOnceAt(step: string): FaultHook {
  let done = false;
  return (at, task, seq) => {
    if (at === step && !done) {
      done = true;
      throw new SimulatedCrash(at, task.id, seq);
    }
  };
}

describe('a batch whose changes are too large for its record', () => {
  it('writes a snapshot with the batch, and a record without the changes', async () => {
    const h = stageHarness(counting('exactly-once'), 'by-user', { compaction: TINY });
    const task = taskRef(h.topology, h.stage, h.stage.inputs[0]!.topic, 0);
    await h.send(batch(USERS));
    const c = h.checkpoint();
    expect(c.committedSeq).toBe(1);
    expect(c.snapshot.seq).toBe(1);
    expect(c.snapshot.chunks).toBeGreaterThan(0);
    expect(h.store.storedBytes(task).records).toBe(0);
    // A small batch fits its record again.
    await h.send(batch(['ann']));
    expect(h.checkpoint().snapshot.seq).toBe(1);
    expect(h.store.storedBytes(task).records).toBeGreaterThan(0);
  });

  it('restores from that snapshot in a new container', async () => {
    const h = stageHarness(counting('exactly-once'), 'by-user', { compaction: TINY });
    await h.send(batch(USERS));
    h.restartContainer();
    await h.send(batch(USERS));
    expect(USERS.map((u) => h.state<number>(u, visits))).toEqual(USERS.map(() => 2));
    expect(h.outputs<string>('out').map((o) => o.value).slice(-2)).toEqual(['gus 2', 'hal 2']);
  });

  it('exactly-once: a crash after its record, before its snapshot, aborts it; the redelivery commits it once', async () => {
    const h = stageHarness(counting('exactly-once'), 'by-user', { compaction: TINY, fault: crashOnceAt('after-record') });
    const records = h.toKafkaRecords(batch(USERS));
    await expect(h.deliver(records)).rejects.toBeInstanceOf(SimulatedCrash);
    h.restartContainer();
    const [report] = await h.deliver(records);
    expect(report!.recovery).toEqual({ seq: 1, outcome: 'aborted' });
    expect(USERS.map((u) => h.state<number>(u, visits))).toEqual(USERS.map(() => 1));
    expect(h.outputs<string>('out')).toHaveLength(USERS.length);
  });

  it('at-least-once: a crash before its snapshot is complete abandons the batch (the only copy of its changes is missing); the redelivery applies it once', async () => {
    const h = stageHarness(counting('at-least-once'), 'by-user', { compaction: TINY, fault: crashOnceAt('after-record') });
    const records = h.toKafkaRecords(batch(USERS));
    await expect(h.deliver(records)).rejects.toBeInstanceOf(SimulatedCrash);
    h.restartContainer();
    const [report] = await h.deliver(records);
    expect(report!.recovery).toEqual({ seq: 1, outcome: 'aborted' });
    expect(h.store.requests.snapshotComplete).toBe(1);
    expect(USERS.map((u) => h.state<number>(u, visits))).toEqual(USERS.map(() => 1));
  });

  it('at-least-once: a crash after its snapshot is complete keeps the batch; the redelivery is a duplicate', async () => {
    const h = stageHarness(counting('at-least-once'), 'by-user', { compaction: TINY, fault: crashOnceAt('after-prepare') });
    const records = h.toKafkaRecords(batch(USERS));
    await expect(h.deliver(records)).rejects.toBeInstanceOf(SimulatedCrash);
    h.restartContainer();
    const [report] = await h.deliver(records);
    expect(report!.recovery).toEqual({ seq: 1, outcome: 'committed' });
    expect(report!.duplicates).toBe(USERS.length);
    expect(USERS.map((u) => h.state<number>(u, visits))).toEqual(USERS.map(() => 1));
  });
});

describe('a batch whose changes are too large for one changelog record (commit: changelog)', () => {
  const logOf = (h: ReturnType<typeof stageHarness>) => {
    const at = changelogOf(h.topology, taskRef(h.topology, h.stage, h.stage.inputs[0]!.topic, 0));
    return h.kafka.readPartition(at.topic, at.partition, 0).records.map((r) => parseChangelog(r.value)!);
  };

  it('writes its changes as consecutive parts in the batch transaction, nothing to DynamoDB', async () => {
    const h = stageHarness(counting('exactly-once', 'changelog'), 'by-user', { compaction: TINY });
    await h.send(batch(USERS));
    const log = logOf(h);
    expect(log.length).toBeGreaterThan(1);
    expect(log.map((e) => [e.seq, e.part?.index, e.part?.count])).toEqual(log.map((_, i) => [1, i, log.length]));
    expect(log.every((e) => e.changes!.length <= TINY.maxRecordBytes)).toBe(true);
    expect(h.checkpoint().committedSeq).toBe(1);
    expect(USERS.map((u) => h.state<number>(u, visits))).toEqual(USERS.map(() => 1));
  });

  it('a new container folds the parts back into the state', async () => {
    const h = stageHarness(counting('exactly-once', 'changelog'), 'by-user', { compaction: TINY });
    await h.send(batch(USERS));
    h.restartContainer();
    await h.send(batch(USERS));
    expect(h.outputs<string>('out').map((o) => o.value).slice(-2)).toEqual(['gus 2', 'hal 2']);
  });

  it('a crash after its parts were sent, before the commit, leaves none of them; the redelivery commits the batch once', async () => {
    const h = stageHarness(counting('exactly-once', 'changelog'), 'by-user', { compaction: TINY, fault: crashOnceAt('after-send') });
    const records = h.toKafkaRecords(batch(USERS));
    await expect(h.deliver(records)).rejects.toBeInstanceOf(SimulatedCrash);
    h.restartContainer();
    await h.deliver(records);
    const log = logOf(h);
    expect(new Set(log.map((e) => e.seq))).toEqual(new Set([1]));
    expect(USERS.map((u) => h.state<number>(u, visits))).toEqual(USERS.map(() => 1));
    expect(h.outputs<string>('out')).toHaveLength(USERS.length);
  });
});
