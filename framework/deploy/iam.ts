/**
 * Least-privilege IAM for one stage's function, as pure functions: what a stage touches
 * (topics, consumer groups, transactional ids, DynamoDB key prefixes) and the policy
 * statements that allow exactly that.
 *
 * Invariant kept: a stage's role reaches only its own items and transactional ids. DynamoDB
 * access is limited by `dynamodb:LeadingKeys` to the stage's key prefixes (`ForAllValues:StringLike`:
 * every partition key a request touches must match), and no action is granted that can run
 * without a partition key (Scan), because `ForAllValues` holds vacuously for a request with none.
 *
 * MSK ARNs are built from the cluster ARN, assuming the documented format
 * `arn:<partition>:kafka:<region>:<account>:<type>/<cluster name>/<cluster uuid>[/<name>]`
 * with type `cluster`, `topic`, `group` or `transactional-id`.
 */
import { changelogTopicName } from '../topology/names.js';
import { registriesOf } from '../serde/prefetch.js';
import type { Stage, Topology } from '../topology/topology.js';
import { tickedStages } from '../time/due.js';
import type { MskClusterRef } from './settings.js';

/** A CloudFormation value: a literal or an intrinsic function. */
export type CfnValue = string | number | boolean | { readonly [key: string]: unknown } | readonly unknown[];

/** One IAM policy statement. */
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Action: readonly string[];
  readonly Resource: CfnValue | readonly CfnValue[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;
}

/** What one function reads, writes and owns. */
export interface Access {
  /** Topics it consumes (ESM or its own consumers). */
  readonly readTopics: readonly string[];
  /** Topics it produces to. */
  readonly writeTopics: readonly string[];
  /** Consumer groups (patterns with `*`). */
  readonly groups: readonly string[];
  /** Transactional ids (patterns with `*`). */
  readonly transactionalIds: readonly string[];
  /** Topics whose old records it deletes (DeleteRecords: a task trims its changelog after a snapshot). */
  readonly trimTopics?: readonly string[];
  /** `dynamodb:LeadingKeys` patterns of the items it may touch; empty = no DynamoDB access. */
  readonly leadingKeys: readonly string[];
  /** Only reads those items (the ticker); default: reads and writes. */
  readonly readOnly?: boolean;
  /** IAM actions its schema-registry serdes need (AWS Glue Schema Registry); absent or empty = none. */
  readonly schemaRegistryActions?: readonly string[];
}

/**
 * DynamoDB actions the runtime uses (no Scan: see the invariant above). State v2 reads a task's
 * checkpoint, batch records and snapshot chunks (GetItem, BatchGetItem) and writes each of them
 * as one conditional PutItem: no update, delete or transaction.
 */
export const DYNAMODB_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem'] as const;
/** What the ticker may do: read checkpoints (BatchGetItem). */
export const DYNAMODB_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem'] as const;

/** Lambda's ENI actions, for an ESM polling inside a VPC and for VPC-attached functions. */
export const VPC_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DeleteNetworkInterface',
  'ec2:DescribeVpcs',
  'ec2:DescribeSubnets',
  'ec2:DescribeSecurityGroups',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
] as const;

/** Consumer group id of a stage's ESM on `topic`: deterministic, so IAM can name it and redeploys resume it. */
export function consumerGroupId(app: string, stage: string, topic: string): string {
  const id = `${app}.${stage}.${topic}`;
  if (id.length <= 200) return id;
  // Lambda caps consumer group ids at 200 characters; keep the prefix IAM matches on.
  let hash = 0;
  for (const c of topic) hash = (Math.imul(hash, 31) + c.charCodeAt(0)) | 0;
  return `${id.slice(0, 190)}~${(hash >>> 0).toString(16)}`;
}

/** A stage's changelog topics (commit: 'changelog'; none otherwise). */
function changelogTopicsOf(topology: Topology, stage: Stage): string[] {
  if (topology.settings.commit !== 'changelog') return [];
  return stage.inputs.map((i) => changelogTopicName(topology.app, stage.name, stage.inputs.length, i.topic));
}

