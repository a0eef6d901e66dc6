import { describe, expect, it } from 'vitest';
import { SOURCE_STARTS_ENV, sourceStartsFromEnv } from '../../../framework/runtime/source-starts.js';
import { compile, ConfigError, count, json, pipeline, tumbling } from '../../../framework/index.js';
import type { Topology } from '../../../framework/index.js';
import type { PolicyStatement } from '../../../framework/deploy/iam.js';
import { consumerGroupId } from '../../../framework/deploy/iam.js';
import type { CfnResource, Deployment, FunctionSpec } from '../../../framework/deploy/resources.js';
import { buildDeployment, kafkaEnvironment, TICKER_HANDLER } from '../../../framework/deploy/resources.js';
import { parseDeploySettings } from '../../../framework/deploy/settings.js';
import { DEPLOY_DEFAULTS } from '../../../framework/deploy/defaults.js';

interface Order {
  readonly id: string;
  readonly user: string;
}

/** orders ─keyBy user─▶ by-user ─keyBy order─▶ by-order ─▶ counts */
function shop(): Topology {
  const p = pipeline('shop', { partitions: 4, functionTimeout: '90s' });
  p.source('orders', { serde: json<Order>(), partitions: 6 })
    .keyBy((o) => o.user, { name: 'user' })
    .process<Order>((o, ctx) => ctx.emit(o))
    .keyBy((o) => o.id, { name: 'order', partitions: 8 })
    .aggregate(count())
    .sink('counts', { serde: json() });
  return compile(p.plan());
}

/** clicks ─keyBy user─▶ per-user (tumbling 1 min counts): the source's idleness matters, so the ticker wakes it. */
function clicks(): Topology {
  const p = pipeline('shop', { partitions: 4 });
  p.source('clicks', { serde: json<Order>(), partitions: 3, maxOutOfOrderness: '5s' })
    .keyBy((o) => o.user, { name: 'user' })
    .window(tumbling('1m'))
    .aggregate(count())
    .sink('per-user', { serde: json() });
  return compile(p.plan());
}

const CLUSTER = 'arn:aws:kafka:eu-west-1:123456789012:cluster/orders-cluster/abcd-1234-ef';
const TOPIC_ARN = 'arn:aws:kafka:eu-west-1:123456789012:topic/orders-cluster/abcd-1234-ef';
const SCRAM = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_shop-AbCdEf';
const CTX = { service: 'shop-svc', stage: 'prod' };

const msk = { type: 'msk', clusterArn: CLUSTER, bootstrapServers: ['b-1.orders:9098', 'b-2.orders:9098'] };
const VPC = { subnetIds: ['subnet-1a'], securityGroupIds: ['sg-9'] };
const selfManaged = { type: 'self-managed', bootstrapServers: 'k1:9092,k2:9092', auth: { vpc: VPC } };

