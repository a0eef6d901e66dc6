/**
 * `custom.sluice` of a serverless.yml: what the deploy plugin reads, checked once into typed
 * settings. Every problem is a ConfigError naming the setting (`custom.sluice.kafka.clusterArn`),
 * so `serverless package` fails before anything is generated.
 */
import { ConfigError } from '../errors.js';
import { bool, known, object, optionalInt, requiredString, stringList } from './config-checks.js';
import { DEPLOY_DEFAULTS } from './defaults.js';
import type { TriggersSettings } from './trigger-settings.js';
import { parseTriggerSettings, TRIGGER_KEYS } from './trigger-settings.js';

/** Where the VPC-attached parts run: subnets and security groups. */
export interface VpcSettings {
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
}

/** Amazon MSK: the ESM authenticates with IAM unless a SCRAM secret is given. */
export interface MskSettings {
  readonly type: 'msk';
  readonly clusterArn: string;
  readonly cluster: MskClusterRef;
  /** Brokers for functions without a Kafka event (the ticker) and for `sluice topics create`. */
  readonly bootstrapServers: readonly string[] | undefined;
  readonly auth: { readonly saslScram512: string | undefined };
  /** Subnets and security groups the functions run in so their producers reach the brokers. */
  readonly vpc: VpcSettings | undefined;
}

/** Self-managed Kafka, reached directly or through a VPC. */
export interface SelfManagedSettings {
  readonly type: 'self-managed';
  readonly bootstrapServers: readonly string[];
  /** TLS to the brokers; default: on when any auth is set. */
  readonly tls: boolean;
  readonly auth: {
    readonly saslScram512: string | undefined;
    readonly saslScram256: string | undefined;
    /** Secret with `certificate` and `privateKey` (Lambda's CLIENT_CERTIFICATE_TLS_AUTH format). */
    readonly mtls: string | undefined;
    /** Secret with the brokers' root CA `certificate`. */
    readonly rootCa: string | undefined;
    readonly vpc: VpcSettings | undefined;
  };
}

/** The parts of an MSK cluster ARN the IAM resources are built from. */
export interface MskClusterRef {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly name: string;
  readonly uuid: string;
}

/** The ticker that writes processing-time ticks into source stages' control topics. */
export interface TickerSettings {
  /** EventBridge schedule rate, e.g. `1 minute`. */
  readonly rate: string;
  /** Seconds between ticker passes (default: the rate's period, one pass per run); below it, one run passes through the whole period. */
  readonly intervalSeconds: number;
  /** The rate's period in seconds. */
  readonly periodSeconds: number;
}

/** `custom.sluice`, checked. */
export interface DeploySettings {
  /** Module path (relative to the service) and export name of the pipeline. */
  readonly pipeline: { readonly module: string; readonly exportName: string };
  /** Handler per stage name, when not `functions/<app>/<stage>.handler`. */
  readonly handlers: Readonly<Record<string, string>>;
  readonly kafka: MskSettings | SelfManagedSettings;
  readonly table: { readonly name: string | undefined; readonly pointInTimeRecovery: boolean; readonly retain: boolean };
  /** Batching, provisioned pollers, on-failure destinations, starting positions, memory: per stage and source. */
  readonly triggers: TriggersSettings;
  /** `undefined` when the ticker is turned off (`ticker: false`). */
  readonly ticker: TickerSettings | undefined;
  readonly topics: { readonly replicationFactor: number | undefined; readonly configs: Readonly<Record<string, string>> };
}

const ROOT = 'custom.sluice';
/** Every key `custom.sluice` may have (config-schema.ts declares the same to Serverless). */
export const ROOT_KEYS: readonly string[] = ['pipeline', 'handlers', 'kafka', 'table', 'ticker', 'topics', ...TRIGGER_KEYS];

