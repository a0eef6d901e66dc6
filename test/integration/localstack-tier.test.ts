/**
 * The LocalStack tier, as `sluice demo --target localstack` runs it: LocalStack started by the
 * project's own scripts (localstack-core from PyPI in a cached venv, its DynamoDB seeded with the
 * DynamoDB Local jars), the YSB service packaged and its stateful part (table, roles, bucket,
 * log groups) created through LocalStack's CloudFormation, both YSB stages run in-process against
 * the real broker with their state in that table, and every window count checked against the
 * oracle. Starts LocalStack if it is not running and stops it again afterwards.
 */
import { DescribeStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { DescribeTableCommand, ResourceNotFoundException, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runYsbDemo, type YsbDemoResult } from '../../framework/cli/demo.js';
import { createDynamoClient } from '../../framework/dynamodb/client.js';
import { localstackEndpoint } from '../../framework/local/infra/config.js';
import { infraDown, infraStatus, loadInfraConfig } from '../../framework/local/infra/index.js';
import { localstackCloudFormation } from '../../framework/local/localstack-stack.js';

let startedHere = false;
let result: YsbDemoResult | undefined;

beforeAll(async () => {
  startedHere = (await infraStatus()).localstack.state !== 'up';
  // The checkpoint protocol writes the table on every batch, which is what this test looks for (the
  // default changelog protocol writes it only at snapshots, which a run this short never reaches).
  result = await runYsbDemo({ rate: 1_500, duration: 8, seed: 18, jitter: 1_000, skew: 1, keep: true, target: 'localstack', commit: 'checkpoint' });
}, 600_000);

afterAll(async () => {
  await result?.remove();
  if (startedHere) await infraDown({ services: ['localstack'] });
}, 180_000);

describe('the YSB example on LocalStack', () => {
  it('commits every window count exactly once, as the oracle computes them', () => {
    expect(result!.verdict).toMatchObject({ ok: true, duplicates: [], missing: [], wrong: [], unexpected: [] });
    expect(result!.verdict.matched).toBe(result!.verdict.expectedCounts);
    expect(result!.verdict.results).toBeGreaterThanOrEqual(100);
  });

  it("keeps the stages' state in the table the stack created, on LocalStack's DynamoDB", async () => {
    const endpoint = localstackEndpoint(loadInfraConfig());
    expect(result!.dynamodbEndpoint).toBe(endpoint);
    expect(result!.table).toBe(`sluice-ysb-demo-${result!.app.slice('ysb-demo-'.length)}-state`);
    const localstack = createDynamoClient({ endpoint });
    try {
      const scan = await localstack.send(new ScanCommand({ TableName: result!.table, Select: 'COUNT' }));
      expect(scan.Count).toBeGreaterThan(0);
    } finally {
      localstack.destroy();
    }
    // ...and not in the suite's DynamoDB Local.
    const dynamodbLocal = createDynamoClient({ endpoint: inject('dynamodbEndpoint') });
    try {
      await expect(dynamodbLocal.send(new DescribeTableCommand({ TableName: result!.table }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    } finally {
      dynamodbLocal.destroy();
    }
  });

  it('created the stateful resources through CloudFormation and none that needs Lambda', async () => {
    const cfn = localstackCloudFormation(result!.dynamodbEndpoint);
    try {
      const { StackResources } = await cfn.send(new DescribeStackResourcesCommand({ StackName: result!.stack! }));
      const resources = (StackResources ?? []).map((r) => [r.LogicalResourceId, r.ResourceType, r.ResourceStatus]);
      expect(resources.sort()).toEqual(
        [
          ['CountsLogGroup', 'AWS::Logs::LogGroup', 'CREATE_COMPLETE'],
          ['ServerlessDeploymentBucket', 'AWS::S3::Bucket', 'CREATE_COMPLETE'],
          ['ServerlessDeploymentBucketPolicy', 'AWS::S3::BucketPolicy', 'CREATE_COMPLETE'],
          ['SluiceRoleCounts', 'AWS::IAM::Role', 'CREATE_COMPLETE'],
          ['SluiceRoleTicker', 'AWS::IAM::Role', 'CREATE_COMPLETE'],
          ['SluiceRoleViews', 'AWS::IAM::Role', 'CREATE_COMPLETE'],
          ['SluiceTable', 'AWS::DynamoDB::Table', 'CREATE_COMPLETE'],
          ['TickerLogGroup', 'AWS::Logs::LogGroup', 'CREATE_COMPLETE'],
          ['ViewsLogGroup', 'AWS::Logs::LogGroup', 'CREATE_COMPLETE'],
        ].sort(),
      );
    } finally {
      cfn.destroy();
    }
  });
});
