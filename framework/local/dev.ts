/**
 * Runs a whole pipeline locally the way AWS would: one emulated Kafka trigger per stage
 * input topic and per control topic, the ticker, and an invoker that calls the stage
 * handlers (in-process by default, or through a Lambda Invoke API). Used by `sluice dev`,
 * the demo and the integration tests.
 */
import type { Kafka } from 'kafkajs';
import type { Topology } from '../topology/topology.js';
import { ensureTopics } from '../kafka/admin.js';
import { managedTopicConfigs } from '../topology/names.js';
import { runTicker } from '../time/ticker.js';
import type { InvocationInfo, MappingOptions } from './esm/mapping.js';
import { EventSourceMapping } from './esm/mapping.js';
import type { Invoker } from './esm/invoker.js';
import { localTriggerDefaults } from '../deploy/defaults.js';

/** Options of a local run. */
export interface LocalRunOptions {
  readonly topology: Topology;
  readonly kafka: Kafka;
  readonly brokers: readonly string[];
  readonly invoker: Invoker;
  /** Function name of a stage for the invoker (default: the stage name). */
  readonly functionName?: (stage: string) => string;
  /** Records per invocation (default: the deployed default, framework/deploy/defaults.ts). */
  readonly batchSize?: number;
  /** The triggers' batching window (default: the deployed default). */
  readonly batchingWindowMs?: number;
  /** Ticks every this many ms (default: the deployed ticker's interval); 0 disables the ticker. */
  readonly tickIntervalMs?: number;
  /** Consumer group prefix (default `sluice-local-<app>`), so runs can start over with a new one. */
  readonly groupPrefix?: string;
  readonly eventSource?: 'msk' | 'self-managed';
  readonly maxRetries?: number;
  /** Several partitions per invocation, as Lambda does (default true); false: one partition per invocation. */
  readonly bundlePartitions?: boolean;
  readonly onInvocation?: (info: InvocationInfo) => void;
}

/** A running local pipeline. */
export class LocalRun {
  readonly mappings: EventSourceMapping[] = [];
  private ticker: Promise<number> | undefined;
  private stopped = false;

  constructor(private readonly options: LocalRunOptions) {}

  /** Creates the managed topics, starts every trigger and the ticker. */
  async start(): Promise<void> {
    const o = this.options;
    const admin = o.kafka.admin();
    await admin.connect();
    try {
      const topics = o.topology.topics.filter((t) => t.managed).map((t) => ({ topic: t.name, partitions: t.partitions, configs: managedTopicConfigs(t.role) }));
      await ensureTopics(admin, topics);
    } finally {
      await admin.disconnect();
    }
    // What the Serverless plugin deploys, unless the caller says otherwise.
    const defaults = localTriggerDefaults();
    for (const stage of o.topology.stages) {
      const fn = o.functionName?.(stage.name) ?? stage.name;
      for (const topic of [...stage.inputs.map((i) => i.topic), stage.controlTopic]) {
        const options: MappingOptions = {
          kafka: o.kafka,
          brokers: o.brokers,
          topic,
          functionName: fn,
          invoker: o.invoker,
          groupId: `${o.groupPrefix ?? `sluice-local-${o.topology.app}`}-${stage.name}-${topic}`,
          batchSize: o.batchSize ?? defaults.batchSize,
          batchingWindowMs: o.batchingWindowMs ?? defaults.batchingWindowMs,
          ...(o.eventSource ? { eventSource: o.eventSource } : {}),
          ...(o.maxRetries !== undefined ? { maxRetries: o.maxRetries } : {}),
          ...(o.bundlePartitions !== undefined ? { bundlePartitions: o.bundlePartitions } : {}),
          ...(o.onInvocation ? { onInvocation: o.onInvocation } : {}),
        };
        const m = new EventSourceMapping(options);
        this.mappings.push(m);
        await m.start();
      }
    }
    const interval = o.tickIntervalMs ?? defaults.tickIntervalMs;
    if (interval > 0) {
      this.ticker = runTicker(o.kafka, o.topology, { intervalMs: interval, durationMs: Number.MAX_SAFE_INTEGER, stopped: () => this.stopped });
      this.ticker.catch(() => undefined);
    }
  }

  /** Waits until every trigger has consumed its topic up to the end it has now. */
  async waitForCatchUp(timeoutMs = 60_000): Promise<void> {
    for (const m of this.mappings) await m.waitForCatchUp(timeoutMs);
  }

  /** Waits until all triggers stay caught up through `rounds` consecutive checks (outputs feed later stages). */
  async settle(rounds = 2, timeoutMs = 120_000): Promise<void> {
    for (let i = 0; i < rounds * this.options.topology.stages.length + 1; i += 1) await this.waitForCatchUp(timeoutMs);
  }

  /** Stops the ticker and every trigger. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.ticker?.catch(() => undefined);
    for (const m of this.mappings) await m.stop();
  }
}
