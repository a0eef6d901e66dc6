import { describe, expect, it } from 'vitest';
import { compile, ConfigError, count, json, pipeline } from '../../../framework/index.js';
import type { Topology } from '../../../framework/index.js';
import type { PolicyStatement } from '../../../framework/deploy/iam.js';
import type { CfnResource, Deployment } from '../../../framework/deploy/resources.js';
import { buildDeployment } from '../../../framework/deploy/resources.js';
import { parseDeploySettings } from '../../../framework/deploy/settings.js';
import { batchingWindowProperty, DEPLOY_DEFAULTS } from '../../../framework/deploy/defaults.js';

interface Order {
  readonly id: string;
  readonly user: string;
}

/** orders (6 partitions) ─keyBy user─▶ by-user (4) ─keyBy order─▶ by-order (8) ─▶ counts */
function shop(): Topology {
  const p = pipeline('shop', { partitions: 4 });
  p.source('orders', { serde: json<Order>(), partitions: 6 })
    .keyBy((o) => o.user, { name: 'user' })
    .process<Order>((o, ctx) => ctx.emit(o))
    .keyBy((o) => o.id, { name: 'order', partitions: 8 })
    .aggregate(count())
    .sink('counts', { serde: json() });
  return compile(p.plan());
}

const CLUSTER = 'arn:aws:kafka:eu-west-1:123456789012:cluster/orders-cluster/abcd-1234-ef';
const SCRAM = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_shop-AbCdEf';
const QUEUE = 'arn:aws:sqs:eu-west-1:123456789012:shop-failures';
const msk = { type: 'msk', clusterArn: CLUSTER, bootstrapServers: ['b-1.orders:9098'] };
const VPC = { subnetIds: ['subnet-1a', 'subnet-2b'], securityGroupIds: ['sg-9'] };
const inVpc = { type: 'self-managed', bootstrapServers: 'k1:9092,k2:9092', auth: { vpc: VPC } };
/** The batching properties every trigger gets when custom.sluice sets none (framework/deploy/defaults.ts). */
const window = batchingWindowProperty(DEPLOY_DEFAULTS.batchingWindowSeconds);
const DEFAULT_BATCHING = { BatchSize: DEPLOY_DEFAULTS.batchSize, ...(window !== undefined ? { MaximumBatchingWindowInSeconds: window } : {}) };

function deploy(custom: Record<string, unknown>): Deployment {
  return buildDeployment(shop(), parseDeploySettings({ pipeline: 'functions/shop/pipeline.ts#shop', ...custom }), { service: 'shop-svc', stage: 'prod' });
}

