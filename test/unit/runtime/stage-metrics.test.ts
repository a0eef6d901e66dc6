import { describe, expect, it } from 'vitest';
import type { KafkaRecord } from '../../../framework/record/record.js';
import { compile, encodeEvent, json, pipeline, stageHandler } from '../../../framework/index.js';
import { lineSink } from '../../../framework/ops/metrics.js';
import { MemoryCheckpointStore, MemoryKafka, MemoryTxnSink, MemoryTaskLog } from '../../../framework/testing/index.js';

interface Order {
  readonly id: string;
  readonly amount: number;
  readonly at: number;
}

const AT = 1_767_225_600_000;
const BROKERS = ['127.0.0.1:9092'];

function shop() {
  const p = pipeline('shop', { partitions: 1 });
  p.source('orders', { serde: json<Order>(), partitions: 1, eventTime: (o) => o.at, maxOutOfOrderness: '2s' })
    .process<Order>((o, ctx) => {
      ctx.metrics.count('orders');
      ctx.metrics.value('order-amount', o.amount, 'None');
      if (o.amount > 100) ctx.metrics.count('large-orders');
      ctx.emit(o);
    })
    .sink('checked', { serde: json() });
  return compile(p.plan());
}

function record(offset: number, value: Order): KafkaRecord {
  return { topic: 'orders', partition: 0, offset, timestamp: value.at, timestampType: 'CREATE_TIME', key: null, value: Buffer.from(JSON.stringify(value)), headers: [] };
}

/** Runs one invocation of the stage over in-memory ports and returns its EMF document. */
async function invoke(orders: Order[]): Promise<{ doc: Record<string, unknown>; watermark: number }> {
  const topology = shop();
  const partitions = new Map(topology.topics.map((t) => [t.name, t.partitions]));
  const kafka = new MemoryKafka((t) => partitions.get(t) ?? 1);
  const lines: string[] = [];
  const handler = stageHandler(topology, topology.stages[0]!.name, { ports: { store: new MemoryCheckpointStore(), sink: new MemoryTxnSink(kafka), log: new MemoryTaskLog(kafka) }, now: () => AT, metrics: lineSink((l) => lines.push(l)) });
  const report = await handler(encodeEvent({ source: 'self-managed', bootstrapServers: BROKERS, batches: [{ topic: 'orders', partition: 0, records: orders.map((o, i) => record(i, o)) }] }));
  return { doc: JSON.parse(lines[0]!) as Record<string, unknown>, watermark: report.tasks[0]!.watermark };
}

describe('stage metrics', () => {
  it('emits the counters and values user code records, under the stage’s dimensions', async () => {
    const { doc } = await invoke([
      { id: 'o1', amount: 40, at: AT - 10_000 },
      { id: 'o2', amount: 250, at: AT - 9_000 },
    ]);
    expect(doc['app']).toBe('shop');
    expect(doc['stage']).toBe('orders');
    expect(doc['orders']).toBe(2);
    expect(doc['large-orders']).toBe(1);
    expect(doc['order-amount']).toEqual([40, 250]);
    const declared = (doc['_aws'] as { CloudWatchMetrics: Array<{ Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> }).CloudWatchMetrics[0]!;
    expect(declared.Dimensions).toEqual([['app', 'stage']]);
    expect(declared.Metrics).toEqual(expect.arrayContaining([{ Name: 'orders', Unit: 'Count' }, { Name: 'order-amount', Unit: 'None' }]));
  });

  it('emits CommitDuration for a committed batch and WatermarkLag from the task’s watermark', async () => {
    const { doc, watermark } = await invoke([{ id: 'o1', amount: 40, at: AT - 10_000 }]);
    expect(doc['CommitDuration']).toBe(0); // the test clock stands still
    expect(watermark).toBeLessThanOrEqual(AT - 12_000);
    expect(doc['WatermarkLag']).toBe(AT - watermark);
  });
});
