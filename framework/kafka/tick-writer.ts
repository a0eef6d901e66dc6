/**
 * The ticker's Kafka adapter (time/ticker.ts TickWriter): an idempotent producer, connected on the
 * first write only, so a ticker pass with nothing due never touches the cluster.
 */
import type { Kafka, Producer } from 'kafkajs';
import type { OutgoingRecord } from '../record/record.js';
import type { TickWriter } from '../time/ticker.js';

/** Writes ticks with an idempotent producer of `kafka`. */
export class KafkaTickWriter implements TickWriter {
  private producer: Producer | undefined;

  constructor(private readonly kafka: Kafka) {}

  async write(records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    if (!this.producer) {
      const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      this.producer = producer;
    }
    const byTopic = new Map<string, OutgoingRecord[]>();
    for (const r of records) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
    await this.producer.sendBatch({
      topicMessages: [...byTopic].map(([topic, rs]) => ({ topic, messages: rs.map((r) => ({ ...(r.partition !== undefined ? { partition: r.partition } : {}), value: r.value })) })),
    });
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect();
  }
}
