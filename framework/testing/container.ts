/**
 * One Lambda container of a stage, in memory: the stage's real handler (`stageHandler`) over
 * in-memory ports, invoked with the JSON event Lambda's Kafka trigger would send. The harness
 * builds a new one to simulate a cold start; the handler keeps its warm memory inside, as the
 * module scope of a real container does.
 */
import type { BacklogProbe } from '../time/backlog.js';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { CompactionPolicy } from '../commit/checkpoint.js';
import type { FaultHook } from '../commit/ports.js';
import { encodeEvent } from '../lambda/decode.js';
import type { LambdaKafkaEvent } from '../lambda/event.js';
import type { EmfDocument, InvocationFigures, MetricsSink } from '../ops/metrics.js';
import type { PartitionBatch } from '../record/record.js';
import type { InvocationReport } from '../runtime/handler.js';
import { stageHandler } from '../runtime/handler.js';
import type { Stage, Topology } from '../topology/topology.js';
import { MemoryTaskLog } from './memory-task-log.js';
import { MemoryTxnSink, type MemoryKafka } from './memory-kafka.js';
import type { MemoryCheckpointStore } from './memory-store.js';

/** What the handler recorded as metrics for one invocation: its figures and the EMF document built from them. */
export interface HarnessMetrics {
  readonly figures: InvocationFigures;
  readonly emf: EmfDocument;
}

/** One invocation of the stage's handler: the event it got, and what it returned or threw. */
export type HarnessInvocation =
  | { readonly ok: true; readonly event: LambdaKafkaEvent; readonly report: InvocationReport; readonly metrics: HarnessMetrics }
  | { readonly ok: false; readonly event: LambdaKafkaEvent; readonly error: unknown; readonly metrics: HarnessMetrics };

/** How the harness's handlers run (the handler options a test may set). */
export interface ContainerOptions {
  readonly now: () => number;
  readonly fault: FaultHook | undefined;
  readonly compaction: CompactionPolicy | undefined;
  readonly metrics: MetricsSink | undefined;
  readonly logger: Logger | undefined;
  readonly raceRetries: number | undefined;
  readonly pendingGraceMs: number;
  readonly backlog: BacklogProbe | undefined;
}

/** Invokes one container's handler; never throws: a failure is an invocation with `ok: false`. */
export type Container = (event: LambdaKafkaEvent) => Promise<HarnessInvocation>;

/** A fresh container of `stage` (cold: new producers, no warm tasks) over the shared in-memory Kafka and store. */
export function memoryContainer(topology: Topology, stage: Stage, kafka: MemoryKafka, store: MemoryCheckpointStore, options: ContainerOptions): Container {
  // Invocations run one at a time, so the figures recorded last belong to the running one.
  let recorded: HarnessMetrics | undefined;
  const handler = stageHandler(topology, stage.name, {
    ports: { store, sink: new MemoryTxnSink(kafka), log: new MemoryTaskLog(kafka), ...(options.backlog ? { backlog: options.backlog } : {}) },
    now: options.now,
    ...(options.fault ? { fault: options.fault } : {}),
    ...(options.compaction ? { compaction: options.compaction } : {}),
    metrics: {
      record: (figures, emf) => {
        recorded = { figures, emf };
        options.metrics?.record(figures, emf);
      },
    },
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.raceRetries !== undefined ? { raceRetries: options.raceRetries } : {}),
    pendingGraceMs: options.pendingGraceMs,
  });
  return async (event) => {
    recorded = undefined;
    // The event crosses into Lambda as JSON: whatever does not survive that must not reach the handler.
    const sent = JSON.parse(JSON.stringify(event)) as LambdaKafkaEvent;
    const metrics = (): HarnessMetrics => {
      if (!recorded) throw new Error('the stage handler recorded no metrics for its invocation');
      return recorded;
    };
    try {
      const report = await handler(sent);
      return { ok: true, event: sent, report, metrics: metrics() };
    } catch (error) {
      return { ok: false, event: sent, error, metrics: metrics() };
    }
  };
}

/** The event an MSK trigger sends for these batches (one per partition). */
export function harnessEvent(batches: readonly PartitionBatch[]): LambdaKafkaEvent {
  return encodeEvent({ source: 'msk', eventSourceArn: HARNESS_CLUSTER_ARN, bootstrapServers: HARNESS_BROKERS, batches });
}

/** The MSK cluster the harness's events name (the handler uses its ports, never this cluster). */
export const HARNESS_CLUSTER_ARN = 'arn:aws:kafka:us-east-1:000000000000:cluster/sluice-harness/00000000-0000-0000-0000-000000000000-1';
const HARNESS_BROKERS = ['b-1.sluice-harness.memory:9098'];