/** What a stage's function touches. */
export function stageAccess(topology: Topology, stage: Stage): Access {
  const { app } = topology;
  const downstreamControl = stage.downstream.flatMap((name) => topology.stages.filter((s) => s.name === name).map((s) => s.controlTopic));
  const changelogs = changelogTopicsOf(topology, stage);
  return {
    readTopics: unique([...stage.inputs.map((i) => i.topic), stage.controlTopic, topology.progressTopic, ...changelogs]),
    writeTopics: unique([...stage.outputs.map((o) => o.topic), stage.deadLetterTopic, topology.progressTopic, ...downstreamControl, ...changelogs]),
    trimTopics: changelogs,
    // Also covers recovery's throwaway groups, named `<app>.<stage>.<partition>.resolve-<uuid>`.
    groups: [`${app}.${stage.name}.*`],
    transactionalIds: [`${app}.${stage.name}.*`],
    leadingKeys: stageLeadingKeys(app, stage.name),
    schemaRegistryActions: schemaRegistryActions(topology, stage),
  };
}

/** The registry actions a stage's serdes need: reads for the registries it reads through, writes for those it writes through. */
function schemaRegistryActions(topology: Topology, stage: Stage): string[] {
  const { read, write } = registriesOf(topology, stage);
  return unique([...read.flatMap((r) => r.iamActions.read), ...write.flatMap((r) => r.iamActions.write)]).sort();
}

/** The Glue Schema Registry actions of a stage, on the account's registries and schemas in the stack's region. */
export function schemaRegistryStatement(actions: readonly string[]): PolicyStatement {
  return {
    Sid: 'SchemaRegistry',
    Effect: 'Allow',
    Action: [...actions],
    Resource: [
      { 'Fn::Sub': 'arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:registry/*' },
      { 'Fn::Sub': 'arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:schema/*' },
    ],
  };
}

/** What the ticker touches: it reads the checkpoints of the stages it may wake (time/due.ts) and writes ticks into their control topics. */
export function tickerAccess(topology: Topology): Access {
  const stages = tickedStages(topology);
  return {
    // With commit: 'changelog', a task's event time is its checkpoint plus its changelog.
    readTopics: stages.flatMap((s) => changelogTopicsOf(topology, s)),
    writeTopics: stages.map((s) => s.controlTopic),
    groups: [],
    transactionalIds: [],
    leadingKeys: stages.map((s) => `task#${topology.app}#${s.name}.*`),
    readOnly: true,
  };
}

/**
 * The partition-key patterns of a stage's items (see dynamodb/layout.ts): every item of a task
 * (checkpoint, batch records, snapshot chunks) is under `task#<app>#<taskId>`, the task id being
 * `<stage>.<partition>` or `<stage>.<topic>.<partition>`. Stage names have no `.` or `#`, so no
 * stage's pattern matches another's.
 */
export function stageLeadingKeys(app: string, stage: string): string[] {
  // Every item of a task is under `task#<app>#<taskId>`; `ckpt#…` is the checkpoint key of Sluice
  // 0.1, read once per new task so a table from before state v2 is refused, not read as empty.
  return [`task#${app}#${stage}.*`, `ckpt#${app}#${stage}.*`];
}

/** ARN of an MSK cluster resource: the cluster itself, or a topic, group or transactional id in it. */
export function mskArn(cluster: MskClusterRef, type: 'cluster' | 'topic' | 'group' | 'transactional-id', name?: string): string {
  const base = `arn:${cluster.partition}:kafka:${cluster.region}:${cluster.account}`;
  if (type === 'cluster') return `${base}:cluster/${cluster.name}/${cluster.uuid}`;
  return `${base}:${type}/${cluster.name}/${cluster.uuid}/${name ?? '*'}`;
}

/** Logs for one function: write to its own log group only. */
export function logStatement(functionName: string): PolicyStatement {
  return {
    Sid: 'Logs',
    Effect: 'Allow',
    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    Resource: { 'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${functionName}:*` },
  };
}

/** DynamoDB on the app's table, limited to the given partition-key patterns. */
export function dynamoStatement(tableArn: CfnValue, leadingKeys: readonly string[], readOnly = false): PolicyStatement {
  return {
    Sid: 'StateTable',
    Effect: 'Allow',
    Action: [...(readOnly ? DYNAMODB_READ_ACTIONS : DYNAMODB_ACTIONS)],
    Resource: tableArn,
    Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...leadingKeys] } },
  };
}

