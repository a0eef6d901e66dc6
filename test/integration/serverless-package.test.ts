/**
 * `osls package` on the repository's own serverless.yml (the YSB example), into a temp
 * directory: the Sluice plugin must turn the pipeline into functions, Kafka triggers, roles and
 * the table, and package each function from its own bundle. No Kafka and no AWS call is needed.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../framework/index.js';
import type { Topology } from '../../framework/index.js';
import { ysb } from '../../functions/ysb/pipeline.js';
import { batchingWindowProperty, defaultBatchingWindowSeconds, DEPLOY_DEFAULTS } from '../../framework/deploy/defaults.js';

const run = promisify(execFile);

interface Resource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
  readonly DependsOn?: string[];
}
interface Statement {
  readonly Sid: string;
  readonly Action: string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

const topology: Topology = compile(ysb.plan());
const tickerExists = existsSync('framework/runtime/ticker-handler.ts');
let dir: string;
let resources: Record<string, Resource>;
let output: string;

/** The environment of `osls package`: the default YSB names, whatever the calling shell sets. */
function packageEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_REGION: 'us-east-1', SLUICE_KAFKA_BROKERS: '127.0.0.1:19092', SLS_TELEMETRY_DISABLED: '1' };
  delete env['SLUICE_YSB_APP'];
  delete env['SLUICE_YSB_SOURCE_TOPIC'];
  delete env['SLUICE_SUBNET_IDS'];
  delete env['SLUICE_SECURITY_GROUP_IDS'];
  return env;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-package-'));
  const out = await run(process.execPath, ['node_modules/osls/bin/serverless.js', 'package', '--stage', 'dev', '--package', join(dir, 'package')], {
    env: packageEnv(),
    timeout: 90_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  output = `${out.stdout}${out.stderr}`;
  const template = JSON.parse(await readFile(join(dir, 'package', 'cloudformation-template-update-stack.json'), 'utf8')) as { Resources: Record<string, Resource> };
  resources = template.Resources;
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function resource(id: string): Resource {
  const r = resources[id];
  if (!r) throw new Error(`no resource ${id}; have: ${Object.keys(resources).join(', ')}`);
  return r;
}

function logicalId(key: string): string {
  const n = key.replace(/-/g, 'Dash');
  return `${n.charAt(0).toUpperCase()}${n.slice(1)}`;
}

function mappingsOf(functionId: string): Resource[] {
  return Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping' && JSON.stringify(r.Properties['FunctionName']).includes(`"${functionId}"`));
}

function policy(roleId: string): Statement[] {
  const policies = resource(roleId).Properties['Policies'] as Array<{ PolicyDocument: { Statement: Statement[] } }>;
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

/** The files of a zip, read back through its central directory. */
function unzip(archive: Buffer): Map<string, Buffer> {
  const end = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let at = archive.readUInt32LE(end + 16);
  const files = new Map<string, Buffer>();
  for (let i = 0; i < archive.readUInt16LE(end + 10); i += 1) {
    const size = archive.readUInt32LE(at + 20);
    const nameLength = archive.readUInt16LE(at + 28);
    const local = archive.readUInt32LE(at + 42);
    const name = archive.toString('utf8', at + 46, at + 46 + nameLength);
    const dataAt = local + 30 + archive.readUInt16LE(local + 26) + archive.readUInt16LE(local + 28);
    files.set(name, archive.readUInt16LE(at + 10) === 8 ? inflateRawSync(archive.subarray(dataAt, dataAt + size)) : archive.subarray(dataAt, dataAt + size));
    at += 46 + nameLength + archive.readUInt16LE(at + 30) + archive.readUInt16LE(at + 32);
  }
  return files;
}

describe('osls package with the Sluice plugin', () => {
  it('creates one Lambda function per stage, plus the ticker when its handler exists', () => {
    const functions = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function').map(([id]) => id);
    const expected = topology.stages.map((s) => `${logicalId(s.name)}LambdaFunction`);
    expect(functions).toEqual(tickerExists ? [...expected, 'TickerLambdaFunction'] : expected);
    expect(functions).toEqual(tickerExists ? ['ViewsLambdaFunction', 'CountsLambdaFunction', 'TickerLambdaFunction'] : ['ViewsLambdaFunction', 'CountsLambdaFunction']);
    expect(resource('ViewsLambdaFunction').Properties).toMatchObject({
      FunctionName: 'sluice-ysb-dev-views',
      Handler: 'functions/ysb/views.handler',
      Runtime: 'nodejs22.x',
      Timeout: topology.settings.functionTimeoutMs / 1000,
      Role: { 'Fn::Sub': '${SluiceRoleViews.Arn}' },
      VpcConfig: { SubnetIds: ['subnet-0123456789abcdef0'], SecurityGroupIds: ['sg-0123456789abcdef0'] },
      Environment: {
        Variables: { SLUICE_TABLE: { Ref: 'SluiceTable' }, SLUICE_KAFKA_BROKERS: '127.0.0.1:19092', SLUICE_KAFKA_AUTH: 'none', SLUICE_APP: 'ysb', SLUICE_STAGE: 'views', SLUICE_YSB_APP: 'ysb', SLUICE_YSB_SOURCE_TOPIC: 'ad-events' },
      },
    });
    expect(resource('CountsLambdaFunction').Properties).toMatchObject({ FunctionName: 'sluice-ysb-dev-counts', Handler: 'functions/ysb/counts.handler', Role: { 'Fn::Sub': '${SluiceRoleCounts.Arn}' } });
  });

  it('sizes every stage function with Sluice\'s default memory and architecture', () => {
    for (const s of topology.stages) {
      expect(resource(`${logicalId(s.name)}LambdaFunction`).Properties).toMatchObject({ MemorySize: DEPLOY_DEFAULTS.memorySizeMb, Architectures: [DEPLOY_DEFAULTS.architecture] });
    }
  });

  it('lets no function depend on its role explicitly: the role reference already orders them (cfn-lint W3005)', () => {
    const functions = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(functions.map((f) => (f.DependsOn ?? []).filter((d) => d.startsWith('SluiceRole')))).toEqual(functions.map(() => []));
  });

  it('schedules the ticker every minute, or warns when it has to leave it out', () => {
    if (!tickerExists) return void expect(output).toContain('deploying without the ticker');
    expect(resource('TickerLambdaFunction').Properties).toMatchObject({ Handler: 'sluice-ticker.handler', Role: { 'Fn::Sub': '${SluiceRoleTicker.Arn}' } });
    const rules = Object.values(resources).filter((r) => r.Type === 'AWS::Events::Rule');
    expect(rules.map((r) => r.Properties['ScheduleExpression'])).toEqual(['rate(1 minute)']);
  });

  it('maps every data input topic and every control topic of a stage to its function', () => {
    for (const stage of topology.stages) {
      const mappings = mappingsOf(`${logicalId(stage.name)}LambdaFunction`);
      expect(mappings.map((m) => (m.Properties['Topics'] as string[])[0])).toEqual([...stage.inputs.map((i) => i.topic), stage.controlTopic]);
      for (const m of mappings) {
        // serverless.yml sets no batching: Sluice's defaults apply (0.5 s, Lambda's own window, left
        // unset on source topics; 0 on the topics Sluice writes).
        expect(m.Properties['BatchSize']).toBe(DEPLOY_DEFAULTS.batchSize);
        const topic = (m.Properties['Topics'] as string[])[0]!;
        const source = stage.inputs.some((i) => i.topic === topic && i.kind === 'source');
        expect(m.Properties['MaximumBatchingWindowInSeconds']).toBe(batchingWindowProperty(defaultBatchingWindowSeconds(source ? 'source' : 'internal')));
        expect(m.Properties).toMatchObject({
          StartingPosition: 'TRIM_HORIZON',
          SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['127.0.0.1:19092'] } },
          // Unauthenticated brokers are reached through their VPC (serverless.yml's placeholders).
          SourceAccessConfigurations: [
            { Type: 'VPC_SUBNET', URI: 'subnet:subnet-0123456789abcdef0' },
            { Type: 'VPC_SECURITY_GROUP', URI: 'security_group:sg-0123456789abcdef0' },
          ],
        });
      }
    }
    expect(mappingsOf('ViewsLambdaFunction').map((m) => m.Properties['Topics'])).toEqual([['ad-events'], ['ysb.views.control']]);
    expect(mappingsOf('CountsLambdaFunction').map((m) => m.Properties['Topics'])).toEqual([[topology.stages[1]!.inputs[0]!.topic], ['ysb.counts.control']]);
    expect(mappingsOf('CountsLambdaFunction').map((m) => m.Properties['SelfManagedKafkaEventSourceConfig'])).toEqual(
      [topology.stages[1]!.inputs[0]!.topic, 'ysb.counts.control'].map((topic) => ({ ConsumerGroupId: `ysb.counts.${topic}` })),
    );
  });

  it('creates the DynamoDB table with string keys, TTL on ttl and point-in-time recovery', () => {
    expect(resource('SluiceTable')).toMatchObject({
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: 'sluice-ysb-dev-state',
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      },
    });
  });

  it("gives each stage a role limited to its own log group, DynamoDB keys and VPC interfaces, and no shared default role", () => {
    expect(resources['IamRoleLambdaExecution']).toBeUndefined();
    for (const stage of topology.stages) {
      const statements = policy(`SluiceRole${logicalId(stage.name)}`);
      expect(statements.map((s) => s.Sid)).toEqual(['Logs', 'StateTable', 'VpcNetworkInterfaces']);
      expect(statements[1]!.Condition).toEqual({
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`task#ysb#${stage.name}.*`, `ckpt#ysb#${stage.name}.*`] },
      });
    }
  });

  it('packages each stage as its own zip holding the bundle at the handler path', async () => {
    for (const stage of topology.stages) {
      const archive = await readFile(join(dir, 'package', `${stage.name}.zip`));
      const files = unzip(archive);
      expect([...files.keys()]).toEqual([`functions/ysb/${stage.name}.mjs`, `functions/ysb/${stage.name}.mjs.map`]);
      // A bundle of kafkajs, the DynamoDB client and the pipeline: well under Lambda's 50 MB.
      expect(archive.length).toBeGreaterThan(100_000);
      expect(archive.length).toBeLessThan(5_000_000);
      console.log(`${stage.name}.zip: ${archive.length} bytes (bundle ${files.get(`functions/ysb/${stage.name}.mjs`)!.length} bytes)`);
    }
  });

  it('packages the ticker from a handler module generated for the pipeline', async () => {
    if (!tickerExists) return;
    const files = unzip(await readFile(join(dir, 'package', 'ticker.zip')));
    expect([...files.keys()]).toEqual(['sluice-ticker.mjs', 'sluice-ticker.mjs.map']);
  });

  it('makes bundles that load on their own and run the stage handler', async () => {
    const files = unzip(await readFile(join(dir, 'package', 'views.zip')));
    const root = join(dir, 'unpacked');
    for (const [name, data] of files) {
      await mkdir(dirname(join(root, name)), { recursive: true });
      await writeFile(join(root, name), data);
    }
    // A plain Node process, as Lambda's runtime would load it: no vitest transform in between.
    const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(join(root, 'functions/ysb/views.mjs')).href)});
      try { await handler({ eventSource: 'aws:sqs' }); } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code })); }`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, SLUICE_TABLE: 'unused' } });
    expect(JSON.parse(stdout)).toEqual({ name: 'EventShapeError', code: 'SLUICE_EVENT_SHAPE' });
  });

  it('writes topics.json with the internal topics and their partition counts', async () => {
    const manifest = JSON.parse(await readFile(join(dir, 'package', 'topics.json'), 'utf8')) as { topics: Array<{ name: string; partitions: number; managed: boolean }> };
    expect(manifest.topics.filter((t) => t.managed)).toEqual(
      topology.topics.filter((t) => t.managed).map((t) => ({ name: t.name, partitions: t.partitions, role: t.role, managed: true })),
    );
  });
});
