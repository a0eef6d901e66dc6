/**
 * The deploy plugin's functional core: topology + `custom.sluice` settings → the Serverless
 * functions and CloudFormation resources of an app. No I/O; the plugin only merges the result
 * into the service and bundles the handlers.
 *
 * Per stage: one function (handler `functions/<app>/<stage>.handler` unless mapped), one Kafka
 * trigger (`AWS::Lambda::EventSourceMapping`, event-source-mappings.ts) per data input topic and
 * one for its control topic, and its own IAM role (Serverless v3 has one `provider.iam` for all
 * functions, so each stage's role is a resource and the function points at it). Per app: the
 * DynamoDB table and, unless turned off, the ticker.
 */
import { encodeSourceStarts, SOURCE_STARTS_ENV } from '../runtime/source-starts.js';
import { ConfigError } from '../errors.js';
import type { Stage, Topology } from '../topology/topology.js';
import { tickedStages } from '../time/due.js';
import type { EventSourceMapping, TriggerSpec } from './event-source-mappings.js';
import { normalizedFunctionName, stageMappings } from './event-source-mappings.js';
import type { Access, CfnValue, PolicyStatement } from './iam.js';
import {
  dynamoStatement,
  logStatement,
  mskEsmStatement,
  mskStatements,
  onFailureStatements,
  schemaRegistryStatement,
  secretsStatement,
  stageAccess,
  tickerAccess,
  vpcStatement,
} from './iam.js';
import type { Architecture } from './defaults.js';
import { DEPLOY_DEFAULTS } from './defaults.js';
import type { DeploySettings, VpcSettings } from './settings.js';
import type { OnFailureSettings } from './trigger-settings.js';
import { sourceStart, stageTriggers } from './trigger-settings.js';
import type { TopicsManifest } from './topics.js';
import { topicsManifest } from './topics.js';

/** The Lambda runtime every Sluice function runs on. */
export const RUNTIME = 'nodejs22.x';
/** Key of the ticker function in `functions`. */
export const TICKER_FUNCTION = 'ticker';
/**
 * Handler of the ticker. Its module is generated at bundle time (it binds Sluice's
 * `tickerHandler` to the app's pipeline), so the service needs no file for it.
 */
export const TICKER_HANDLER = 'sluice-ticker.handler';
/** Logical id of the app's DynamoDB table. */
export const TABLE_LOGICAL_ID = 'SluiceTable';

/** Where the functions are deployed: the service and its stage (`--stage`). */
export interface DeployContext {
  readonly service: string;
  readonly stage: string;
}

/** A scheduled event (the ticker). */
export interface ScheduleEvent {
  readonly schedule: { readonly rate: readonly string[] };
}

/** One function as `serverless.yml` would declare it. */
export interface FunctionSpec {
  readonly name: string;
  readonly handler: string;
  readonly runtime: typeof RUNTIME;
  /** Seconds. */
  readonly timeout: number;
  readonly memorySize: number;
  readonly architecture: Architecture;
  /**
   * Its IAM role's ARN, as `Fn::Sub` of the role resource: a plain logical id or `Fn::GetAtt`
   * would make Serverless add a `DependsOn` on the role that the reference already implies
   * (cfn-lint W3005).
   */
  readonly role: CfnValue;
  readonly environment: Readonly<Record<string, CfnValue>>;
  /** The ticker's schedule; stages have none (their Kafka triggers are resources). */
  readonly events: readonly ScheduleEvent[];
  readonly vpc?: { readonly subnetIds: readonly string[]; readonly securityGroupIds: readonly string[] };
}

/** A CloudFormation resource. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties: Readonly<Record<string, unknown>>;
  readonly DependsOn?: readonly string[];
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

/** Everything the plugin adds to the service. */
export interface Deployment {
  readonly functions: Readonly<Record<string, FunctionSpec>>;
  readonly resources: Readonly<Record<string, CfnResource | EventSourceMapping>>;
  readonly outputs: Readonly<Record<string, { readonly Description: string; readonly Value: CfnValue }>>;
  /** Topics to create before the first deploy (`sluice topics create`). */
  readonly topics: TopicsManifest;
}

