/**
 * The Kafka-trigger part of `custom.sluice`: batching, provisioned pollers and on-failure
 * destinations for every stage (root keys) or one stage (`stages.<name>`), and where each source
 * topic's trigger starts (`startingPosition`, `sources.<topic>`). Parsed here into typed settings;
 * event-source-mappings.ts turns them into `AWS::Lambda::EventSourceMapping` resources.
 */
import { ConfigError } from '../errors.js';
import { known, object, optionalInt, requiredString } from './config-checks.js';
import type { Architecture } from './defaults.js';
import { ARCHITECTURES } from './defaults.js';

/** Where a trigger starts reading a topic it has no committed offset for. */
export type StartingPosition = 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';

/** Where a source topic's trigger starts. */
export interface SourcePosition {
  readonly startingPosition: StartingPosition;
  /** Unix seconds; only with AT_TIMESTAMP. */
  readonly startingPositionTimestamp?: number;
}

/**
 * Provisioned mode: pollers kept ready (billed per event-poller-unit hour) instead of Lambda's
 * on-demand scaling. `pollerGroup` names the group of triggers that share event poller units:
 * `app` (default: every trigger of the deployment, so each stage's data and control triggers and
 * all stages share; AWS suggests grouping by application), `stage` (one group per stage: its data
 * and control triggers), `none` (each trigger its own units), or any other name, used as given.
 */
export interface ProvisionedSettings {
  readonly minimumPollers: number;
  /** undefined: the topic's partition count (Lambda never runs more pollers than partitions). */
  readonly maximumPollers: number | undefined;
  readonly pollerGroup: string;
}

/** Where Lambda sends a batch it gave up on, and after how many retries. */
export interface OnFailureSettings {
  /** `kafka://<topic>` (same cluster) or the ARN of an SQS queue, SNS topic or S3 bucket. */
  readonly destination: string;
  /** undefined: Lambda's default (unbounded; 10 when a destination is set, as AWS documents it). */
  readonly maximumRetryAttempts: number | undefined;
}

/** The settings of one stage's triggers (after merging the root defaults with `stages.<name>`). */
export interface TriggerSettings {
  readonly batchSize: number | undefined;
  readonly maximumBatchingWindow: number | undefined;
  readonly provisioned: ProvisionedSettings | undefined;
  readonly onFailure: OnFailureSettings | undefined;
  readonly memorySize: number | undefined;
  readonly architecture: Architecture | undefined;
}

/** A stage's own settings: each key present overrides the root's (`false` turns a root setting off). */
export interface StageOverrides {
  readonly batchSize?: number;
  readonly maximumBatchingWindow?: number;
  readonly provisioned?: ProvisionedSettings | false;
  readonly onFailure?: OnFailureSettings | false;
  readonly memorySize?: number;
  readonly architecture?: Architecture;
}

/** Every trigger setting of a deployment. */
export interface TriggersSettings {
  readonly defaults: TriggerSettings;
  /** By stage name; checked against the topology when the deployment is built. */
  readonly stages: Readonly<Record<string, StageOverrides>>;
  /** Where source topics without an entry in `sources` start. */
  readonly startingPosition: SourcePosition;
  /** By source topic name; checked against the topology when the deployment is built. */
  readonly sources: Readonly<Record<string, SourcePosition>>;
}

/** Keys of `custom.sluice` this file reads. */
export const TRIGGER_KEYS = ['batchSize', 'maximumBatchingWindow', 'startingPosition', 'startingPositionTimestamp', 'provisioned', 'onFailure', 'memorySize', 'architecture', 'sources', 'stages'] as const;
/** Keys of `custom.sluice.stages.<stage>`. */
export const STAGE_KEYS = ['batchSize', 'maximumBatchingWindow', 'provisioned', 'onFailure', 'memorySize', 'architecture'] as const;

/** Poller group names Lambda accepts. */
export const POLLER_GROUP_NAME = /^[A-Za-z0-9_-]{1,128}$/;
/** On-failure destinations Lambda's Kafka triggers accept. */
export const ON_FAILURE_DESTINATION = /^(kafka:\/\/[A-Za-z0-9._-]{1,249}|arn:aws[a-z-]*:(sqs|sns):[a-z0-9-]+:\d{12}:[A-Za-z0-9._-]+|arn:aws[a-z-]*:s3:::[a-z0-9.-]{3,63})$/;

