import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../../framework/commit/ports.js';
import { EMPTY_CHECKPOINT } from '../../../framework/commit/checkpoint.js';
import type { BatchRecord } from '../../../framework/commit/ports.js';
import { compile, count, json, pipeline } from '../../../framework/index.js';
import { stageTasks } from '../../../framework/ops/stages.js';
import { assessStatus, formatDuration, type StatusFacts, type TaskFacts } from '../../../framework/ops/status.js';
import { formatStatus } from '../../../framework/ops/status-format.js';

const NOW = 1_767_225_600_000;
const MINUTE = 60_000;

function topology() {
  const p = pipeline('shop', { partitions: 2, functionTimeout: '60s', transactionTimeout: '2m' });
  p.source<{ user: string }>('orders', { serde: json(), partitions: 1 })
    .keyBy((o) => o.user, { name: 'user' })
    .aggregate(count())
    .sink('counts', { serde: json() });
  return compile(p.plan());
}

const topo = topology();
const [orders, byUser] = [topo.stages[0]!, topo.stages[1]!];

function ckpt(fields: Partial<Checkpoint>): Checkpoint {
  return { ...EMPTY_CHECKPOINT, version: 3, committedSeq: 2, nextOffset: 10, ...fields };
}

function facts(tasks: { orders?: TaskFacts[]; byUser?: TaskFacts[] } = {}, dlq = 0): StatusFacts {
  const t = (stage: typeof orders) => stageTasks(topo, stage);
  const fine = (stage: typeof orders): TaskFacts[] =>
    t(stage).map((task) => ({ stored: { task, exists: true, checkpoint: ckpt({}), pending: undefined }, input: { partition: task.partition, low: 0, high: 10 } }));
  return {
    app: 'shop',
    table: 'shop-table',
    brokers: ['127.0.0.1:19092'],
    at: NOW,
    transactionTimeoutMs: 2 * MINUTE,
    stages: [
      { stage: orders, tasks: tasks.orders ?? fine(orders), deadLetters: [{ partition: 0, low: 0, high: dlq }] },
      { stage: byUser, tasks: tasks.byUser ?? fine(byUser), deadLetters: [{ partition: 0, low: 0, high: 0 }] },
    ],
  };
}

function one(stage: typeof orders, partition: number, checkpoint: Checkpoint, input: TaskFacts['input'], pendingSince?: number): TaskFacts[] {
  return stageTasks(topo, stage).map((task) =>
    task.partition === partition
      ? { stored: { task, exists: checkpoint.version > 0, checkpoint, pending: pendingSince === undefined ? undefined : { ...pending, since: pendingSince } }, input }
      : { stored: { task, exists: true, checkpoint: ckpt({}), pending: undefined }, input: { partition: task.partition, low: 0, high: 10 } },
  );
}

const pending: BatchRecord = { seq: 3, nextOffset: 14, time: EMPTY_CHECKPOINT.time, txnId: 'shop.by-user.1', progress: { topic: 'shop.progress', partition: 0, offset: 7 }, since: 0, changes: [], changeBytes: 0, snapshot: undefined };