/** Builds the functions, roles, table and topic list of an app; throws ConfigError naming the setting. */
export function buildDeployment(topology: Topology, settings: DeploySettings, context: DeployContext): Deployment {
  checkNames(topology, settings, context);
  const functions: Record<string, FunctionSpec> = {};
  const resources: Record<string, CfnResource | EventSourceMapping> = { [TABLE_LOGICAL_ID]: tableResource(settings, context) };
  const tableArn = { 'Fn::GetAtt': [TABLE_LOGICAL_ID, 'Arn'] };

  for (const stage of topology.stages) {
    const name = functionName(context, stage.name);
    const access = stageAccess(topology, stage);
    const role = roleLogicalId(stage.name);
    const triggers = stageTriggers(settings.triggers, stage.name);
    functions[stage.name] = {
      name,
      handler: settings.handlers[stage.name] ?? `functions/${topology.app}/${stage.name}.handler`,
      runtime: RUNTIME,
      timeout: Math.ceil(topology.settings.functionTimeoutMs / 1000),
      memorySize: triggers.memorySize ?? DEPLOY_DEFAULTS.memorySizeMb,
      architecture: triggers.architecture ?? DEPLOY_DEFAULTS.architecture,
      role: roleArn(role),
      environment: { ...kafkaEnvironment(settings), SLUICE_APP: topology.app, SLUICE_STAGE: stage.name, SLUICE_TABLE: { Ref: TABLE_LOGICAL_ID }, ...sourceStartsEnvironment(stage, settings) },
      events: [],
      ...functionVpc(settings),
    };
    resources[role] = roleResource(stage.name, roleStatements(name, access, settings, tableArn, triggers.onFailure));
    Object.assign(resources, stageMappings(settings.kafka, topology, stage, triggerSpecs(topology, stage, settings), context));
  }

  // A pipeline with nothing to wake in processing time (no event time downstream of a source, no
  // processing-time timers) gets no ticker at all.
  if (settings.ticker && tickedStages(topology).length > 0) {
    const ticker = settings.ticker;
    const name = functionName(context, TICKER_FUNCTION);
    const role = roleLogicalId(TICKER_FUNCTION);
    // One run per period: a single pass (the default), or passes every interval until the next run takes over.
    const durationSeconds = ticker.periodSeconds - ticker.intervalSeconds;
    functions[TICKER_FUNCTION] = {
      name,
      handler: TICKER_HANDLER,
      runtime: RUNTIME,
      timeout: durationSeconds + 30,
      // A pass reads a few checkpoints and writes a few ticks.
      memorySize: DEPLOY_DEFAULTS.ticker.memorySizeMb,
      architecture: settings.triggers.defaults.architecture ?? DEPLOY_DEFAULTS.architecture,
      role: roleArn(role),
      environment: {
        ...kafkaEnvironment(settings),
        SLUICE_KAFKA_BROKERS: tickerBrokers(settings).join(','),
        SLUICE_APP: topology.app,
        SLUICE_TABLE: { Ref: TABLE_LOGICAL_ID },
        SLUICE_TICK_INTERVAL_MS: String(ticker.intervalSeconds * 1000),
        SLUICE_TICK_DURATION_MS: String(durationSeconds * 1000),
      },
      events: [{ schedule: { rate: [`rate(${ticker.rate})`] } }],
      ...functionVpc(settings),
    };
    resources[role] = roleResource(TICKER_FUNCTION, roleStatements(name, tickerAccess(topology), settings, tableArn, undefined, false));
  }

  return {
    functions,
    resources,
    outputs: { SluiceTableName: { Description: `DynamoDB table of the Sluice app ${topology.app}`, Value: { Ref: TABLE_LOGICAL_ID } } },
    topics: topicsManifest(topology, { bootstrapServers: settings.kafka.bootstrapServers, ...settings.topics }),
  };
}

/** Deployed name of a function: Serverless's `<service>-<stage>-<key>`. */
export function functionName(context: DeployContext, key: string): string {
  return `${context.service}-${context.stage}-${key}`;
}

/** Logical id of a function's role: `SluiceRole` + the key as Serverless normalises names (`by-user` → `ByDashuser`). */
export function roleLogicalId(key: string): string {
  return `SluiceRole${normalizedFunctionName(key)}`;
}

/** A role's ARN as a function's `role`; see FunctionSpec.role. */
export function roleArn(roleLogicalId: string): CfnValue {
  return { 'Fn::Sub': `\${${roleLogicalId}.Arn}` };
}

/**
 * The environment the stage's own Kafka client is built from (see kafka/auth.ts):
 * SLUICE_KAFKA_AUTH iam | scram-512 | scram-256 | mtls | none, SLUICE_KAFKA_SECRET_ARN,
 * SLUICE_KAFKA_CA_SECRET_ARN, SLUICE_KAFKA_TLS, and SLUICE_KAFKA_BROKERS when known.
 */
