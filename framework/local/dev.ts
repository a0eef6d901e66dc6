/**
 * Runs a whole pipeline locally the way AWS would: one emulated Kafka trigger per stage
 * input topic and per control topic, the ticker, and an invoker that calls the stage
 * handlers (in-process by default, or through a Lambda Invoke API). Used by `sluice dev`,
 * the demo and the integration tests.
 */
import { ChangelogTimesReader } from '../commit/changelog-times.js';
import { KafkajsChangelogReader } from '../kafka/changelog-reader.js';
import type { TaskStore } from '../commit/ports.js';
import type { Kafka } from 'kafkajs';
import type { Topology } from '../topology/topology.js';
import { ensureTopics } from '../kafka/admin.js';
import { managedTopicConfigs } from '../topology/names.js';
import { ConfigError } from '../errors.js';
import { KafkaTickWriter } from '../kafka/tick-writer.js';
import { runTicker, type TaskTimesReader, type TickerReport } from '../time/ticker.js';
import type { InvocationInfo, MappingOptions } from './esm/mapping.js';
import { EventSourceMapping } from './esm/mapping.js';
import type { Invoker } from './esm/invoker.js';
import { defaultBatchingWindowSeconds, localTriggerDefaults } from '../deploy/defaults.js';

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
  /**
   * The batching window of the triggers on source topics (default: the deployed default, 0.5 s).
   * Given alone, every trigger's, as an explicit `maximumBatchingWindow` deploys.
   */
  readonly batchingWindowMs?: number;
  /** The batching window of the triggers on the topics Sluice writes between stages, internal and control (default: the deployed default, 0). */
  readonly internalBatchingWindowMs?: number;
  /** A ticker pass every this many ms (default 1 s; a deployment passes once a minute); 0 disables the ticker. */
  readonly tickIntervalMs?: number;
  /**
   * Where the ticker reads the tasks' checkpoints (the app's DynamoTaskStore); needed unless the
   * ticker is off. For a pipeline with commit: 'changelog' a store given here is read with the
   * tasks' changelogs (commit/changelog-times.ts).
   */
  readonly taskTimes?: TaskTimesReader | (TaskTimesReader & Pick<TaskStore, 'readCheckpoint'>);
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
  private ticker: Promise<TickerReport> | undefined;
  private stopped = false;
  /** What the ticker did so far: passes (as many as a deployment's scheduled runs would be), tasks read, ticks written. */
  readonly tickerStats = { passes: 0, failedPasses: 0, tasksRead: 0, ticks: 0 };

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
    // The deployed default by the topic's role (defaults.ts decides, as for the plugin), unless given.
    const roles = new Map(o.topology.topics.map((t) => [t.name, t.role]));
    const windowOf = (topic: string): number => {
      const role = roles.get(topic) ?? 'source';
      const given = role === 'source' ? o.batchingWindowMs : (o.internalBatchingWindowMs ?? o.batchingWindowMs);
      return given ?? Math.round(defaultBatchingWindowSeconds(role) * 1000);
    };
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
          batchingWindowMs: windowOf(topic),
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
    // Locally a pass a second, so idle partitions and timers do not wait a minute (a deployment: DEPLOY_DEFAULTS.ticker).
    const interval = o.tickIntervalMs ?? 1_000;
    if (interval > 0) {
      if (!o.taskTimes) throw new ConfigError('the local ticker needs taskTimes (where to read the checkpoints)', { field: 'taskTimes' }, 'pass the DynamoTaskStore of the app table, or tickIntervalMs: 0');
      const stats = this.tickerStats;
      const log = o.topology.settings.commit === 'changelog' && 'readCheckpoint' in o.taskTimes ? new KafkajsChangelogReader(o.kafka) : undefined;
      const times = log && 'readCheckpoint' in o.taskTimes ? new ChangelogTimesReader(o.taskTimes, log, o.topology) : o.taskTimes;
      this.ticker = runTicker(times, new KafkaTickWriter(o.kafka), o.topology, {
        intervalMs: interval,
        durationMs: Number.MAX_SAFE_INTEGER,
        stopped: () => this.stopped,
        onPassError: (error) => {
          stats.failedPasses += 1;
          console.warn(`[sluice] ticker pass failed (retried next pass): ${error instanceof Error ? error.message : String(error)}`);
        },
        onPass: (p) => {
          stats.passes += 1;
          stats.tasksRead += p.tasksRead;
          stats.ticks += p.ticks;
        },
      });
      this.ticker.catch(() => undefined);
      if (log) this.ticker = this.ticker.finally(() => log.close());
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