/** What Lambda's MSK event-source mapping looks up about the cluster with the function's role. */
export function mskEsmStatement(cluster: MskClusterRef): PolicyStatement {
  return {
    Sid: 'MskEventSource',
    Effect: 'Allow',
    Action: ['kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
    Resource: mskArn(cluster, 'cluster'),
  };
}

/**
 * MSK IAM access control for one function: the ESM's reads (it authenticates with the
 * function's role) and the function's own transactional producer. Each data-plane action comes
 * with the ones MSK requires beside it (ReadData needs DescribeTopic and AlterGroup;
 * AlterTransactionalId needs DescribeTransactionalId and WriteData).
 */
export function mskStatements(cluster: MskClusterRef, access: Access, options: { readonly esm: boolean }): PolicyStatement[] {
  const statements: PolicyStatement[] = [];
  statements.push({
    Sid: 'MskConnect',
    Effect: 'Allow',
    Action: [
      'kafka-cluster:Connect',
      ...(options.esm ? ['kafka-cluster:DescribeCluster', 'kafka-cluster:DescribeClusterDynamicConfiguration'] : []),
      ...(access.writeTopics.length > 0 ? ['kafka-cluster:WriteDataIdempotently'] : []),
    ],
    Resource: mskArn(cluster, 'cluster'),
  });
  if (access.readTopics.length > 0) {
    statements.push({
      Sid: 'MskRead',
      Effect: 'Allow',
      Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
      Resource: access.readTopics.map((t) => mskArn(cluster, 'topic', t)),
    });
  }
  if (access.writeTopics.length > 0) {
    statements.push({
      Sid: 'MskWrite',
      Effect: 'Allow',
      Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
      Resource: access.writeTopics.map((t) => mskArn(cluster, 'topic', t)),
    });
  }
  if ((access.trimTopics ?? []).length > 0) {
    // Kafka authorises DeleteRecords as DELETE on the topic, which MSK IAM calls DeleteTopic.
    statements.push({
      Sid: 'MskTrim',
      Effect: 'Allow',
      Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:DeleteTopic'],
      Resource: access.trimTopics!.map((t) => mskArn(cluster, 'topic', t)),
    });
  }
  if (access.groups.length > 0) {
    statements.push({
      Sid: 'MskGroups',
      Effect: 'Allow',
      Action: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
      Resource: access.groups.map((g) => mskArn(cluster, 'group', g)),
    });
  }
  if (access.transactionalIds.length > 0) {
    statements.push({
      Sid: 'MskTransactions',
      Effect: 'Allow',
      Action: ['kafka-cluster:DescribeTransactionalId', 'kafka-cluster:AlterTransactionalId'],
      Resource: access.transactionalIds.map((t) => mskArn(cluster, 'transactional-id', t)),
    });
  }
  return statements;
}

/** Reading the Kafka secrets (SCRAM credentials, client certificate, root CA). */
export function secretsStatement(secretArns: readonly string[]): PolicyStatement {
  return { Sid: 'KafkaSecrets', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [...secretArns] };
}

/**
 * What Lambda needs, with the function's role, to write a batch it gave up on to the trigger's
 * on-failure destination (AWS Lambda guide, "Capturing discarded batches"): SQS SendMessage,
 * SNS Publish, S3 PutObject + ListBucket, or, for `kafka://<topic>` on MSK with IAM access
 * control, WriteData on that topic. A self-managed cluster's destination topic is authorised by
 * its ACLs, which IAM cannot grant.
 */
export function onFailureStatements(destination: string, cluster: MskClusterRef | undefined): PolicyStatement[] {
  const sid = 'OnFailureDestination';
  if (destination.startsWith('kafka://')) {
    if (cluster === undefined) return [];
    const topic = destination.slice('kafka://'.length);
    return [{ Sid: sid, Effect: 'Allow', Action: ['kafka-cluster:Connect', 'kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'], Resource: [mskArn(cluster, 'cluster'), mskArn(cluster, 'topic', topic)] }];
  }
  const service = destination.split(':')[2];
  if (service === 'sqs') return [{ Sid: sid, Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: destination }];
  if (service === 'sns') return [{ Sid: sid, Effect: 'Allow', Action: ['sns:Publish'], Resource: destination }];
  return [
    { Sid: sid, Effect: 'Allow', Action: ['s3:PutObject'], Resource: `${destination}/*` },
    { Sid: `${sid}Bucket`, Effect: 'Allow', Action: ['s3:ListBucket'], Resource: destination },
  ];
}

/** ENI management for an ESM or a function in a VPC (EC2 does not scope these by resource). */
export function vpcStatement(): PolicyStatement {
  return { Sid: 'VpcNetworkInterfaces', Effect: 'Allow', Action: [...VPC_ACTIONS], Resource: '*' };
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}