function mappings(d: Deployment, functionId?: string): Array<[string, Record<string, unknown>]> {
  return Object.entries(d.resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::EventSourceMapping')
    .filter(([, r]) => functionId === undefined || JSON.stringify(r.Properties['FunctionName']).includes(`"${functionId}"`))
    .map(([id, r]) => [id, r.Properties as Record<string, unknown>]);
}

function mapping(d: Deployment, id: string): Record<string, unknown> {
  const r = d.resources[id];
  if (!r) throw new Error(`no resource ${id}; have ${mappings(d).map(([m]) => m).join(', ')}`);
  return r.Properties as Record<string, unknown>;
}

function statements(d: Deployment, role: string): PolicyStatement[] {
  const r = d.resources[role] as CfnResource;
  return (r.Properties['Policies'] as Array<{ PolicyDocument: { Statement: PolicyStatement[] } }>).flatMap((p) => p.PolicyDocument.Statement);
}

function configError(build: () => unknown): ConfigError {
  try {
    build();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('a stage\'s triggers', () => {
  it('are one mapping per data input topic and one for the control topic, named as osls names its events', () => {
    const d = deploy({ kafka: inVpc });
    expect(mappings(d, 'ByDashuserLambdaFunction').map(([id, p]) => [id, p['Topics']])).toEqual([
      ['ByDashuserEventSourceMappingKafkaShopbyuserin', ['shop.by-user.in']],
      ['ByDashuserEventSourceMappingKafkaShopbyusercontrol', ['shop.by-user.control']],
    ]);
    expect(mappings(d).length).toBe(6);
    const m = deploy({ kafka: msk });
    expect(mappings(m, 'OrdersLambdaFunction').map(([id]) => id)).toEqual([
      'OrdersEventSourceMappingMSKOrdersclusterOrders',
      'OrdersEventSourceMappingMSKOrdersclusterShoporderscontrol',
    ]);
  });

  it('invoke the stage function through its ARN', () => {
    expect(mapping(deploy({ kafka: msk }), 'OrdersEventSourceMappingMSKOrdersclusterOrders')['FunctionName']).toEqual({ 'Fn::GetAtt': ['OrdersLambdaFunction', 'Arn'] });
  });

  it('read MSK with the cluster ARN and a consumer group per stage and topic, authenticating with IAM', () => {
    expect(mapping(deploy({ kafka: msk }), 'OrdersEventSourceMappingMSKOrdersclusterOrders')).toEqual({
      FunctionName: { 'Fn::GetAtt': ['OrdersLambdaFunction', 'Arn'] },
      Topics: ['orders'],
      StartingPosition: 'TRIM_HORIZON',
      EventSourceArn: CLUSTER,
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'shop.orders.orders' },
      ...DEFAULT_BATCHING,
    });
  });

  it('pass the SCRAM secret to MSK triggers', () => {
    const p = mapping(deploy({ kafka: { ...msk, auth: { saslScram512: SCRAM } } }), 'OrdersEventSourceMappingMSKOrdersclusterOrders');
    expect(p['SourceAccessConfigurations']).toEqual([{ Type: 'SASL_SCRAM_512_AUTH', URI: SCRAM }]);
  });

  it('reach unauthenticated self-managed brokers through the VPC, with the subnets and security groups as access configurations', () => {
    expect(mapping(deploy({ kafka: inVpc }), 'OrdersEventSourceMappingKafkaOrders')).toEqual({
      FunctionName: { 'Fn::GetAtt': ['OrdersLambdaFunction', 'Arn'] },
      Topics: ['orders'],
      StartingPosition: 'TRIM_HORIZON',
      SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['k1:9092', 'k2:9092'] } },
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'shop.orders.orders' },
      SourceAccessConfigurations: [
        { Type: 'VPC_SUBNET', URI: 'subnet:subnet-1a' },
        { Type: 'VPC_SUBNET', URI: 'subnet:subnet-2b' },
        { Type: 'VPC_SECURITY_GROUP', URI: 'security_group:sg-9' },
      ],
      ...DEFAULT_BATCHING,
    });
  });

  it('reach self-managed brokers over the internet with credentials alone', () => {
    const d = deploy({ kafka: { type: 'self-managed', bootstrapServers: 'k1:9096', auth: { saslScram256: SCRAM, rootCa: `${SCRAM}-ca` } } });
    expect(mapping(d, 'OrdersEventSourceMappingKafkaOrders')['SourceAccessConfigurations']).toEqual([
      { Type: 'SASL_SCRAM_256_AUTH', URI: SCRAM },
      { Type: 'SERVER_ROOT_CA_CERTIFICATE', URI: `${SCRAM}-ca` },
    ]);
  });

  it('never carry an empty SourceAccessConfigurations list, which CloudFormation rejects', () => {
    for (const [, p] of mappings(deploy({ kafka: msk }))) expect(p).not.toHaveProperty('SourceAccessConfigurations');
  });

  it('refuse self-managed brokers with neither credentials nor a VPC, naming the setting', () => {
    const e = configError(() => deploy({ kafka: { type: 'self-managed', bootstrapServers: 'k1:9092' } }));
    expect(e.place.field).toBe('custom.sluice.kafka.auth');
  });
});