describe('assessStatus', () => {
  it('finds nothing to attend to in a caught-up pipeline', () => {
    const s = assessStatus(facts());
    expect(s.attention).toEqual([]);
    expect(s.stages.map((x) => x.tasks.map((t) => [t.task, t.lag]))).toEqual([[['orders.0', 0]], [['by-user.0', 0], ['by-user.1', 0]]]);
  });

  it('computes lag as end offset minus next offset', () => {
    const s = assessStatus(facts({ byUser: one(byUser, 1, ckpt({ nextOffset: 4 }), { partition: 1, low: 0, high: 10 }) }));
    expect(s.stages[1]!.tasks[1]).toMatchObject({ task: 'by-user.1', endOffset: 10, nextOffset: 4, lag: 6, committedSeq: 2, version: 3 });
  });

  it('counts every retained record as lag for a task that never committed', () => {
    const s = assessStatus(facts({ orders: one(orders, 0, EMPTY_CHECKPOINT, { partition: 0, low: 5, high: 12 }) }));
    expect(s.stages[0]!.tasks[0]).toMatchObject({ nextOffset: -1, lag: 7, version: 0 });
  });

  it('flags lag above --max-lag, and only then', () => {
    const f = facts({ byUser: one(byUser, 0, ckpt({ nextOffset: 4 }), { partition: 0, low: 0, high: 10 }) });
    expect(assessStatus(f, { maxLag: 6 }).attention).toEqual([]);
    expect(assessStatus(f, { maxLag: 5 }).attention).toEqual(['task by-user.0: lag 6 is over --max-lag 5']);
    expect(assessStatus(f).attention).toEqual([]);
  });

  it('shows a pending batch with its age', () => {
    const s = assessStatus(facts({ byUser: one(byUser, 1, ckpt({}), { partition: 1, low: 0, high: 10 }, NOW - 30_000) }));
    expect(s.stages[1]!.tasks[1]!.pending).toEqual({ seq: 3, txnId: 'shop.by-user.1', since: NOW - 30_000, ageMs: 30_000 });
    expect(s.attention).toEqual([]);
  });

  it('flags a batch pending longer than the transaction timeout', () => {
    const s = assessStatus(facts({ byUser: one(byUser, 1, ckpt({}), { partition: 1, low: 0, high: 10 }, NOW - 5 * MINUTE) }));
    expect(s.attention).toHaveLength(1);
    expect(s.attention[0]).toMatch(/^task by-user\.1: batch 3 has been pending for 5m, longer than the transaction timeout \(2m\)/);
  });

  it('honours a pending timeout given explicitly', () => {
    const f = facts({ byUser: one(byUser, 1, ckpt({}), { partition: 1, low: 0, high: 10 }, NOW - 30_000) });
    expect(assessStatus(f, { pendingTimeoutMs: 10_000 }).attention).toHaveLength(1);
  });

  it('flags a checkpoint past the end of its partition', () => {
    const s = assessStatus(facts({ orders: one(orders, 0, ckpt({ nextOffset: 50 }), { partition: 0, low: 0, high: 10 }) }));
    expect(s.attention[0]).toMatch(/^task orders\.0: checkpoint is at offset 50, past the end of orders\/0 \(10\)/);
  });

  it('flags records deleted by retention before the stage read them', () => {
    const s = assessStatus(facts({ orders: one(orders, 0, ckpt({ nextOffset: 3 }), { partition: 0, low: 8, high: 10 }) }));
    expect(s.attention).toEqual(['task orders.0: offsets 3–7 of orders/0 were deleted by retention before the stage read them']);
  });

  it('flags a missing input topic once per stage, with unknown lag', () => {
    const s = assessStatus(facts({ orders: one(orders, 0, ckpt({}), undefined) }));
    expect(s.stages[0]!.tasks[0]).toMatchObject({ endOffset: null, lag: null });
    expect(s.attention).toEqual(['stage orders: input topic orders does not exist']);
  });

  it('sums the dead-letter end offsets per stage', () => {
    expect(assessStatus(facts({}, 4)).stages.map((s) => s.deadLetterOffsets)).toEqual([4, 0]);
  });

  it('reports event time as unknown until watermarks exist', () => {
    expect(assessStatus(facts()).stages[0]!.tasks[0]).toMatchObject({ watermark: null, idle: null });
  });
});

describe('formatStatus', () => {
  it('prints one aligned row per task, the dead letters and the verdict', () => {
    const text = formatStatus(assessStatus(facts({ byUser: one(byUser, 1, ckpt({ nextOffset: 4 }), { partition: 1, low: 0, high: 10 }, NOW - 5 * MINUTE) }, 2)));
    expect(text.split('\n')).toEqual([
      'pipeline shop · table shop-table · brokers 127.0.0.1:19092 · 2026-01-01T00:00:00.000Z',
      '',
      'STAGE    TASK       INPUT              END  NEXT  LAG  SEQ  VER  PENDING   WATERMARK  IDLE',
      'orders   orders.0   orders/0            10    10    0    2    3  -         -          -',
      'by-user  by-user.0  shop.by-user.in/0   10    10    0    2    3  -         -          -',
      'by-user  by-user.1  shop.by-user.in/1   10     4    6    2    3  seq 3 5m  -          -',
      '',
      'dead letters',
      '  orders   shop.orders.dlq   end offset 2 (records + transaction markers; `sluice dlq list` counts them)',
      '  by-user  shop.by-user.dlq  none',
      '',
      'needs attention (1):',
      expect.stringMatching(/^ {2}- task by-user\.1: batch 3 has been pending for 5m/) as string,
    ]);
  });

  it('says so when nothing needs attention', () => {
    expect(formatStatus(assessStatus(facts())).endsWith('ok: nothing needs attention')).toBe(true);
  });
});

describe('formatDuration', () => {
  it('reads like a person would say it', () => {
    expect([450, 12_000, 3 * MINUTE, 3 * MINUTE + 20_000, 64 * MINUTE, 120 * MINUTE].map(formatDuration)).toEqual(['450ms', '12s', '3m', '3m 20s', '1h 4m', '2h']);
  });
});
