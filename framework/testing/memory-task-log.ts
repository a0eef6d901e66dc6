/** The changelog reader (commit/ports.ts TaskLog) over a MemoryKafka: what a read_committed consumer of the partition sees, up to its last stable offset. */
import type { LogPartition, LogRecord, TaskLog } from '../commit/ports.js';
import type { MemoryKafka } from './memory-kafka.js';

/** Reads task changelogs from the in-memory cluster. */
export class MemoryTaskLog implements TaskLog {
  /** Reads made, for cost assertions. */
  reads = 0;

  constructor(private readonly kafka: MemoryKafka) {}

  async read(at: LogPartition, from: number): Promise<{ readonly records: readonly LogRecord[]; readonly next: number }> {
    this.reads += 1;
    const { records, stable } = this.kafka.readPartition(at.topic, at.partition, from);
    return { records: records.map((r) => ({ offset: r.offset, value: r.value })), next: Math.max(from, stable) };
  }

  async trim(at: LogPartition, before: number): Promise<void> {
    this.kafka.deleteRecords(at.topic, at.partition, before);
  }
}
