/**
 * The deploy plugin's functional core: topology + `custom.sluice` settings → the Serverless
 * functions and CloudFormation resources of an app. No I/O; the plugin only merges the result
 * into the service and bundles the handlers.
 *
 * Per stage: one function (handler `functions/<app>/<stage>.handler` unless mapped), one
 * `msk`/`kafka` event per data input topic and one for its control topic, and its own IAM role
 * (Serverless v3 has one `provider.iam` for all functions, so each stage's role is a resource
 * and the function points at it). Per app: the DynamoDB table and, unless turned off, the ticker.
 */
import { ConfigError } from '../errors.js';
import type { Stage, Topology } from '../topology/topology.js';
import type { Access, CfnValue, PolicyStatement } from './iam.js';
import {
  consumerGroupId,
  dynamoStatement,
  logStatement,
  mskEsmStatement,
  mskStatements,
  schemaRegistryStatement,
  secretsStatement,
  stageAccess,
  tickerAccess,
  vpcStatement,
} from './iam.js';
import type { DeploySettings, MskSettings, SelfManagedSettings, VpcSettings } from './settings.js';
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
/** Memory of the ticker: it only writes a few records per tick. */
const TICKER_MEMORY_MB = 256;
/** Logical id of the app's DynamoDB table. */
export const TABLE_LOGICAL_ID = 'SluiceTable';

/** Where the functions are deployed: the service and its stage (`--stage`). */
export interface DeployContext {
  readonly service: string;
  readonly stage: string;
}

/** A Kafka event of a function, as Serverless's `msk` / `kafka` events take it. */
export type KafkaEvent =
  | { readonly msk: Readonly<Record<string, CfnValue>> & { readonly topic: string } }
  | { readonly kafka: Readonly<Record<string, CfnValue>> & { readonly topic: string } };

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
  readonly memorySize?: number;
  /** Logical id of its IAM role in `resources`. */
  readonly role: string;
  readonly environment: Readonly<Record<string, CfnValue>>;
  readonly events: ReadonlyArray<KafkaEvent | ScheduleEvent>;
  readonly vpc?: { readonly subnetIds: readonly string[]; readonly securityGroupIds: readonly string[] };
}

/** A CloudFormation resource. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties: Readonly<Record<string, unknown>>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

/** Everything the plugin adds to the service. */
export interface Deployment {
  readonly functions: Readonly<Record<string, FunctionSpec>>;
  readonly resources: Readonly<Record<string, CfnResource>>;
  readonly outputs: Readonly<Record<string, { readonly Description: string; readonly Value: CfnValue }>>;
  /** Topics to create before the first deploy (`sluice topics create`). */
  readonly topics: TopicsManifest;
}

