/**
 * The ticker: writes processing-time ticks to every partition of the control topic of
 * every source stage and every stage with timers. Ticks wake source tasks that get no data, so they can declare their
 * partition idle (and downstream windows still fire) and fire processing-time timers.
 * EventBridge schedules run at most once a minute, so one ticker invocation may loop,
 * ticking every `intervalMs` until just before its time is up.
 */
import type { Kafka, Producer } from 'kafkajs';
import type { OutgoingRecord } from '../kafka/record.js';
import type { Topology } from '../topology/topology.js';
import { controlRecord } from './control.js';

/** The tick records for one tick at `now`: one per control partition of each source stage and each stage with timers. */
export function tickRecords(topology: Topology, now: number): OutgoingRecord[] {
  const out: OutgoingRecord[] = [];
  for (const stage of topology.stages) {
    // Sources need ticks to notice idleness; event-time stages to fire processing-time timers.
    if (!stage.inputs.some((i) => i.kind === 'source') && !stage.eventTime) continue;
    const partitions = topology.topics.find((t) => t.name === stage.controlTopic)!.partitions;
    for (let p = 0; p < partitions; p += 1) out.push(controlRecord(stage.controlTopic, p, { kind: 'tick', tick: now }));
  }
  return out;
}

/** Options of a ticker run. */
export interface TickerOptions {
  /** Time between ticks (default 5 s). */
  readonly intervalMs?: number;
  /** How long to keep ticking (default: one tick). */
  readonly durationMs?: number;
  readonly now?: () => number;
  /** Stops early when it returns true (e.g. the local emulator shutting down). */
  readonly stopped?: () => boolean;
}

/** Writes ticks with an idempotent producer for `durationMs`; returns how many ticks were written. */
export async function runTicker(kafka: Kafka, topology: Topology, options: TickerOptions = {}): Promise<number> {
  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? 5_000;
  const until = now() + (options.durationMs ?? 0);
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let ticks = 0;
  try {
    for (;;) {
      const records = tickRecords(topology, now());
      const byTopic = new Map<string, OutgoingRecord[]>();
      for (const r of records) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
      await producer.sendBatch({
        topicMessages: [...byTopic].map(([topic, rs]) => ({ topic, messages: rs.map((r) => ({ partition: r.partition, value: r.value })) })),
      });
      ticks += 1;
      if (now() + interval > until || options.stopped?.()) break;
      await new Promise((r) => setTimeout(r, interval));
      if (options.stopped?.()) break;
    }
  } finally {
    await producer.disconnect();
  }
  return ticks;
}