/** Reads the trigger settings from the root of `custom.sluice` (`root` is that mapping, `path` its name). */
export function parseTriggerSettings(root: Record<string, unknown>, path: string): TriggersSettings {
  const defaults: TriggerSettings = {
    batchSize: batchSize(root['batchSize'], `${path}.batchSize`),
    maximumBatchingWindow: batchingWindow(root['maximumBatchingWindow'], `${path}.maximumBatchingWindow`),
    provisioned: root['provisioned'] === undefined || root['provisioned'] === false ? undefined : provisioned(root['provisioned'], `${path}.provisioned`),
    onFailure: root['onFailure'] === undefined || root['onFailure'] === false ? undefined : onFailure(root['onFailure'], `${path}.onFailure`),
    memorySize: memorySize(root['memorySize'], `${path}.memorySize`),
    architecture: architecture(root['architecture'], `${path}.architecture`),
  };
  const stages: Record<string, StageOverrides> = {};
  if (root['stages'] !== undefined) {
    for (const [name, raw] of Object.entries(object(root['stages'], `${path}.stages`))) stages[name] = stageOverrides(raw, `${path}.stages.${name}`);
  }
  const sources: Record<string, SourcePosition> = {};
  if (root['sources'] !== undefined) {
    for (const [topic, raw] of Object.entries(object(root['sources'], `${path}.sources`))) {
      const field = `${path}.sources.${topic}`;
      const s = object(raw, field);
      known(s, field, ['startingPosition', 'startingPositionTimestamp']);
      sources[topic] = sourcePosition(s['startingPosition'], s['startingPositionTimestamp'], field);
    }
  }
  const startingPosition = sourcePosition(root['startingPosition'] ?? 'TRIM_HORIZON', root['startingPositionTimestamp'], path);
  return { defaults, stages, startingPosition, sources };
}

/** The settings of one stage's triggers: the root defaults with the stage's own settings on top. */
export function stageTriggers(settings: TriggersSettings, stage: string): TriggerSettings {
  const own = settings.stages[stage] ?? {};
  const d = settings.defaults;
  return {
    batchSize: own.batchSize ?? d.batchSize,
    maximumBatchingWindow: own.maximumBatchingWindow ?? d.maximumBatchingWindow,
    provisioned: own.provisioned === false ? undefined : (own.provisioned ?? d.provisioned),
    onFailure: own.onFailure === false ? undefined : (own.onFailure ?? d.onFailure),
    memorySize: own.memorySize ?? d.memorySize,
    architecture: own.architecture ?? d.architecture,
  };
}

/** Where a source topic's trigger starts. */
export function sourceStart(settings: TriggersSettings, topic: string): SourcePosition {
  return settings.sources[topic] ?? settings.startingPosition;
}

function stageOverrides(raw: unknown, field: string): StageOverrides {
  const s = object(raw, field);
  known(s, field, STAGE_KEYS);
  const out: { -readonly [K in keyof StageOverrides]: StageOverrides[K] } = {};
  const size = batchSize(s['batchSize'], `${field}.batchSize`);
  if (size !== undefined) out.batchSize = size;
  const window = batchingWindow(s['maximumBatchingWindow'], `${field}.maximumBatchingWindow`);
  if (window !== undefined) out.maximumBatchingWindow = window;
  if (s['provisioned'] !== undefined) out.provisioned = s['provisioned'] === false ? false : provisioned(s['provisioned'], `${field}.provisioned`);
  if (s['onFailure'] !== undefined) out.onFailure = s['onFailure'] === false ? false : onFailure(s['onFailure'], `${field}.onFailure`);
  const memory = memorySize(s['memorySize'], `${field}.memorySize`);
  if (memory !== undefined) out.memorySize = memory;
  const arch = architecture(s['architecture'], `${field}.architecture`);
  if (arch !== undefined) out.architecture = arch;
  return out;
}

function batchSize(raw: unknown, field: string): number | undefined {
  return optionalInt(raw, field, 1, 10_000);
}

/** Lambda takes whole seconds, 0-300 (0: invoke as soon as records arrive). */
function batchingWindow(raw: unknown, field: string): number | undefined {
  return optionalInt(raw, field, 0, 300);
}