describe('batching', () => {
  it('gives every trigger Sluice\'s default batch size and window when custom.sluice sets none: Lambda\'s 0.5 s on sources, 0 on the topics Sluice writes', () => {
    const all = mappings(deploy({ kafka: inVpc }));
    for (const [, p] of all) expect(p['BatchSize']).toBe(DEPLOY_DEFAULTS.batchSize);
    const windows = Object.fromEntries(all.map(([, p]) => [(p['Topics'] as string[])[0]!, p['MaximumBatchingWindowInSeconds']]));
    expect(windows).toEqual({ orders: undefined, 'shop.orders.control': 0, 'shop.by-order.in': 0, 'shop.by-order.control': 0, 'shop.by-user.in': 0, 'shop.by-user.control': 0 });
    expect(all).toHaveLength(6);
  });

  it('leaves the window out for Lambda\'s 0.5 s default, which CloudFormation cannot express', () => {
    expect(batchingWindowProperty(0.5)).toBeUndefined();
    expect(batchingWindowProperty(2)).toBe(2);
    expect(() => batchingWindowProperty(1.5)).toThrow(ConfigError);
  });

  it('applies the root batch size and window to every trigger and a stage\'s own on top', () => {
    const d = deploy({ kafka: inVpc, batchSize: 500, maximumBatchingWindow: 2, stages: { 'by-order': { maximumBatchingWindow: 0, batchSize: 2000 } } });
    expect(mappings(d, 'OrdersLambdaFunction').map(([, p]) => [p['BatchSize'], p['MaximumBatchingWindowInSeconds']])).toEqual([
      [500, 2],
      [500, 2],
    ]);
    expect(mappings(d, 'ByDashorderLambdaFunction').map(([, p]) => [p['BatchSize'], p['MaximumBatchingWindowInSeconds']])).toEqual([
      [2000, 0],
      [2000, 0],
    ]);
  });

  it('sets a stage\'s own memory size', () => {
    const d = deploy({ kafka: inVpc, memorySize: 512, stages: { orders: { memorySize: 2048 } } });
    expect([d.functions['orders']!.memorySize, d.functions['by-user']!.memorySize]).toEqual([2048, 512]);
  });

  it('gives every function Sluice\'s default memory size and architecture when custom.sluice sets none', () => {
    const d = deploy({ kafka: inVpc });
    expect(Object.values(d.functions).map((f) => f.architecture)).toEqual(Object.values(d.functions).map(() => DEPLOY_DEFAULTS.architecture));
    expect(d.functions['orders']!.memorySize).toBe(DEPLOY_DEFAULTS.memorySizeMb);
  });

  it('sets the architecture of every function, and a stage\'s own on top', () => {
    const d = deploy({ kafka: inVpc, architecture: 'x86_64', stages: { orders: { architecture: 'arm64' } } });
    expect([d.functions['orders']!.architecture, d.functions['by-user']!.architecture]).toEqual(['arm64', 'x86_64']);
  });

  it('rejects an architecture Lambda does not run, naming the setting', () => {
    expect(configError(() => deploy({ kafka: inVpc, architecture: 'arm' })).place.field).toBe('custom.sluice.architecture');
  });

  it('rejects settings for a stage the pipeline does not have, naming the stage', () => {
    const e = configError(() => deploy({ kafka: inVpc, stages: { 'by-usr': { batchSize: 10 } } }));
    expect(e.place.field).toBe('custom.sluice.stages.by-usr');
    expect(e.message).toContain('stages: orders, by-user, by-order');
  });

  it('rejects a typo inside a stage\'s settings, naming it', () => {
    expect(configError(() => deploy({ kafka: inVpc, stages: { orders: { batchsize: 10 } } })).place.field).toBe('custom.sluice.stages.orders.batchsize');
  });
});

