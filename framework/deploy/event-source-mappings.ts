/**
 * A stage's Kafka triggers as `AWS::Lambda::EventSourceMapping` resources, emitted directly
 * rather than through Serverless's `msk`/`kafka` events: those cannot express a poller group, an
 * on-failure destination for MSK, retry limits, a batching window of 0, or a self-managed trigger
 * without `SourceAccessConfigurations: []` (CloudFormation requires at least one item when the
 * property is present). The logical ids are the ones osls gives its events, so a stack deployed
 * with an earlier Sluice updates its mappings in place instead of replacing them (a replacement
 * would create a second mapping with the same consumer group id, which Lambda refuses).
 */
import { ConfigError } from '../errors.js';
import type { Stage, Topology } from '../topology/topology.js';
import { batchingWindowProperty, defaultBatchingWindowSeconds, DEPLOY_DEFAULTS } from './defaults.js';
import type { CfnValue } from './iam.js';
import { consumerGroupId } from './iam.js';
import type { MskSettings, SelfManagedSettings } from './settings.js';
import type { ProvisionedSettings, SourcePosition, TriggerSettings } from './trigger-settings.js';

/** Where a deployment lives: the service and its stage (`--stage`). */
export interface MappingContext {
  readonly service: string;
  readonly stage: string;
}

/** One `AWS::Lambda::EventSourceMapping`. */
export interface EventSourceMapping {
  readonly Type: 'AWS::Lambda::EventSourceMapping';
  readonly Properties: Readonly<Record<string, CfnValue>>;
}

/** One trigger of a stage: a topic, where it starts, and the stage's trigger settings. */
export interface TriggerSpec {
  readonly topic: string;
  readonly partitions: number;
  /** Whether the topic is a source (else one Sluice writes between stages: internal or control). */
  readonly source: boolean;
  readonly start: SourcePosition;
  readonly settings: TriggerSettings;
}

/** Serverless's name for a function key: `by-user` → `ByDashuser`. */
export function normalizedFunctionName(key: string): string {
  const n = key.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return `${n.charAt(0).toUpperCase()}${n.slice(1)}`;
}

/** Logical id Serverless gives a function's `AWS::Lambda::Function`. */
export function functionLogicalId(key: string): string {
  return `${normalizedFunctionName(key)}LambdaFunction`;
}

/** Logical id of a stage's trigger on `topic`, as osls names its `kafka` / `msk` events. */
export function mappingLogicalId(kafka: MskSettings | SelfManagedSettings, key: string, topic: string): string {
  const alnum = (s: string): string => {
    const a = s.replace(/[^0-9A-Za-z]/g, '');
    return `${a.charAt(0).toUpperCase()}${a.slice(1)}`;
  };
  if (kafka.type === 'msk') return `${normalizedFunctionName(key)}EventSourceMappingMSK${alnum(kafka.cluster.name).slice(0, 79)}${alnum(topic).slice(0, 79)}`;
  return `${normalizedFunctionName(key)}EventSourceMappingKafka${alnum(topic).slice(0, 158)}`;
}

/** The poller group a trigger joins under provisioned mode, or undefined for dedicated pollers. */
export function pollerGroupName(provisioned: ProvisionedSettings, context: MappingContext, stage: string): string | undefined {
  switch (provisioned.pollerGroup) {
    case 'none':
      return undefined;
    case 'stage':
      return groupName(`${context.service}-${context.stage}-${stage}`);
    case 'app':
      return groupName(`${context.service}-${context.stage}`);
    default:
      return provisioned.pollerGroup;
  }
}

/** The mappings of one stage, keyed by logical id: each data input topic, then the control topic. */
export function stageMappings(kafka: MskSettings | SelfManagedSettings, topology: Topology, stage: Stage, triggers: readonly TriggerSpec[], context: MappingContext): Record<string, EventSourceMapping> {
  const out: Record<string, EventSourceMapping> = {};
  for (const trigger of triggers) {
    checkDestination(trigger, stage);
    out[mappingLogicalId(kafka, stage.name, trigger.topic)] = {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: mappingProperties(kafka, topology, stage, trigger, context),
    };
  }
  return out;
}

