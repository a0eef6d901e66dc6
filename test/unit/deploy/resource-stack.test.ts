import { describe, expect, it } from 'vitest';
import { references, resourceStack, type CfnTemplate } from '../../../framework/deploy/resource-stack.js';

/** The shape `osls package` writes for a Sluice service, cut down to one stage. */
const TEMPLATE: CfnTemplate = {
  AWSTemplateFormatVersion: '2010-09-09',
  Resources: {
    ServerlessDeploymentBucket: { Type: 'AWS::S3::Bucket', Properties: {} },
    ServerlessDeploymentBucketPolicy: { Type: 'AWS::S3::BucketPolicy', Properties: { Bucket: { Ref: 'ServerlessDeploymentBucket' } } },
    ViewsLogGroup: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: '/aws/lambda/svc-dev-views' } },
    SluiceTable: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'svc-dev-state' } },
    SluiceRoleViews: {
      Type: 'AWS::IAM::Role',
      Properties: { Policies: [{ PolicyDocument: { Statement: [{ Resource: { 'Fn::GetAtt': ['SluiceTable', 'Arn'] } }, { Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:logs:${AWS::Region}:*' } }] } }] },
    },
    ViewsLambdaFunction: {
      Type: 'AWS::Lambda::Function',
      Properties: { Role: { 'Fn::Sub': '${SluiceRoleViews.Arn}' }, Environment: { Variables: { SLUICE_TABLE: { Ref: 'SluiceTable' } } } },
      DependsOn: ['ViewsLogGroup'],
    },
    ViewsLambdaVersionAbc: { Type: 'AWS::Lambda::Version', Properties: { FunctionName: { Ref: 'ViewsLambdaFunction' } } },
    ViewsEventSourceMappingKafkaAdevents: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { FunctionName: { 'Fn::GetAtt': ['ViewsLambdaFunction', 'Arn'] } } },
    ViewsAlarm: { Type: 'AWS::CloudWatch::Alarm', Properties: { Dimensions: [{ Value: { Ref: 'ViewsLambdaFunction' } }] } },
  },
  Outputs: {
    ServerlessDeploymentBucketName: { Value: { Ref: 'ServerlessDeploymentBucket' } },
    ViewsLambdaFunctionQualifiedArn: { Value: { Ref: 'ViewsLambdaVersionAbc' } },
    SluiceTableName: { Value: { Ref: 'SluiceTable' } },
  },
};

describe('the resources-only stack', () => {
  it('keeps the table, roles, bucket and log groups', () => {
    expect(Object.keys(resourceStack(TEMPLATE).template.Resources)).toEqual([
      'ServerlessDeploymentBucket',
      'ServerlessDeploymentBucketPolicy',
      'ViewsLogGroup',
      'SluiceTable',
      'SluiceRoleViews',
    ]);
  });

  it('leaves out what runs code and whatever refers to it', () => {
    expect([...resourceStack(TEMPLATE).removed].sort()).toEqual(['ViewsAlarm', 'ViewsEventSourceMappingKafkaAdevents', 'ViewsLambdaFunction', 'ViewsLambdaVersionAbc']);
  });

  it('keeps only the outputs whose values still exist', () => {
    const stack = resourceStack(TEMPLATE);
    expect(Object.keys(stack.template.Outputs ?? {})).toEqual(['ServerlessDeploymentBucketName', 'SluiceTableName']);
    expect(stack.removedOutputs).toEqual(['ViewsLambdaFunctionQualifiedArn']);
  });
});

describe('references', () => {
  it('are found in Ref, Fn::GetAtt (both forms), Fn::Sub and DependsOn, but not in pseudo parameters', () => {
    const node = {
      A: { Ref: 'Table' },
      B: { 'Fn::GetAtt': ['Role', 'Arn'] },
      C: { 'Fn::GetAtt': 'Bucket.Arn' },
      D: { 'Fn::Sub': 'arn:${AWS::Partition}:x:${Fn.Arn}/${Queue}' },
      E: { 'Fn::Sub': ['${Name}-x', { Name: { Ref: 'Topic' } }] },
      DependsOn: ['Group'],
    };
    expect([...references(node)].sort()).toEqual(['Bucket', 'Fn', 'Group', 'Name', 'Queue', 'Role', 'Table', 'Topic']);
  });
});