describe('starting positions', () => {
  it('start source topics at custom.sluice.startingPosition and topics Sluice writes at TRIM_HORIZON', () => {
    const d = deploy({ kafka: inVpc, startingPosition: 'LATEST' });
    expect(mappings(d, 'OrdersLambdaFunction').map(([, p]) => p['StartingPosition'])).toEqual(['LATEST', 'TRIM_HORIZON']);
    expect(mappings(d, 'ByDashuserLambdaFunction').map(([, p]) => p['StartingPosition'])).toEqual(['TRIM_HORIZON', 'TRIM_HORIZON']);
  });

  it('start a source at the time its own entry gives, in unix seconds', () => {
    const d = deploy({ kafka: inVpc, sources: { orders: { startingPosition: 'AT_TIMESTAMP', startingPositionTimestamp: '2026-12-01T00:00:00Z' } } });
    expect(mapping(d, 'OrdersEventSourceMappingKafkaOrders')).toMatchObject({ StartingPosition: 'AT_TIMESTAMP', StartingPositionTimestamp: 1_796_083_200 });
  });

  it('refuse a starting position for a topic that is not a source', () => {
    const e = configError(() => deploy({ kafka: inVpc, sources: { 'shop.by-user.in': { startingPosition: 'LATEST' } } }));
    expect(e.place.field).toBe('custom.sluice.sources.shop.by-user.in');
  });

  it('need a timestamp with AT_TIMESTAMP', () => {
    expect(configError(() => deploy({ kafka: inVpc, sources: { orders: { startingPosition: 'AT_TIMESTAMP' } } })).place.field).toBe('custom.sluice.sources.orders.startingPositionTimestamp');
  });
});

describe('provisioned mode', () => {
  it('keeps pollers for every trigger, all triggers of the deployment in one poller group, at most one poller per partition', () => {
    const d = deploy({ kafka: msk, provisioned: { minimumPollers: 1 } });
    expect(new Set(mappings(d).map(([, p]) => (p['ProvisionedPollerConfig'] as { PollerGroupName: string }).PollerGroupName))).toEqual(new Set(['shop-svc-prod']));
    expect(mappings(d, 'ByDashorderLambdaFunction').map(([, p]) => p['ProvisionedPollerConfig'])).toEqual([
      { MinimumPollers: 1, MaximumPollers: 8, PollerGroupName: 'shop-svc-prod' },
      { MinimumPollers: 1, MaximumPollers: 8, PollerGroupName: 'shop-svc-prod' },
    ]);
    expect(mappings(d, 'OrdersLambdaFunction').map(([, p]) => p['ProvisionedPollerConfig'])).toEqual([
      { MinimumPollers: 1, MaximumPollers: 6, PollerGroupName: 'shop-svc-prod' },
      { MinimumPollers: 1, MaximumPollers: 6, PollerGroupName: 'shop-svc-prod' },
    ]);
  });

  it('groups a stage\'s data and control triggers, and only those, with pollerGroup: stage', () => {
    const d = deploy({ kafka: msk, provisioned: { minimumPollers: 1, pollerGroup: 'stage' } });
    expect(mappings(d, 'ByDashorderLambdaFunction').map(([, p]) => p['ProvisionedPollerConfig'])).toEqual([
      { MinimumPollers: 1, MaximumPollers: 8, PollerGroupName: 'shop-svc-prod-by-order' },
      { MinimumPollers: 1, MaximumPollers: 8, PollerGroupName: 'shop-svc-prod-by-order' },
    ]);
    expect(mappings(d, 'OrdersLambdaFunction').map(([, p]) => p['ProvisionedPollerConfig'])).toEqual([
      { MinimumPollers: 1, MaximumPollers: 6, PollerGroupName: 'shop-svc-prod-orders' },
      { MinimumPollers: 1, MaximumPollers: 6, PollerGroupName: 'shop-svc-prod-orders' },
    ]);
  });

  it('gives each trigger pollers of its own with pollerGroup: none, and uses any other name as given', () => {
    const named = deploy({ kafka: msk, provisioned: { pollerGroup: 'shop_pollers', maximumPollers: 2 } });
    expect(new Set(mappings(named).map(([, p]) => JSON.stringify(p['ProvisionedPollerConfig'])))).toEqual(new Set([JSON.stringify({ MinimumPollers: 1, MaximumPollers: 2, PollerGroupName: 'shop_pollers' })]));
    const none = deploy({ kafka: msk, provisioned: { pollerGroup: 'none', maximumPollers: 2 } });
    expect(mappings(none).map(([, p]) => p['ProvisionedPollerConfig'])).toEqual(Array(6).fill({ MinimumPollers: 1, MaximumPollers: 2 }));
  });

  it('leaves a stage on demand with provisioned: false', () => {
    const d = deploy({ kafka: msk, provisioned: true, stages: { orders: { provisioned: false } } });
    expect(mappings(d, 'OrdersLambdaFunction').map(([, p]) => p['ProvisionedPollerConfig'])).toEqual([undefined, undefined]);
    expect(mappings(d, 'ByDashuserLambdaFunction').every(([, p]) => p['ProvisionedPollerConfig'] !== undefined)).toBe(true);
  });

  it('rejects fewer maximum than minimum pollers', () => {
    expect(configError(() => deploy({ kafka: msk, provisioned: { minimumPollers: 4, maximumPollers: 2 } })).place.field).toBe('custom.sluice.provisioned.maximumPollers');
  });
});