function deploy(custom: Record<string, unknown>, topology: Topology = shop()): Deployment {
  return buildDeployment(topology, parseDeploySettings({ pipeline: 'functions/shop/pipeline.ts#shop', ...custom }), CTX);
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

function fn(d: Deployment, key: string): FunctionSpec {
  const f = d.functions[key];
  if (!f) throw new Error(`no function ${key}; functions: ${Object.keys(d.functions).join(', ')}`);
  return f;
}

function statements(d: Deployment, role: string): PolicyStatement[] {
  const r = d.resources[role];
  if (!r) throw new Error(`no resource ${role}`);
  const policies = r.Properties['Policies'] as Array<{ PolicyDocument: { Statement: PolicyStatement[] } }>;
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

function statement(d: Deployment, role: string, sid: string): PolicyStatement {
  const s = statements(d, role).find((x) => x.Sid === sid);
  if (!s) throw new Error(`role ${role} has no statement ${sid}; it has ${statements(d, role).map((x) => x.Sid).join(', ')}`);
  return s;
}

describe('functions', () => {
  it('adds one function per stage, and the ticker when a stage may need waking in processing time', () => {
    expect(Object.keys(deploy({ kafka: msk }).functions)).toEqual(['orders', 'by-user', 'by-order']);
    expect(Object.keys(deploy({ kafka: msk }, clicks()).functions)).toEqual(['clicks', 'by-user', 'ticker']);
  });

  it('points each stage at functions/<app>/<stage>.handler on nodejs22.x with the pipeline function timeout', () => {
    const f = fn(deploy({ kafka: msk }), 'by-user');
    expect(f).toMatchObject({ name: 'shop-svc-prod-by-user', handler: 'functions/shop/by-user.handler', runtime: 'nodejs22.x', timeout: 90, events: [] });
  });

  it("points each function at its own role's ARN without a logical-id role (which would add a redundant DependsOn)", () => {
    expect(fn(deploy({ kafka: msk }), 'by-user').role).toEqual({ 'Fn::Sub': '${SluiceRoleByDashuser.Arn}' });
  });

  it('takes a stage handler from custom.sluice.handlers', () => {
    const d = deploy({ kafka: msk, handlers: { orders: 'src/ingest.main' } });
    expect(fn(d, 'orders').handler).toBe('src/ingest.main');
    expect(fn(d, 'by-user').handler).toBe('functions/shop/by-user.handler');
  });

  it('rejects a handler for a stage the pipeline does not have, naming the setting', () => {
    const e = configError(() => deploy({ kafka: msk, handlers: { 'by-usr': 'x.handler' } }));
    expect(e.place.field).toBe('custom.sluice.handlers.by-usr');
    expect(e.message).toContain('stages: orders, by-user, by-order');
  });

  it('sets the table, app, stage and Kafka auth in the environment', () => {
    expect(fn(deploy({ kafka: msk }), 'by-order').environment).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      SLUICE_KAFKA_TLS: 'true',
      SLUICE_KAFKA_AUTH: 'iam',
      SLUICE_KAFKA_BROKERS: 'b-1.orders:9098,b-2.orders:9098',
      SLUICE_APP: 'shop',
      SLUICE_STAGE: 'by-order',
      SLUICE_TABLE: { Ref: 'SluiceTable' },
    });
  });

  it('tells a source stage where its trigger starts (for its backlog probe), and no other stage', () => {
    const env = (d: ReturnType<typeof deploy>, stage: string) => fn(d, stage).environment as Record<string, string>;
    expect(sourceStartsFromEnv(env(deploy({ kafka: msk }), 'orders'))).toEqual({ orders: { startingPosition: 'TRIM_HORIZON' } });
    const at = deploy({ kafka: msk, sources: { orders: { startingPosition: 'AT_TIMESTAMP', startingPositionTimestamp: '2026-12-01T00:00:00Z' } } });
    expect(sourceStartsFromEnv(env(at, 'orders'))).toEqual({ orders: { startingPosition: 'AT_TIMESTAMP', startingPositionTimestamp: Date.UTC(2026, 11, 1) / 1000 } });
    expect(sourceStartsFromEnv(env(deploy({ kafka: msk, startingPosition: 'LATEST' }), 'orders'))).toEqual({ orders: { startingPosition: 'LATEST' } });
    expect(env(at, 'by-user')[SOURCE_STARTS_ENV]).toBeUndefined();
  });

  it('fails when a function name would pass Lambda\'s 64 characters, naming the service', () => {
    const e = configError(() => buildDeployment(shop(), parseDeploySettings({ pipeline: 'p.ts#p', kafka: msk }), { service: 's'.repeat(50), stage: 'production' }));
    expect(e.place.field).toBe('service');
  });
});

describe('consumer groups', () => {
  it('keeps consumer group ids within Lambda\'s 200 characters and under the stage prefix', () => {
    const id = consumerGroupId('shop', 'by-user', `t${'x'.repeat(240)}`);
    expect(id.length).toBeLessThanOrEqual(200);
    expect(id.startsWith('shop.by-user.')).toBe(true);
  });
});

