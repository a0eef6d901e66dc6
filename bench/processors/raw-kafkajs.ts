/**
 * The raw kafkajs baseline (child process): what a hand-written exactly-once stateless stage on
 * the same client looks like, without any framework —
 *
 *   consume (read_committed, no auto-commit) → per chunk of `batchSize` records:
 *   parse + validate (the same zod schema as the YSB source) → keep views → project → campaign
 *   lookup → one Kafka transaction: send the views keyed by campaign, sendOffsets, commit.
 *
 * One transactional producer per input partition (the transactional id fences zombies of that
 * partition, as in Kafka's EOS v1 pattern), partitions processed concurrently. No state, no
 * DynamoDB: the practical limit of this stack for a stateless exactly-once stage.
 */
import type { Message, Producer, Transaction } from 'kafkajs';
import { createKafka } from '../../framework/kafka/client.js';
import { PRODUCER_RETRY } from '../../framework/kafka/txn-sink.js';
import { AdEvent, isView, withCampaign } from '../../functions/ysb/pipeline.js';
import type { ProcessorStats, RawProcessorConfig } from './protocol.js';
import { InputMeter, onParent, runProcessor, toParent } from './protocol.js';

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '') as RawProcessorConfig;
  const kafka = createKafka({ brokers: cfg.brokers, clientId: `raw-${cfg.app}`, logLevel: 'nothing' });
  const groupId = `bench-${cfg.app}`;
  const requestsByClient: Record<string, number> = {};
  const requestsByApi: Record<string, number> = {};
  const count = (role: string, api: string): void => {
    requestsByClient[role] = (requestsByClient[role] ?? 0) + 1;
    const k = `${role}:${api}`;
    requestsByApi[k] = (requestsByApi[k] ?? 0) + 1;
  };
  let transactions = 0;
  let aborts = 0;
  let failures = 0;
  let invalid = 0;
  const errors: string[] = [];

  const producers = new Map<number, Promise<Producer>>();
  const producerFor = (partition: number): Promise<Producer> => {
    let p = producers.get(partition);
    if (!p) {
      const producer = kafka.producer({
        transactionalId: `${cfg.app}.raw.${partition}`,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: cfg.transactionTimeoutMs,
        allowAutoTopicCreation: false,
        retry: PRODUCER_RETRY,
      });
      producer.on(producer.events.REQUEST, (e) => count('producer', e.payload.apiName));
      p = producer.connect().then(() => producer);
      producers.set(partition, p);
    }
    return p;
  };

  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: cfg.batchingWindowMs, sessionTimeout: 30_000, heartbeatInterval: 3_000 });
  consumer.on(consumer.events.REQUEST, (e) => count('consumer', e.payload.apiName));
  await consumer.connect();
  await consumer.subscribe({ topic: cfg.sourceTopic, fromBeginning: true });
  const meter = new InputMeter(cfg.warmupRecords);

  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: cfg.sourcePartitions,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      for (let i = 0; i < batch.messages.length; i += cfg.batchSize) {
        if (!isRunning() || isStale()) return;
        const chunk = batch.messages.slice(i, i + cfg.batchSize);
        meter.taken(batch.partition, Number(chunk[0]!.offset), Number(chunk[chunk.length - 1]!.offset));
        const out: Message[] = [];
        for (const m of chunk) {
          if (!m.value) continue;
          let parsed;
          try {
            parsed = AdEvent.safeParse(JSON.parse(m.value.toString('utf8')));
          } catch {
            invalid += 1;
            continue;
          }
          if (!parsed.success) {
            invalid += 1;
            continue;
          }
          if (!isView(parsed.data)) continue;
          const view = withCampaign({ ad_id: parsed.data.ad_id, event_time: parsed.data.event_time });
          out.push({ key: view.campaign_id, value: JSON.stringify(view), timestamp: String(view.event_time) });
        }
        const next = String(Number(chunk[chunk.length - 1]!.offset) + 1);
        // A failed transaction is aborted and the chunk retried with a fresh producer (kafkajs
        // leaves a producer in a bad state after some errors, e.g. its #1315).
        for (let attempt = 1; ; attempt += 1) {
          const producer = await producerFor(batch.partition);
          let txn: Transaction | undefined;
          try {
            txn = await producer.transaction();
            transactions += 1;
            if (out.length > 0) await txn.send({ topic: cfg.sinkTopic, acks: -1, messages: out });
            await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }] });
            await txn.commit();
            break;
          } catch (error) {
            failures += 1;
            errors.push(error instanceof Error ? error.message : String(error));
            if (errors.length > 10) errors.shift();
            if (txn?.isActive()) {
              aborts += 1;
              await txn.abort().catch(() => undefined);
            }
            producers.delete(batch.partition);
            await producer.disconnect().catch(() => undefined);
            if (attempt >= 5 || !isRunning()) throw error;
            await new Promise((r) => setTimeout(r, 50 * attempt));
          }
        }
        resolveOffset(chunk[chunk.length - 1]!.offset);
        await heartbeat();
      }
    },
  });

  const stats = (): ProcessorStats => ({
    kafka: { requestsByClient: { ...requestsByClient }, requestsByApi: { ...requestsByApi }, transactions, aborts },
    failures,
    errors: invalid > 0 ? [...errors, `${invalid} invalid records skipped`] : [...errors],
  });

  onParent((message) => {
    if (message.type === 'stats') void toParent({ type: 'stats', stats: stats() });
    if (message.type === 'stop') {
      void (async () => {
        await consumer.disconnect().catch(() => undefined);
        await Promise.all([...producers.values()].map((p) => p.then((x) => x.disconnect()).catch(() => undefined)));
        await toParent({ type: 'stats', stats: stats() });
        process.exit(0);
      })();
    }
  });
  await toParent({ type: 'ready' });
}

runProcessor(main);