/** MSK cluster ARNs: `arn:<partition>:kafka:<region>:<account>:cluster/<name>/<uuid>`. */
const CLUSTER_ARN = /^arn:(aws[a-z-]*):kafka:([a-z0-9-]+):(\d{12}):cluster\/([A-Za-z0-9-]+)\/([A-Za-z0-9-]+)$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;
/** A ticker run that ticks through its period must fit Lambda's 15-minute limit, with room to spare. */
const MAX_TICKER_RUN_SECONDS = 14 * 60;
const RATE = /^(\d+) (minute|minutes|hour|hours|day|days)$/;

/** Checks `custom.sluice` and returns typed settings; throws ConfigError naming the first bad setting. */
export function parseDeploySettings(raw: unknown): DeploySettings {
  if (raw === undefined || raw === null) {
    throw new ConfigError(`${ROOT} is missing`, { field: ROOT }, "add custom.sluice with at least `pipeline: <module>#<export>` and `kafka`");
  }
  const root = object(raw, ROOT);
  known(root, ROOT, ROOT_KEYS);
  return {
    pipeline: pipelineRef(root['pipeline']),
    handlers: handlers(root['handlers']),
    kafka: kafka(root['kafka']),
    table: table(root['table']),
    triggers: parseTriggerSettings(root, ROOT),
    ticker: ticker(root['ticker']),
    topics: topics(root['topics']),
  };
}

/** Splits an MSK cluster ARN; throws ConfigError naming `field` if it is not one. */
export function parseClusterArn(arn: string, field: string): MskClusterRef {
  const m = CLUSTER_ARN.exec(arn);
  if (!m) {
    throw new ConfigError(`${field}: ${JSON.stringify(arn)} is not an MSK cluster ARN`, { field }, 'use the literal ARN arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid> (topic and group ARNs are derived from it)');
  }
  return { partition: m[1]!, region: m[2]!, account: m[3]!, name: m[4]!, uuid: m[5]! };
}

function pipelineRef(raw: unknown): DeploySettings['pipeline'] {
  const field = `${ROOT}.pipeline`;
  const value = requiredString(raw, field, "e.g. 'functions/clickstream/pipeline.ts#clickstream'");
  const hash = value.lastIndexOf('#');
  const module = hash < 0 ? value : value.slice(0, hash);
  const exportName = hash < 0 ? '' : value.slice(hash + 1);
  if (module === '' || !/^[A-Za-z_$][\w$]*$/.test(exportName)) {
    throw new ConfigError(`${field}: ${JSON.stringify(value)} is not <module path>#<export name>`, { field }, "e.g. 'functions/clickstream/pipeline.ts#clickstream'");
  }
  return { module, exportName };
}

function handlers(raw: unknown): Record<string, string> {
  if (raw === undefined) return {};
  const field = `${ROOT}.handlers`;
  const map = object(raw, field);
  const out: Record<string, string> = {};
  for (const [stage, handler] of Object.entries(map)) {
    const value = requiredString(handler, `${field}.${stage}`, "a handler like 'functions/app/stage.handler'");
    if (!/^.+\.[A-Za-z_$][\w$]*$/.test(value)) {
      throw new ConfigError(`${field}.${stage}: ${JSON.stringify(value)} is not <module path>.<export>`, { field: `${field}.${stage}` });
    }
    out[stage] = value;
  }
  return out;
}

