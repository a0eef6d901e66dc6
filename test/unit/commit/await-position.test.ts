// A control batch of the changelog protocol whose marks cover data its task has not read waits —
// reading the changelog, claiming nothing — for the data batch that reads it to commit
// (awaitPosition), instead of fencing that batch; it gives up after its budget.
import { describe, expect, it } from 'vitest';
import { awaitPosition } from '../../../framework/commit/changelog-protocol.js';
import { emptySnapshot } from '../../../framework/commit/checkpoint.js';
import type { Checkpoint, TaskRef } from '../../../framework/commit/ports.js';
import { changelogRecords } from '../../../framework/record/changelog.js';
import { MemoryKafka } from '../../../framework/testing/memory-kafka.js';
import { MemoryTaskLog } from '../../../framework/testing/memory-task-log.js';
import { controlRecord, highestFence } from '../../../framework/time/control.js';
import { INITIAL_TIME } from '../../../framework/time/watermark.js';

const task: TaskRef = { app: 'app', stage: 'counts', topic: 'app.counts.in', id: 'counts.0', partition: 0 };
const at = { topic: 'app.counts.changelog', partition: 0 };
const view: Checkpoint = { version: 0, committedSeq: 1, holes: [], nextOffset: 5, time: INITIAL_TIME, snapshot: emptySnapshot(0), deltaBytes: 0, log: 1 };

/** The changelog of the task with batch 1 (position 5); commit() adds batches. */
function world(): { kafka: MemoryKafka; log: MemoryTaskLog; commit(seq: number, nextOffset: number): void } {
  const kafka = new MemoryKafka();
  const commit = (seq: number, nextOffset: number): void => {
    const id = `app.counts.0#${seq}`;
    const epoch = kafka.initProducer(id);
    kafka.append(changelogRecords(at.topic, at.partition, { task: task.id, seq, nextOffset, time: INITIAL_TIME, changes: undefined }), { id, epoch });
    kafka.end(id, epoch, 'committed');
  };
  commit(1, 5);
  return { kafka, log: new MemoryTaskLog(kafka), commit };
}

describe('a control batch waiting for the data its marks cover (changelog protocol)', () => {
  it('returns at once when the task has read past the fence, without reading', async () => {
    const { log } = world();
    expect(await awaitPosition(log, task, at, view, 4, 1_000)).toBe(true);
    expect(log.reads).toBe(0);
  });

  it('returns once a data batch past the fence commits', async () => {
    const { log, commit } = world();
    setTimeout(() => commit(2, 9), 30);
    const started = Date.now();
    expect(await awaitPosition(log, task, at, view, 7, 5_000, 5)).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(log.reads).toBeGreaterThan(1);
  });

  it('gives up after its budget when no batch passes the fence', async () => {
    const { log, commit } = world();
    commit(2, 6);
    expect(await awaitPosition(log, task, at, view, 7, 60, 5)).toBe(false);
  });

  it('takes the highest fence of the watermark marks, ignoring ticks and marks that cover no data', () => {
    const values = [
      controlRecord('c', 0, { kind: 'watermark', from: 'views.0', watermark: 10, fence: 12, idle: false }).value,
      controlRecord('c', 0, { kind: 'tick', tick: 99 }).value,
      controlRecord('c', 0, { kind: 'watermark', from: 'views.1', watermark: 11, fence: 30, idle: false }).value,
      controlRecord('c', 0, { kind: 'watermark', from: 'views.2', watermark: 11, fence: -1, idle: true }).value,
      Buffer.from('not a control record'),
    ];
    expect(highestFence(values)).toBe(30);
    expect(highestFence([controlRecord('c', 0, { kind: 'tick', tick: 1 }).value])).toBe(-1);
  });
});