function memorySize(raw: unknown, field: string): number | undefined {
  return optionalInt(raw, field, 128, 10_240);
}

function architecture(raw: unknown, field: string): Architecture | undefined {
  if (raw === undefined) return undefined;
  if (!ARCHITECTURES.includes(raw as Architecture)) throw new ConfigError(`${field}: ${JSON.stringify(raw)} is not a Lambda architecture`, { field }, `use ${ARCHITECTURES.join(' or ')}`);
  return raw as Architecture;
}

function provisioned(raw: unknown, field: string): ProvisionedSettings {
  const p = raw === true ? {} : object(raw, field);
  known(p, field, ['minimumPollers', 'maximumPollers', 'pollerGroup']);
  const minimumPollers = optionalInt(p['minimumPollers'], `${field}.minimumPollers`, 1, 200) ?? 1;
  const maximumPollers = optionalInt(p['maximumPollers'], `${field}.maximumPollers`, 1, 2_000);
  if (maximumPollers !== undefined && maximumPollers < minimumPollers) {
    throw new ConfigError(`${field}.maximumPollers (${maximumPollers}) is below minimumPollers (${minimumPollers})`, { field: `${field}.maximumPollers` });
  }
  const pollerGroup = p['pollerGroup'] === undefined ? 'app' : requiredString(p['pollerGroup'], `${field}.pollerGroup`, 'app, stage, none, or a group name');
  if (!POLLER_GROUP_NAME.test(pollerGroup)) {
    throw new ConfigError(`${field}.pollerGroup: ${JSON.stringify(pollerGroup)} is not a poller group name`, { field: `${field}.pollerGroup` }, 'use app, stage, none, or up to 128 letters, digits, - and _');
  }
  return { minimumPollers, maximumPollers, pollerGroup };
}

function onFailure(raw: unknown, field: string): OnFailureSettings {
  const o = typeof raw === 'string' ? { destination: raw } : object(raw, field);
  known(o, field, ['destination', 'maximumRetryAttempts']);
  const destination = requiredString(o['destination'], `${field}.destination`, 'kafka://<topic>, or the ARN of an SQS queue, SNS topic or S3 bucket');
  if (!ON_FAILURE_DESTINATION.test(destination)) {
    throw new ConfigError(
      `${field}.destination: ${JSON.stringify(destination)} is not a destination Lambda's Kafka triggers accept`,
      { field: `${field}.destination` },
      'kafka://<topic> (a topic of the same cluster), or arn:aws:sqs:..., arn:aws:sns:..., arn:aws:s3:::<bucket>',
    );
  }
  return { destination, maximumRetryAttempts: optionalInt(o['maximumRetryAttempts'], `${field}.maximumRetryAttempts`, 0, 10_000) };
}

function sourcePosition(rawPosition: unknown, rawTimestamp: unknown, field: string): SourcePosition {
  const positionField = `${field}.startingPosition`;
  if (rawPosition !== 'TRIM_HORIZON' && rawPosition !== 'LATEST' && rawPosition !== 'AT_TIMESTAMP') {
    throw new ConfigError(`${positionField}: ${JSON.stringify(rawPosition)} is not TRIM_HORIZON, LATEST or AT_TIMESTAMP`, { field: positionField });
  }
  const timestampField = `${field}.startingPositionTimestamp`;
  if (rawPosition !== 'AT_TIMESTAMP') {
    if (rawTimestamp !== undefined) throw new ConfigError(`${timestampField} is set but the starting position is ${rawPosition}`, { field: timestampField }, 'use startingPosition: AT_TIMESTAMP, or drop the timestamp');
    return { startingPosition: rawPosition };
  }
  return { startingPosition: rawPosition, startingPositionTimestamp: timestamp(rawTimestamp, timestampField) };
}

/** Unix seconds, from a number of seconds or an ISO-8601 date-time. */
function timestamp(raw: unknown, field: string): number {
  const seconds = typeof raw === 'string' ? Date.parse(raw) / 1000 : raw;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
    throw new ConfigError(`${field}: ${JSON.stringify(raw)} is not a time`, { field }, 'AT_TIMESTAMP needs unix seconds or an ISO-8601 date-time, e.g. 2026-12-01T00:00:00Z');
  }
  return Math.floor(seconds);
}