export function kafkaEnvironment(settings: DeploySettings): Record<string, string> {
  const k = settings.kafka;
  const env: Record<string, string> = { NODE_OPTIONS: '--enable-source-maps' };
  if (k.type === 'msk') {
    env['SLUICE_KAFKA_TLS'] = 'true';
    if (k.auth.saslScram512 !== undefined) {
      env['SLUICE_KAFKA_AUTH'] = 'scram-512';
      env['SLUICE_KAFKA_SECRET_ARN'] = k.auth.saslScram512;
    } else {
      env['SLUICE_KAFKA_AUTH'] = 'iam';
    }
    if (k.bootstrapServers) env['SLUICE_KAFKA_BROKERS'] = k.bootstrapServers.join(',');
    return env;
  }
  env['SLUICE_KAFKA_BROKERS'] = k.bootstrapServers.join(',');
  env['SLUICE_KAFKA_TLS'] = String(k.tls);
  const { saslScram512, saslScram256, mtls, rootCa } = k.auth;
  if (saslScram512 !== undefined) Object.assign(env, { SLUICE_KAFKA_AUTH: 'scram-512', SLUICE_KAFKA_SECRET_ARN: saslScram512 });
  else if (saslScram256 !== undefined) Object.assign(env, { SLUICE_KAFKA_AUTH: 'scram-256', SLUICE_KAFKA_SECRET_ARN: saslScram256 });
  else if (mtls !== undefined) Object.assign(env, { SLUICE_KAFKA_AUTH: 'mtls', SLUICE_KAFKA_SECRET_ARN: mtls });
  else env['SLUICE_KAFKA_AUTH'] = 'none';
  if (rootCa !== undefined) env['SLUICE_KAFKA_CA_SECRET_ARN'] = rootCa;
  return env;
}

/** The stage's triggers: each data input topic, then its control topic. */
/** Where the stage's source triggers start, for its backlog probe (runtime/source-starts.ts); nothing for a stage without sources. */
function sourceStartsEnvironment(stage: Stage, settings: DeploySettings): Record<string, string> {
  const sources = stage.inputs.filter((i) => i.kind === 'source');
  if (sources.length === 0) return {};
  return { [SOURCE_STARTS_ENV]: encodeSourceStarts(Object.fromEntries(sources.map((i) => [i.topic, sourceStart(settings.triggers, i.topic)]))) };
}

function triggerSpecs(topology: Topology, stage: Stage, settings: DeploySettings): TriggerSpec[] {
  const triggers = stageTriggers(settings.triggers, stage.name);
  const partitions = (topic: string): number => topology.topics.find((t) => t.name === topic)?.partitions ?? 1;
  const topics = [...stage.inputs.map((i) => ({ topic: i.topic, source: i.kind === 'source' })), { topic: stage.controlTopic, source: false }];
  return topics.map(({ topic, source }) => ({
    topic,
    partitions: partitions(topic),
    source,
    // Topics Sluice writes must be read from their start: records written before the trigger
    // existed belong to the pipeline too. Only external sources may start elsewhere.
    start: source ? sourceStart(settings.triggers, topic) : { startingPosition: 'TRIM_HORIZON' },
    settings: triggers,
  }));
}

function roleStatements(fn: string, access: Access, settings: DeploySettings, tableArn: CfnValue, onFailure: OnFailureSettings | undefined, esm = true): PolicyStatement[] {
  const statements = [logStatement(fn)];
  if (access.leadingKeys.length > 0) statements.push(dynamoStatement(tableArn, access.leadingKeys, access.readOnly ?? false));
  if (access.schemaRegistryActions && access.schemaRegistryActions.length > 0) statements.push(schemaRegistryStatement(access.schemaRegistryActions));
  const k = settings.kafka;
  const secrets: string[] = [];
  if (k.type === 'msk') {
    if (esm) statements.push(mskEsmStatement(k.cluster));
    if (k.auth.saslScram512 === undefined) statements.push(...mskStatements(k.cluster, access, { esm }));
    else secrets.push(k.auth.saslScram512);
  } else {
    for (const arn of [k.auth.saslScram512, k.auth.saslScram256, k.auth.mtls, k.auth.rootCa]) if (arn !== undefined) secrets.push(arn);
  }
  if (secrets.length > 0) statements.push(secretsStatement(secrets));
  if (onFailure) statements.push(...onFailureStatements(onFailure.destination, k.type === 'msk' ? k.cluster : undefined));
  // MSK ESMs always poll from inside the cluster's VPC; self-managed ones when given a VPC;
  // functions themselves when attached to one.
  if ((esm && k.type === 'msk') || vpcOf(settings) !== undefined) statements.push(vpcStatement());
  return statements;
}