function kafka(raw: unknown): MskSettings | SelfManagedSettings {
  const field = `${ROOT}.kafka`;
  if (raw === undefined) throw new ConfigError(`${field} is missing`, { field }, "set `type: msk` with `clusterArn`, or `type: self-managed` with `bootstrapServers`");
  const k = object(raw, field);
  const type = k['type'];
  if (type === 'msk') {
    known(k, field, ['type', 'clusterArn', 'bootstrapServers', 'auth', 'vpc']);
    const clusterArn = requiredString(k['clusterArn'], `${field}.clusterArn`, 'the ARN of the MSK cluster (arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>)');
    const auth = k['auth'] === undefined ? {} : object(k['auth'], `${field}.auth`);
    known(auth, `${field}.auth`, ['saslScram512']);
    return {
      type,
      clusterArn,
      cluster: parseClusterArn(clusterArn, `${field}.clusterArn`),
      bootstrapServers: k['bootstrapServers'] === undefined ? undefined : servers(k['bootstrapServers'], `${field}.bootstrapServers`),
      auth: { saslScram512: optionalSecret(auth['saslScram512'], `${field}.auth.saslScram512`) },
      vpc: vpc(k['vpc'], `${field}.vpc`),
    };
  }
  if (type === 'self-managed') {
    known(k, field, ['type', 'bootstrapServers', 'tls', 'auth']);
    const bootstrapServers = servers(k['bootstrapServers'], `${field}.bootstrapServers`);
    const auth = k['auth'] === undefined ? {} : object(k['auth'], `${field}.auth`);
    known(auth, `${field}.auth`, ['saslScram512', 'saslScram256', 'mtls', 'rootCa', 'vpc']);
    const parsed = {
      saslScram512: optionalSecret(auth['saslScram512'], `${field}.auth.saslScram512`),
      saslScram256: optionalSecret(auth['saslScram256'], `${field}.auth.saslScram256`),
      mtls: optionalSecret(auth['mtls'], `${field}.auth.mtls`),
      rootCa: optionalSecret(auth['rootCa'], `${field}.auth.rootCa`),
      vpc: vpc(auth['vpc'], `${field}.auth.vpc`),
    };
    const methods = (['saslScram512', 'saslScram256', 'mtls'] as const).filter((m) => parsed[m] !== undefined);
    if (methods.length > 1) {
      throw new ConfigError(`${field}.auth sets ${methods.join(' and ')}`, { field: `${field}.auth` }, 'choose one authentication method');
    }
    const tls = k['tls'] === undefined ? methods.length > 0 || parsed.rootCa !== undefined : bool(k['tls'], `${field}.tls`);
    if (!tls && (parsed.mtls !== undefined || parsed.rootCa !== undefined)) {
      throw new ConfigError(`${field}.tls is false but mTLS or a root CA is configured`, { field: `${field}.tls` }, 'remove `tls: false`');
    }
    // Lambda's self-managed Kafka trigger reaches brokers either over the internet with SASL or
    // mTLS credentials, or through subnets of their VPC; with neither it has no way in (AWS
    // documents no unauthenticated internet access; CDK and Serverless refuse it too).
    if (methods.length === 0 && parsed.vpc === undefined) {
      throw new ConfigError(
        `${field}.auth has neither credentials nor a VPC: Lambda's Kafka trigger needs one to reach self-managed brokers`,
        { field: `${field}.auth` },
        'brokers without authentication: set auth.vpc (subnetIds, securityGroupIds that reach them); otherwise one of saslScram512, saslScram256, mtls',
      );
    }
    return { type, bootstrapServers, tls, auth: parsed };
  }
  throw new ConfigError(`${field}.type: ${JSON.stringify(type)} is not msk or self-managed`, { field: `${field}.type` }, "set `type: msk` or `type: self-managed`");
}

function table(raw: unknown): DeploySettings['table'] {
  const field = `${ROOT}.table`;
  const t = raw === undefined ? {} : object(raw, field);
  known(t, field, ['name', 'pointInTimeRecovery', 'retain']);
  const name = t['name'] === undefined ? undefined : requiredString(t['name'], `${field}.name`, 'a DynamoDB table name');
  if (name !== undefined && !/^[A-Za-z0-9_.-]{3,255}$/.test(name)) {
    throw new ConfigError(`${field}.name: ${JSON.stringify(name)} is not a DynamoDB table name`, { field: `${field}.name` }, 'use 3-255 letters, digits, _ . -');
  }
  return {
    name,
    pointInTimeRecovery: t['pointInTimeRecovery'] === undefined ? false : bool(t['pointInTimeRecovery'], `${field}.pointInTimeRecovery`),
    retain: t['retain'] === undefined ? true : bool(t['retain'], `${field}.retain`),
  };
}

