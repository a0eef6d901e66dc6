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
  /** Seconds between ticks within one run; equal to the period: one tick per run. */
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
  /** Memory of each stage function, MB (Lambda gives one vCPU at 1,769 MB, CPU in proportion below). */
  readonly memorySizeMb: number;
  readonly architecture: Architecture;
  readonly ticker: TickerDefaults;
}

/** Lambda's batching window for Kafka triggers when MaximumBatchingWindowInSeconds is not set. */
export const LAMBDA_DEFAULT_BATCHING_WINDOW_SECONDS = 0.5;

/** The defaults every Sluice deployment and local run uses (chosen from bench sweeps: docs/benchmarks.md). */
export const DEPLOY_DEFAULTS: DeployDefaults = {
  batchSize: 500,
  batchingWindowSeconds: LAMBDA_DEFAULT_BATCHING_WINDOW_SECONDS,
  memorySizeMb: 1769,
  architecture: 'arm64',
  ticker: { rate: '1 minute', periodSeconds: 60, intervalSeconds: 5, memorySizeMb: 256 },
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

/** The trigger settings a local run (the ESM emulator) uses: the deployed defaults, in milliseconds. */
export function localTriggerDefaults(d: DeployDefaults = DEPLOY_DEFAULTS): { readonly batchSize: number; readonly batchingWindowMs: number; readonly tickIntervalMs: number } {
  return { batchSize: d.batchSize, batchingWindowMs: Math.round(d.batchingWindowSeconds * 1000), tickIntervalMs: d.ticker.intervalSeconds * 1000 };
}
