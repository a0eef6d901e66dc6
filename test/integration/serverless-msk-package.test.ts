/**
 * `osls package` of the production-shaped fixture service (test/fixtures/deploy/msk-provisioned:
 * Amazon MSK with IAM, provisioned pollers, an on-failure destination, a source starting at a
 * point in time, one stage with its own batching window): the settings a Serverless `msk` event
 * cannot carry must reach the template's `AWS::Lambda::EventSourceMapping` resources.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '../..');
const SERVICE = join(REPO, 'test/fixtures/deploy/msk-provisioned');
const CLUSTER = 'arn:aws:kafka:eu-west-1:123456789012:cluster/ysb/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d-5';
const QUEUE = 'arn:aws:sqs:eu-west-1:123456789012:ysb-failed-batches';

interface Resource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
}

let dir: string;
let resources: Record<string, Resource>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-msk-package-'));
  // `plugins: [sluice/serverless]` resolves to this checkout's sources (the package's export condition), built or not.
  await run(process.execPath, ['--conditions=sluice-source', join(REPO, 'node_modules/osls/bin/serverless.js'), 'package', '--stage', 'prod', '--package', join(dir, 'package')], {
    cwd: SERVICE,
    env: { ...process.env, SLS_TELEMETRY_DISABLED: '1' },
    timeout: 90_000,
  });
  resources = (JSON.parse(await readFile(join(dir, 'package', 'cloudformation-template-update-stack.json'), 'utf8')) as { Resources: Record<string, Resource> }).Resources;
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function mapping(id: string): Record<string, unknown> {
  const r = resources[id];
  if (!r) throw new Error(`no ${id}; mappings: ${Object.keys(resources).filter((k) => k.includes('EventSourceMapping')).join(', ')}`);
  return r.Properties;
}

describe('an MSK deployment in provisioned mode', () => {
  it('starts the source at the configured time and internal topics at their start', () => {
    expect(mapping('ViewsEventSourceMappingMSKYsbAdevents')).toMatchObject({ EventSourceArn: CLUSTER, StartingPosition: 'AT_TIMESTAMP', StartingPositionTimestamp: 1_796_083_200 });
    expect(mapping('CountsEventSourceMappingMSKYsbYsbcountsin')['StartingPosition']).toBe('TRIM_HORIZON');
  });

  it('keeps every trigger in one poller group per deployment, at most one poller per partition', () => {
    const configs = Object.values(resources)
      .filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping')
      .map((r) => [(r.Properties['Topics'] as string[])[0], r.Properties['ProvisionedPollerConfig']]);
    expect(configs).toEqual([
      ['ad-events', { MinimumPollers: 1, MaximumPollers: 2, PollerGroupName: 'sluice-ysb-msk-prod' }],
      ['ysb.views.control', { MinimumPollers: 1, MaximumPollers: 2, PollerGroupName: 'sluice-ysb-msk-prod' }],
      ['ysb.counts.in', { MinimumPollers: 1, MaximumPollers: 4, PollerGroupName: 'sluice-ysb-msk-prod' }],
      ['ysb.counts.control', { MinimumPollers: 1, MaximumPollers: 4, PollerGroupName: 'sluice-ysb-msk-prod' }],
    ]);
  });

  it('sends batches Lambda gives up on to the destination after 50 retries, and lets the role write there', () => {
    expect(mapping('CountsEventSourceMappingMSKYsbYsbcountscontrol')).toMatchObject({ DestinationConfig: { OnFailure: { Destination: QUEUE } }, MaximumRetryAttempts: 50 });
    const policies = resources['SluiceRoleCounts']!.Properties['Policies'] as Array<{ PolicyDocument: { Statement: Array<{ Sid: string; Action: string[]; Resource: unknown }> } }>;
    expect(policies[0]!.PolicyDocument.Statement.find((s) => s.Sid === 'OnFailureDestination')).toMatchObject({ Action: ['sqs:SendMessage'], Resource: QUEUE });
  });

  it("batches the counts stage with its own window and the views stage with the service's", () => {
    expect(mapping('CountsEventSourceMappingMSKYsbYsbcountsin')).toMatchObject({ BatchSize: 1000, MaximumBatchingWindowInSeconds: 5 });
    expect(mapping('ViewsEventSourceMappingMSKYsbAdevents')).toMatchObject({ BatchSize: 1000, MaximumBatchingWindowInSeconds: 1 });
    expect(resources['CountsLambdaFunction']!.Properties['MemorySize']).toBe(512);
  });
});