describe('on-failure destinations', () => {
  it('send batches Lambda gave up on to the destination, after the given retries', () => {
    const d = deploy({ kafka: msk, provisioned: true, onFailure: { destination: QUEUE, maximumRetryAttempts: 20 } });
    expect(mapping(d, 'OrdersEventSourceMappingMSKOrdersclusterOrders')).toMatchObject({ DestinationConfig: { OnFailure: { Destination: QUEUE } }, MaximumRetryAttempts: 20 });
    expect(statements(d, 'SluiceRoleOrders').find((s) => s.Sid === 'OnFailureDestination')).toEqual({ Sid: 'OnFailureDestination', Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: QUEUE });
  });

  it('let the role write a kafka:// destination topic on MSK', () => {
    const d = deploy({ kafka: msk, stages: { orders: { onFailure: 'kafka://shop.failed' } } });
    expect(statements(d, 'SluiceRoleOrders').find((s) => s.Sid === 'OnFailureDestination')?.Resource).toEqual([
      CLUSTER,
      'arn:aws:kafka:eu-west-1:123456789012:topic/orders-cluster/abcd-1234-ef/shop.failed',
    ]);
    expect(statements(d, 'SluiceRoleByDashuser').map((s) => s.Sid)).not.toContain('OnFailureDestination');
  });

  it('let the role put objects into an S3 destination', () => {
    const d = deploy({ kafka: inVpc, onFailure: 'arn:aws:s3:::shop-failures' });
    expect(statements(d, 'SluiceRoleOrders').filter((s) => s.Sid.startsWith('OnFailureDestination')).map((s) => [s.Action, s.Resource])).toEqual([
      [['s3:PutObject'], 'arn:aws:s3:::shop-failures/*'],
      [['s3:ListBucket'], 'arn:aws:s3:::shop-failures'],
    ]);
  });

  it('need provisioned mode for a retry limit, naming the setting', () => {
    const e = configError(() => deploy({ kafka: msk, onFailure: { destination: QUEUE, maximumRetryAttempts: 3 } }));
    expect(e.place.field).toBe('custom.sluice.onFailure.maximumRetryAttempts');
  });

  it('refuse a destination that is not one Lambda accepts', () => {
    expect(configError(() => deploy({ kafka: msk, onFailure: 'https://example.com/hook' })).place.field).toBe('custom.sluice.onFailure.destination');
  });

  it('refuse a Kafka destination that is the topic the trigger reads', () => {
    const e = configError(() => deploy({ kafka: msk, stages: { orders: { onFailure: 'kafka://orders' } } }));
    expect(e.place).toMatchObject({ stage: 'orders', topic: 'orders' });
  });
});