describe('IAM roles', () => {
  it('gives each function its own role', () => {
    const d = deploy({ kafka: msk });
    expect(Object.entries(d.resources).filter(([, r]) => r.Type === 'AWS::IAM::Role').map(([id]) => id)).toEqual([
      'SluiceRoleOrders',
      'SluiceRoleByDashuser',
      'SluiceRoleByDashorder',
    ]);
  });

  it("limits DynamoDB to reads and puts of the stage's task items with dynamodb:LeadingKeys", () => {
    expect(statement(deploy({ kafka: msk }), 'SluiceRoleByDashuser', 'StateTable')).toEqual({
      Sid: 'StateTable',
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem'],
      Resource: { 'Fn::GetAtt': ['SluiceTable', 'Arn'] },
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['task#shop#by-user.*', 'ckpt#shop#by-user.*'] } },
    });
  });

  it('never grants Scan, which ForAllValues would allow without any key', () => {
    const d = deploy({ kafka: msk });
    const all = Object.keys(d.resources).flatMap((id) => (id.startsWith('SluiceRole') ? statements(d, id) : []));
    expect(all.flatMap((s) => s.Action).filter((a) => a.startsWith('dynamodb:Scan'))).toEqual([]);
  });

  it('lets a stage read its inputs, control topic, the progress topic and its changelog over MSK IAM', () => {
    expect(statement(deploy({ kafka: msk }), 'SluiceRoleByDashuser', 'MskRead')).toEqual({
      Sid: 'MskRead',
      Effect: 'Allow',
      Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
      Resource: [`${TOPIC_ARN}/shop.by-user.in`, `${TOPIC_ARN}/shop.by-user.control`, `${TOPIC_ARN}/shop.progress`, `${TOPIC_ARN}/shop.by-user.changelog`],
    });
  });

  it('lets a stage write its outputs, dead letters, progress records, the control topic downstream and its changelog', () => {
    expect(statement(deploy({ kafka: msk }), 'SluiceRoleByDashuser', 'MskWrite').Resource).toEqual([
      `${TOPIC_ARN}/shop.by-order.in`,
      `${TOPIC_ARN}/shop.by-user.dlq`,
      `${TOPIC_ARN}/shop.progress`,
      `${TOPIC_ARN}/shop.by-order.control`,
      `${TOPIC_ARN}/shop.by-user.changelog`,
    ]);
  });

  it("scopes consumer groups and transactional ids to the stage's prefix", () => {
    const d = deploy({ kafka: msk });
    expect(statement(d, 'SluiceRoleOrders', 'MskGroups')).toMatchObject({
      Action: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
      Resource: [
        'arn:aws:kafka:eu-west-1:123456789012:group/orders-cluster/abcd-1234-ef/shop.orders.*',
      ],
    });
    expect(statement(d, 'SluiceRoleOrders', 'MskTransactions')).toMatchObject({
      Action: ['kafka-cluster:DescribeTransactionalId', 'kafka-cluster:AlterTransactionalId'],
      Resource: ['arn:aws:kafka:eu-west-1:123456789012:transactional-id/orders-cluster/abcd-1234-ef/shop.orders.*'],
    });
  });

  it('allows the MSK event source its cluster look-ups and VPC network interfaces', () => {
    const d = deploy({ kafka: msk });
    expect(statement(d, 'SluiceRoleOrders', 'MskEventSource')).toMatchObject({ Action: ['kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'], Resource: CLUSTER });
    expect(statement(d, 'SluiceRoleOrders', 'MskConnect').Action).toEqual([
      'kafka-cluster:Connect',
      'kafka-cluster:DescribeCluster',
      'kafka-cluster:DescribeClusterDynamicConfiguration',
      'kafka-cluster:WriteDataIdempotently',
    ]);
    expect(statement(d, 'SluiceRoleOrders', 'VpcNetworkInterfaces').Resource).toBe('*');
  });

  it('writes logs only to the function\'s own log group', () => {
    expect(statement(deploy({ kafka: msk }), 'SluiceRoleOrders', 'Logs').Resource).toEqual({
      'Fn::Sub': 'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/shop-svc-prod-orders:*',
    });
  });

  it('uses the SCRAM secret instead of MSK IAM data-plane permissions when MSK is reached with SCRAM', () => {
    const d = deploy({ kafka: { ...msk, auth: { saslScram512: SCRAM } } });
    expect(statements(d, 'SluiceRoleOrders').map((s) => s.Sid)).toEqual(['Logs', 'StateTable', 'MskEventSource', 'KafkaSecrets', 'VpcNetworkInterfaces']);
    expect(statement(d, 'SluiceRoleOrders', 'KafkaSecrets')).toEqual({ Sid: 'KafkaSecrets', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [SCRAM] });
  });

  it('grants no TransactWriteItems, which is not an IAM action (each item is authorised as its own write)', () => {
    expect(statement(deploy({ kafka: msk }), 'SluiceRoleOrders', 'StateTable').Action).not.toContain('dynamodb:TransactWriteItems');
  });

  it('needs only VPC network interfaces for self-managed Kafka reached through a VPC without auth', () => {
    expect(statements(deploy({ kafka: selfManaged }), 'SluiceRoleOrders').map((s) => s.Sid)).toEqual(['Logs', 'StateTable', 'VpcNetworkInterfaces']);
  });

  it('lets the ticker read the checkpoints and changelogs of the stages it wakes and write only their control topics', () => {
    const d = deploy({ kafka: msk }, clicks());
    expect(statements(d, 'SluiceRoleTicker').map((s) => s.Sid)).toEqual(['Logs', 'StateTable', 'MskConnect', 'MskRead', 'MskWrite']);
    expect(statement(d, 'SluiceRoleTicker', 'MskRead').Resource).toEqual([`${TOPIC_ARN}/shop.clicks.changelog`]);
    expect(statement(d, 'SluiceRoleTicker', 'MskWrite').Resource).toEqual([`${TOPIC_ARN}/shop.clicks.control`]);
    expect(statement(d, 'SluiceRoleTicker', 'StateTable')).toMatchObject({
      Action: ['dynamodb:GetItem', 'dynamodb:BatchGetItem'],
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['task#shop#clicks.*'] } },
    });
  });
});