function ticker(raw: unknown): TickerSettings | undefined {
  const field = `${ROOT}.ticker`;
  if (raw === false) return undefined;
  const t = raw === undefined || raw === true ? {} : object(raw, field);
  known(t, field, ['rate', 'intervalSeconds']);
  const rate = t['rate'] === undefined ? DEPLOY_DEFAULTS.ticker.rate : requiredString(t['rate'], `${field}.rate`, "e.g. '1 minute'");
  const m = RATE.exec(rate);
  if (!m || Number(m[1]) < 1) throw new ConfigError(`${field}.rate: ${JSON.stringify(rate)} is not an EventBridge rate`, { field: `${field}.rate` }, "e.g. '1 minute' or '5 minutes'");
  const rateSeconds = Number(m[1]) * (m[2]!.startsWith('minute') ? 60 : m[2]!.startsWith('hour') ? 3_600 : 86_400);
  // A run ticks every interval through its period, so ticks come more often than EventBridge fires.
  // One pass per run unless asked: idleness and processing-time timers then have the rate's granularity.
  const intervalSeconds = optionalInt(t['intervalSeconds'], `${field}.intervalSeconds`, 1, rateSeconds) ?? rateSeconds;
  if (intervalSeconds < rateSeconds && rateSeconds > MAX_TICKER_RUN_SECONDS) {
    throw new ConfigError(
      `${field}.intervalSeconds: ticking every ${intervalSeconds} s through a ${rateSeconds} s period needs one run of ${rateSeconds} s`,
      { field: `${field}.intervalSeconds` },
      `Lambda runs at most 15 minutes: use a rate of at most ${MAX_TICKER_RUN_SECONDS / 60} minutes, or drop intervalSeconds`,
    );
  }
  return { rate, intervalSeconds, periodSeconds: rateSeconds };
}

function topics(raw: unknown): DeploySettings['topics'] {
  const field = `${ROOT}.topics`;
  const t = raw === undefined ? {} : object(raw, field);
  known(t, field, ['replicationFactor', 'configs']);
  const configs: Record<string, string> = {};
  if (t['configs'] !== undefined) {
    for (const [name, value] of Object.entries(object(t['configs'], `${field}.configs`))) {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw new ConfigError(`${field}.configs.${name} is not a string, number or boolean`, { field: `${field}.configs.${name}` });
      }
      configs[name] = String(value);
    }
  }
  return { replicationFactor: optionalInt(t['replicationFactor'], `${field}.replicationFactor`, 1, 32), configs };
}

function vpc(raw: unknown, field: string): VpcSettings | undefined {
  if (raw === undefined) return undefined;
  const v = object(raw, field);
  known(v, field, ['subnetIds', 'securityGroupIds']);
  return {
    subnetIds: stringList(v['subnetIds'], `${field}.subnetIds`, /^subnet-[a-z0-9]+$/, 'subnet-…'),
    securityGroupIds: stringList(v['securityGroupIds'], `${field}.securityGroupIds`, /^sg-[a-z0-9]+$/, 'sg-…'),
  };
}

function servers(raw: unknown, field: string): string[] {
  return stringList(raw, field, /^[^\s:,]+:\d{1,5}$/, 'host:port');
}

function optionalSecret(raw: unknown, field: string): string | undefined {
  if (raw === undefined) return undefined;
  const value = requiredString(raw, field, 'a Secrets Manager secret ARN');
  if (!SECRET_ARN.test(value)) throw new ConfigError(`${field}: ${JSON.stringify(value)} is not a Secrets Manager secret ARN`, { field }, 'arn:aws:secretsmanager:<region>:<account>:secret:<name>');
  return value;
}
