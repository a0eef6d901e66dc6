/**
 * The port through which a source task asks whether its input partition still holds records it
 * has not read, before it turns idle (watermark.ts `observeSourceTick`). Adapter:
 * kafka/backlog-probe.ts. Without one (the in-memory harness, whose deliveries are synchronous)
 * a quiet partition is taken as read to its end.
 */
import type { TaskRef } from '../commit/ports.js';

/** Whether a source partition still holds records its task has not read. */
export interface BacklogProbe {
  /**
   * Whether the task's input partition (`task.topic`/`task.partition`) holds a committed record
   * at offset `from` or later (`from`: the task's next offset; -1 when it has read nothing yet,
   * then from where its trigger starts, if the probe knows): what a read_committed reader would get. Transaction markers, records of
   * aborted transactions and of a transaction still open do not count (like Flink's Kafka source,
   * which cannot read past an open transaction either); records that commit later make an idle
   * partition active again. May answer true when it cannot tell in time: turning idle a tick later
   * is harmless, too early is not.
   */
  unread(task: TaskRef, from: number): Promise<boolean>;
}