describe('the table', () => {
  it('is pay-per-request with string pk/sk, TTL on ttl, retained on stack deletion', () => {
    expect(deploy({ kafka: msk }).resources['SluiceTable']).toEqual({
      Type: 'AWS::DynamoDB::Table',
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        TableName: 'shop-svc-prod-state',
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
      },
    });
  });

  it('takes a name, point-in-time recovery and retention from custom.sluice.table', () => {
    const table = deploy({ kafka: msk, table: { name: 'shop-state', pointInTimeRecovery: true, retain: false } }).resources['SluiceTable'] as CfnResource;
    expect(table.DeletionPolicy).toBeUndefined();
    expect(table.Properties).toMatchObject({ TableName: 'shop-state', PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } });
  });
});

describe('the ticker', () => {
  it('runs every minute, one pass per run, from a generated handler that reads the app table', () => {
    const t = fn(deploy({ kafka: msk }, clicks()), 'ticker');
    expect(t).toMatchObject({ handler: TICKER_HANDLER, timeout: 30, memorySize: DEPLOY_DEFAULTS.ticker.memorySizeMb, architecture: DEPLOY_DEFAULTS.architecture, events: [{ schedule: { rate: ['rate(1 minute)'] } }] });
    expect(t.environment).toMatchObject({
      SLUICE_KAFKA_BROKERS: 'b-1.orders:9098,b-2.orders:9098',
      SLUICE_TABLE: { Ref: 'SluiceTable' },
      SLUICE_TICK_INTERVAL_MS: '60000',
      SLUICE_TICK_DURATION_MS: '0',
    });
  });

  it('passes every intervalSeconds until the next run when asked for finer ticks', () => {
    const t = fn(deploy({ kafka: msk, ticker: { intervalSeconds: 5 } }, clicks()), 'ticker');
    expect(t).toMatchObject({ timeout: 85 });
    expect(t.environment).toMatchObject({ SLUICE_TICK_INTERVAL_MS: '5000', SLUICE_TICK_DURATION_MS: '55000' });
  });

  it('ticks once per run when the interval is the whole period', () => {
    const t = fn(deploy({ kafka: msk, ticker: { rate: '5 minutes', intervalSeconds: 300 } }, clicks()), 'ticker');
    expect(t).toMatchObject({ timeout: 30, events: [{ schedule: { rate: ['rate(5 minutes)'] } }] });
    expect(t.environment).toMatchObject({ SLUICE_TICK_INTERVAL_MS: '300000', SLUICE_TICK_DURATION_MS: '0' });
  });

  it('refuses to tick through a period longer than one Lambda run', () => {
    expect(configError(() => deploy({ kafka: msk, ticker: { rate: '1 hour', intervalSeconds: 10 } }, clicks())).place.field).toBe('custom.sluice.ticker.intervalSeconds');
  });

  it('needs the bootstrap servers on MSK, naming the setting', () => {
    const e = configError(() => deploy({ kafka: { type: 'msk', clusterArn: CLUSTER } }, clicks()));
    expect(e.place.field).toBe('custom.sluice.kafka.bootstrapServers');
  });

  it('is left out with ticker: false', () => {
    const d = deploy({ kafka: { type: 'msk', clusterArn: CLUSTER }, ticker: false }, clicks());
    expect(Object.keys(d.functions)).not.toContain('ticker');
    expect(d.resources['SluiceRoleTicker']).toBeUndefined();
  });
});