function mappingProperties(kafka: MskSettings | SelfManagedSettings, topology: Topology, stage: Stage, trigger: TriggerSpec, context: MappingContext): Record<string, CfnValue> {
  const { settings, start } = trigger;
  const group = consumerGroupId(topology.app, stage.name, trigger.topic);
  const p: Record<string, CfnValue> = {
    FunctionName: { 'Fn::GetAtt': [functionLogicalId(stage.name), 'Arn'] },
    Topics: [trigger.topic],
    StartingPosition: start.startingPosition,
  };
  if (start.startingPositionTimestamp !== undefined) p['StartingPositionTimestamp'] = start.startingPositionTimestamp;
  if (kafka.type === 'msk') {
    p['EventSourceArn'] = kafka.clusterArn;
    p['AmazonManagedKafkaEventSourceConfig'] = { ConsumerGroupId: group };
  } else {
    p['SelfManagedEventSource'] = { Endpoints: { KafkaBootstrapServers: [...kafka.bootstrapServers] } };
    p['SelfManagedKafkaEventSourceConfig'] = { ConsumerGroupId: group };
  }
  const access = sourceAccess(kafka);
  // Absent, not empty: CloudFormation's schema wants at least one item when the property is there.
  if (access.length > 0) p['SourceAccessConfigurations'] = access;
  // Sluice's defaults (defaults.ts) where custom.sluice says nothing, not Lambda's (BatchSize 100).
  p['BatchSize'] = settings.batchSize ?? DEPLOY_DEFAULTS.batchSize;
  // Unless set, Lambda's 0.5 s on sources and none on the topics Sluice writes (defaults.ts).
  const window = settings.maximumBatchingWindow ?? batchingWindowProperty(defaultBatchingWindowSeconds(trigger.source ? 'source' : 'internal'));
  if (window !== undefined) p['MaximumBatchingWindowInSeconds'] = window;
  if (settings.provisioned) {
    const pollerGroup = pollerGroupName(settings.provisioned, context, stage.name);
    p['ProvisionedPollerConfig'] = {
      MinimumPollers: settings.provisioned.minimumPollers,
      // More pollers than partitions never help: Lambda keeps one poller per partition at most.
      MaximumPollers: settings.provisioned.maximumPollers ?? Math.max(settings.provisioned.minimumPollers, trigger.partitions),
      ...(pollerGroup !== undefined ? { PollerGroupName: pollerGroup } : {}),
    };
  }
  if (settings.onFailure) {
    p['DestinationConfig'] = { OnFailure: { Destination: settings.onFailure.destination } };
    if (settings.onFailure.maximumRetryAttempts !== undefined) p['MaximumRetryAttempts'] = settings.onFailure.maximumRetryAttempts;
  }
  return p;
}

/** SourceAccessConfigurations of every trigger of the deployment (possibly none). */
function sourceAccess(kafka: MskSettings | SelfManagedSettings): Array<{ Type: string; URI: string }> {
  if (kafka.type === 'msk') return kafka.auth.saslScram512 !== undefined ? [{ Type: 'SASL_SCRAM_512_AUTH', URI: kafka.auth.saslScram512 }] : [];
  const { saslScram512, saslScram256, mtls, rootCa, vpc } = kafka.auth;
  const out: Array<{ Type: string; URI: string }> = [];
  if (saslScram512 !== undefined) out.push({ Type: 'SASL_SCRAM_512_AUTH', URI: saslScram512 });
  if (saslScram256 !== undefined) out.push({ Type: 'SASL_SCRAM_256_AUTH', URI: saslScram256 });
  if (mtls !== undefined) out.push({ Type: 'CLIENT_CERTIFICATE_TLS_AUTH', URI: mtls });
  if (rootCa !== undefined) out.push({ Type: 'SERVER_ROOT_CA_CERTIFICATE', URI: rootCa });
  for (const subnet of vpc?.subnetIds ?? []) out.push({ Type: 'VPC_SUBNET', URI: `subnet:${subnet}` });
  for (const sg of vpc?.securityGroupIds ?? []) out.push({ Type: 'VPC_SECURITY_GROUP', URI: `security_group:${sg}` });
  return out;
}

/** Lambda refuses a Kafka destination that is the trigger's own topic (it would loop). */
function checkDestination(trigger: TriggerSpec, stage: Stage): void {
  const destination = trigger.settings.onFailure?.destination;
  if (destination === `kafka://${trigger.topic}`) {
    throw new ConfigError(
      `on-failure destination ${destination} is the topic the trigger reads`,
      { stage: stage.name, topic: trigger.topic, field: `custom.sluice.stages.${stage.name}.onFailure.destination` },
      'send failed batches to a topic of their own, e.g. kafka://<app>.<stage>.failed',
    );
  }
}

/** Poller group names are at most 128 characters of [A-Za-z0-9_-]. */
function groupName(raw: string): string {
  return raw.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 128);
}