function roleResource(key: string, statements: readonly PolicyStatement[]): CfnResource {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: ['lambda.amazonaws.com'] }, Action: ['sts:AssumeRole'] }],
      },
      Policies: [{ PolicyName: `sluice-${key}`, PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
    },
  };
}

function tableResource(settings: DeploySettings, context: DeployContext): CfnResource {
  const retain = settings.table.retain ? { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' } : {};
  return {
    Type: 'AWS::DynamoDB::Table',
    ...retain,
    Properties: {
      TableName: settings.table.name ?? `${context.service}-${context.stage}-state`,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      ...(settings.table.pointInTimeRecovery ? { PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } } : {}),
    },
  };
}

function vpcOf(settings: DeploySettings): VpcSettings | undefined {
  return settings.kafka.type === 'msk' ? settings.kafka.vpc : settings.kafka.auth.vpc;
}

function functionVpc(settings: DeploySettings): Pick<FunctionSpec, 'vpc'> {
  const vpc = vpcOf(settings);
  return vpc ? { vpc: { subnetIds: [...vpc.subnetIds], securityGroupIds: [...vpc.securityGroupIds] } } : {};
}

function tickerBrokers(settings: DeploySettings): readonly string[] {
  const brokers = settings.kafka.bootstrapServers;
  if (brokers === undefined) {
    throw new ConfigError(
      'custom.sluice.kafka.bootstrapServers is needed by the ticker on MSK',
      { field: 'custom.sluice.kafka.bootstrapServers' },
      'a scheduled function gets no Kafka event to learn the brokers from: set it to the cluster\'s bootstrap brokers (aws kafka get-bootstrap-brokers), or set custom.sluice.ticker: false',
    );
  }
  return brokers;
}

function checkNames(topology: Topology, settings: DeploySettings, context: DeployContext): void {
  const stages = new Set(topology.stages.map((s) => s.name));
  for (const stage of Object.keys(settings.handlers)) {
    if (!stages.has(stage)) {
      const field = `custom.sluice.handlers.${stage}`;
      throw new ConfigError(`${field}: pipeline "${topology.app}" has no stage "${stage}"`, { field }, `stages: ${[...stages].join(', ')}`);
    }
  }
  for (const stage of Object.keys(settings.triggers.stages)) {
    if (!stages.has(stage)) {
      const field = `custom.sluice.stages.${stage}`;
      throw new ConfigError(`${field}: pipeline "${topology.app}" has no stage "${stage}"`, { field }, `stages: ${[...stages].join(', ')}`);
    }
  }
  const sources = new Set(topology.stages.flatMap((s) => s.inputs.filter((i) => i.kind === 'source').map((i) => i.topic)));
  for (const topic of Object.keys(settings.triggers.sources)) {
    if (!sources.has(topic)) {
      const field = `custom.sluice.sources.${topic}`;
      throw new ConfigError(
        `${field}: "${topic}" is not a source topic of pipeline "${topology.app}"`,
        { field },
        `sources: ${[...sources].join(', ')} (topics Sluice writes are always read from their start)`,
      );
    }
  }
  for (const stage of stages) {
    const triggers = stageTriggers(settings.triggers, stage);
    // Lambda's Kafka retry controls exist only for provisioned pollers.
    if (triggers.onFailure?.maximumRetryAttempts !== undefined && !triggers.provisioned) {
      const own = settings.triggers.stages[stage]?.onFailure;
      const field = own ? `custom.sluice.stages.${stage}.onFailure.maximumRetryAttempts` : 'custom.sluice.onFailure.maximumRetryAttempts';
      throw new ConfigError(`${field} needs provisioned mode, which stage "${stage}" does not use`, { stage, field }, 'set custom.sluice.provisioned (or stages.<stage>.provisioned), or drop maximumRetryAttempts');
    }
  }
  if (settings.ticker && stages.has(TICKER_FUNCTION)) {
    throw new ConfigError(`stage "${TICKER_FUNCTION}" would share its function name with the ticker`, { stage: TICKER_FUNCTION, field: 'custom.sluice.ticker' }, 'rename the stage with .stage(), or set custom.sluice.ticker: false');
  }
  const keys = [...stages, ...(settings.ticker ? [TICKER_FUNCTION] : [])];
  const longest = keys.map((k) => functionName(context, k)).sort((a, b) => b.length - a.length)[0] ?? '';
  if (longest.length > 64) {
    throw new ConfigError(`function name "${longest}" is longer than Lambda's 64 characters`, { field: 'service' }, 'shorten the service name, the stage (--stage) or the stage names');
  }
}