/** Builds the functions, roles, table and topic list of an app; throws ConfigError naming the setting. */
export function buildDeployment(topology: Topology, settings: DeploySettings, context: DeployContext): Deployment {
  checkNames(topology, settings, context);
  const functions: Record<string, FunctionSpec> = {};
  const resources: Record<string, CfnResource> = { [TABLE_LOGICAL_ID]: tableResource(settings, context) };
  const tableArn = { 'Fn::GetAtt': [TABLE_LOGICAL_ID, 'Arn'] };

  for (const stage of topology.stages) {
    const name = functionName(context, stage.name);
    const access = stageAccess(topology, stage);
    const role = roleLogicalId(stage.name);
    functions[stage.name] = {
      name,
      handler: settings.handlers[stage.name] ?? `functions/${topology.app}/${stage.name}.handler`,
      runtime: RUNTIME,
      timeout: Math.ceil(topology.settings.functionTimeoutMs / 1000),
      ...(settings.memorySize !== undefined ? { memorySize: settings.memorySize } : {}),
      role,
      environment: { ...kafkaEnvironment(settings), SLUICE_APP: topology.app, SLUICE_STAGE: stage.name, SLUICE_TABLE: { Ref: TABLE_LOGICAL_ID } },
      events: stageEvents(topology, stage, settings),
      ...functionVpc(settings),
    };
    resources[role] = roleResource(stage.name, roleStatements(name, access, settings, tableArn, true));
  }

  if (settings.ticker) {
    const ticker = settings.ticker;
    const name = functionName(context, TICKER_FUNCTION);
    const role = roleLogicalId(TICKER_FUNCTION);
    // One run per period: a single tick, or ticks every interval until the next run takes over.
    const durationSeconds = ticker.periodSeconds - ticker.intervalSeconds;
    functions[TICKER_FUNCTION] = {
      name,
      handler: TICKER_HANDLER,
      runtime: RUNTIME,
      timeout: durationSeconds + 30,
      memorySize: TICKER_MEMORY_MB,
      role,
      environment: {
        ...kafkaEnvironment(settings),
        SLUICE_KAFKA_BROKERS: tickerBrokers(settings).join(','),
        SLUICE_APP: topology.app,
        SLUICE_TICK_INTERVAL_MS: String(ticker.intervalSeconds * 1000),
        SLUICE_TICK_DURATION_MS: String(durationSeconds * 1000),
      },
      events: [{ schedule: { rate: [`rate(${ticker.rate})`] } }],
      ...functionVpc(settings),
    };
    resources[role] = roleResource(TICKER_FUNCTION, roleStatements(name, tickerAccess(topology), settings, tableArn, false));
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
  const normalized = key.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return `SluiceRole${normalized.charAt(0).toUpperCase()}${normalized.slice(1)}`;
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

/** The stage's ESMs: each data input topic, then its control topic. */
function stageEvents(topology: Topology, stage: Stage, settings: DeploySettings): KafkaEvent[] {
  const topics = [...stage.inputs.map((i) => ({ topic: i.topic, source: i.kind === 'source' })), { topic: stage.controlTopic, source: false }];
  return topics.map(({ topic, source }) => {
    const common: Record<string, CfnValue> = {
      topic,
      // Topics Sluice writes must be read from their start: records written before the ESM
      // existed belong to the pipeline too. Only external sources may start at LATEST.
      startingPosition: source ? settings.startingPosition : 'TRIM_HORIZON',
      consumerGroupId: consumerGroupId(topology.app, stage.name, topic),
      ...(settings.batchSize !== undefined ? { batchSize: settings.batchSize } : {}),
      ...(settings.maximumBatchingWindow !== undefined ? { maximumBatchingWindow: settings.maximumBatchingWindow } : {}),
    };
    return settings.kafka.type === 'msk' ? { msk: mskEvent(settings.kafka, common, topic) } : { kafka: selfManagedEvent(settings.kafka, common, topic) };
  });
}

function mskEvent(k: MskSettings, common: Record<string, CfnValue>, topic: string): Record<string, CfnValue> & { topic: string } {
  return { ...common, topic, arn: k.clusterArn, ...(k.auth.saslScram512 !== undefined ? { saslScram512: k.auth.saslScram512 } : {}) };
}

function selfManagedEvent(k: SelfManagedSettings, common: Record<string, CfnValue>, topic: string): Record<string, CfnValue> & { topic: string } {
  const { saslScram512, saslScram256, mtls, rootCa, vpc } = k.auth;
  const access: Record<string, string[]> = {};
  if (saslScram512 !== undefined) access['saslScram512Auth'] = [saslScram512];
  if (saslScram256 !== undefined) access['saslScram256Auth'] = [saslScram256];
  if (mtls !== undefined) access['clientCertificateTlsAuth'] = [mtls];
  if (rootCa !== undefined) access['serverRootCaCertificate'] = [rootCa];
  if (vpc !== undefined) {
    access['vpcSubnet'] = [...vpc.subnetIds];
    access['vpcSecurityGroup'] = [...vpc.securityGroupIds];
  }
  return { ...common, topic, bootstrapServers: [...k.bootstrapServers], accessConfigurations: access };
}

function roleStatements(fn: string, access: Access, settings: DeploySettings, tableArn: CfnValue, esm: boolean): PolicyStatement[] {
  const statements = [logStatement(fn)];
  if (access.leadingKeys.length > 0) statements.push(dynamoStatement(tableArn, access.leadingKeys));
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
  if (settings.ticker && stages.has(TICKER_FUNCTION)) {
    throw new ConfigError(`stage "${TICKER_FUNCTION}" would share its function name with the ticker`, { stage: TICKER_FUNCTION, field: 'custom.sluice.ticker' }, 'rename the stage with .stage(), or set custom.sluice.ticker: false');
  }
  const keys = [...stages, ...(settings.ticker ? [TICKER_FUNCTION] : [])];
  const longest = keys.map((k) => functionName(context, k)).sort((a, b) => b.length - a.length)[0] ?? '';
  if (longest.length > 64) {
    throw new ConfigError(`function name "${longest}" is longer than Lambda's 64 characters`, { field: 'service' }, 'shorten the service name, the stage (--stage) or the stage names');
  }
}
