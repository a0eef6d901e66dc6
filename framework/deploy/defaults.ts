/**
 * The deployment defaults of a Sluice app, in one place: what the Serverless plugin sets when
 * `custom.sluice` leaves a setting out, and what every local run uses (`sluice dev`, the demo,
 * the benchmark), so what is measured here is what gets deployed — no bench-only tuning.
 *
 * The values come from the benchmark's sweeps (`npm run bench -- --sweep batch-size`,
 * `--sweep batching-window`); docs/benchmarks.md shows the measurements and the trade-off
 * (cost per event against the latency a batch adds).
 */
import { ConfigError } from '../errors.js';
import type { TopicRole } from '../topology/topology.js';

/** Instruction set of a function. arm64 (Graviton) costs about 20 % less per GB-second than x86_64. */
export type Architecture = 'arm64' | 'x86_64';

/** Every architecture Lambda runs. */
export const ARCHITECTURES: readonly Architecture[] = ['arm64', 'x86_64'];

/** The ticker function's schedule and size. */
export interface TickerDefaults {
  /** EventBridge rate expression of its schedule (one minute is EventBridge's finest). */
  readonly rate: string;
  /** The rate's period, seconds. */
  readonly periodSeconds: number;
  /** Seconds between passes within one run; equal to the period: one pass per run (settings.ts's default too). */
  readonly intervalSeconds: number;
  readonly memorySizeMb: number;
}

/** What a deployment gets unless `custom.sluice` says otherwise. */
export interface DeployDefaults {
  /** Records per invocation over all partitions it carries (Lambda: 1–10,000; Lambda's own default is 100). */
  readonly batchSize: number;
  /**
   * MaximumBatchingWindowInSeconds: how long Lambda gathers records before it invokes. 0.5 is
   * Lambda's default for Kafka and can only be had by leaving the property out (CloudFormation
   * takes whole seconds, 0–300); any other value must be a whole number.
   */
  readonly batchingWindowSeconds: number;
  /**
   * The batching window of triggers on the topics Sluice writes between stages (internal data
   * topics and control topics). Their records come in bursts, one per upstream commit, so waiting
   * again gathers little and adds a window of latency to every hop; 0 invokes once a burst is there.
   */
  readonly internalBatchingWindowSeconds: number;
  /** Memory of each stage function, MB (Lambda gives one vCPU at 1,769 MB, CPU in proportion below). */
  readonly memorySizeMb: number;
  readonly architecture: Architecture;
  readonly ticker: TickerDefaults;
}

/** Lambda's batching window for Kafka triggers when MaximumBatchingWindowInSeconds is not set. */
export const LAMBDA_DEFAULT_BATCHING_WINDOW_SECONDS = 0.5;

/**
 * The defaults every Sluice deployment and local run uses, chosen from bench sweeps
 * (docs/benchmarks.md, "Deployment defaults"):
 *  - BatchSize 10,000 (Lambda's maximum; the 6 MB payload caps it sooner for large records): a
 *    batch fills only from a backlog — below 20,000 records/s per partition the window closes it
 *    first — and then the largest batches cost least per event (YSB: 2.0 DynamoDB write units
 *    per 1,000 events against 11.5 at 500) and drain fastest;
 *  - batching window 0.5 s (Lambda's default) on source topics: 1 s cost 21 % less at 1,000
 *    events/s and 30 % less at 10 events/s but doubled the latency a window adds (stage-added p50
 *    0.7 → 1.5 s); 0 on the topics Sluice writes between stages (internal and control): the
 *    upstream commit already batched them, and a second window on every hop doubled the latency
 *    a pipeline adds;
 *  - 1,024 MB: about 20 % less per event than 1,769 MB (one vCPU) with the CPU part of a batch
 *    stretched 1.7×; the largest container peaked at 236 MiB;
 *  - arm64: the bundles are plain JavaScript, and a GB-second costs 20 % less than on x86_64.
 */
export const DEPLOY_DEFAULTS: DeployDefaults = {
  batchSize: 10_000,
  batchingWindowSeconds: LAMBDA_DEFAULT_BATCHING_WINDOW_SECONDS,
  internalBatchingWindowSeconds: 0,
  memorySizeMb: 1024,
  architecture: 'arm64',
  // One pass a minute (EventBridge's finest schedule), ticking only the tasks that are due.
  ticker: { rate: '1 minute', periodSeconds: 60, intervalSeconds: 60, memorySizeMb: 256 },
};

/**
 * The MaximumBatchingWindowInSeconds property for a window: undefined (leave it out) for Lambda's
 * 0.5 s default, else the whole number of seconds; throws ConfigError for anything Lambda refuses.
 */
export function batchingWindowProperty(seconds: number, field = 'maximumBatchingWindow'): number | undefined {
  if (seconds === LAMBDA_DEFAULT_BATCHING_WINDOW_SECONDS) return undefined;
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > 300) {
    throw new ConfigError(`${field}: ${seconds} s is not a batching window Lambda accepts`, { field }, 'whole seconds from 0 to 300, or 0.5 (Lambda’s default, left unset)');
  }
  return seconds;
}

/** The default batching window of a trigger on a topic of `role`: source topics get Lambda's, the topics Sluice writes between stages their own (pure). */
export function defaultBatchingWindowSeconds(role: TopicRole, d: DeployDefaults = DEPLOY_DEFAULTS): number {
  return role === 'source' ? d.batchingWindowSeconds : d.internalBatchingWindowSeconds;
}

/** The trigger settings a local run (the ESM emulator) uses: the deployed defaults, in milliseconds. */
export function localTriggerDefaults(d: DeployDefaults = DEPLOY_DEFAULTS): { readonly batchSize: number; readonly batchingWindowMs: number; readonly internalBatchingWindowMs: number; readonly tickIntervalMs: number } {
  return {
    batchSize: d.batchSize,
    batchingWindowMs: Math.round(d.batchingWindowSeconds * 1000),
    internalBatchingWindowMs: Math.round(d.internalBatchingWindowSeconds * 1000),
    tickIntervalMs: d.ticker.intervalSeconds * 1000,
  };
}