describe('settings', () => {
  it.each([
    [{ kafka: { type: 'msk' } }, 'custom.sluice.kafka.clusterArn'],
    [{ kafka: { type: 'msk', clusterArn: 'arn:aws:kafka:eu-west-1:123456789012:topic/x/y/z' } }, 'custom.sluice.kafka.clusterArn'],
    [{ kafka: { type: 'self-managed' } }, 'custom.sluice.kafka.bootstrapServers'],
    [{ kafka: { type: 'self-managed', bootstrapServers: ['no-port'] } }, 'custom.sluice.kafka.bootstrapServers[0]'],
    [{ kafka: { type: 'confluent' } }, 'custom.sluice.kafka.type'],
    [{}, 'custom.sluice.kafka'],
    [{ kafka: msk, batchSize: 0 }, 'custom.sluice.batchSize'],
    [{ kafka: msk, startingPosition: 'FIRST' }, 'custom.sluice.startingPosition'],
    [{ kafka: msk, startingPosition: 'AT_TIMESTAMP' }, 'custom.sluice.startingPositionTimestamp'],
    [{ kafka: { type: 'self-managed', bootstrapServers: 'k1:9092' } }, 'custom.sluice.kafka.auth'],
    [{ kafka: msk, tabel: {} }, 'custom.sluice.tabel'],
    [{ kafka: { ...selfManaged, auth: { saslScram512: SCRAM, mtls: SCRAM } } }, 'custom.sluice.kafka.auth'],
    [{ kafka: { ...selfManaged, auth: { saslScram512: 'my-secret' } } }, 'custom.sluice.kafka.auth.saslScram512'],
    [{ kafka: msk, ticker: { rate: 'every minute' } }, 'custom.sluice.ticker.rate'],
  ])('rejects %j, naming %s', (custom, field) => {
    expect(configError(() => parseDeploySettings({ pipeline: 'p.ts#p', ...custom })).place.field).toBe(field);
  });

  it('needs custom.sluice.pipeline as <module>#<export>', () => {
    expect(configError(() => parseDeploySettings({ pipeline: 'functions/shop/pipeline.ts', kafka: msk })).place.field).toBe('custom.sluice.pipeline');
    expect(parseDeploySettings({ pipeline: 'functions/shop/pipeline.ts#shop', kafka: msk }).pipeline).toEqual({ module: 'functions/shop/pipeline.ts', exportName: 'shop' });
  });

  it('says custom.sluice is missing when it is', () => {
    expect(configError(() => parseDeploySettings(undefined)).place.field).toBe('custom.sluice');
  });
});

describe('Kafka client environment', () => {
  it('selects SCRAM-512 with its secret on MSK', () => {
    const env = kafkaEnvironment(parseDeploySettings({ pipeline: 'p.ts#p', kafka: { ...msk, auth: { saslScram512: SCRAM } } }));
    expect(env).toMatchObject({ SLUICE_KAFKA_AUTH: 'scram-512', SLUICE_KAFKA_SECRET_ARN: SCRAM, SLUICE_KAFKA_TLS: 'true' });
  });

  it('selects mTLS with a root CA on self-managed Kafka, TLS on', () => {
    const ca = `${SCRAM}-ca`;
    const env = kafkaEnvironment(parseDeploySettings({ pipeline: 'p.ts#p', kafka: { ...selfManaged, auth: { mtls: SCRAM, rootCa: ca } } }));
    expect(env).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      SLUICE_KAFKA_BROKERS: 'k1:9092,k2:9092',
      SLUICE_KAFKA_TLS: 'true',
      SLUICE_KAFKA_AUTH: 'mtls',
      SLUICE_KAFKA_SECRET_ARN: SCRAM,
      SLUICE_KAFKA_CA_SECRET_ARN: ca,
    });
  });

  it('uses plaintext without auth on self-managed Kafka in a VPC unless tls is set', () => {
    expect(kafkaEnvironment(parseDeploySettings({ pipeline: 'p.ts#p', kafka: selfManaged }))).toMatchObject({ SLUICE_KAFKA_AUTH: 'none', SLUICE_KAFKA_TLS: 'false' });
    expect(kafkaEnvironment(parseDeploySettings({ pipeline: 'p.ts#p', kafka: { ...selfManaged, tls: true } }))).toMatchObject({ SLUICE_KAFKA_TLS: 'true' });
  });
});
