/**
 * `--target localstack` of `sluice dev` and `sluice demo`: the AWS side of a deployment made real
 * on LocalStack, as far as LocalStack's free runtime goes. Packages the Serverless service
 * (`osls package`, the same template `osls deploy` would send), removes what runs code (functions,
 * Kafka triggers, schedules: LocalStack needs Docker for Lambda and a paid tier for Kafka
 * triggers), and creates the rest — the DynamoDB table, the IAM roles, the deployment bucket, the
 * log groups — through LocalStack's CloudFormation. The stages then run in-process, as `sluice dev`
 * runs them, with their state in that table on LocalStack's DynamoDB.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDynamoClient } from '../dynamodb/client.js';
import { deleteTable } from '../dynamodb/table.js';
import { InfraError } from '../errors.js';
import { packageService } from '../deploy/package-service.js';
import { resourceStack, type CfnTemplate } from '../deploy/resource-stack.js';
import { createStack, deleteStack, existingStack, localstackCloudFormation, type DeployedStack } from '../local/localstack-stack.js';

/** What was deployed to LocalStack. */
export interface LocalstackDeployment {
  readonly endpoint: string;
  readonly stack: DeployedStack;
  /** The stage functions' table (the stack's SluiceTableName output). */
  readonly table: string;
  /** `Type` by logical id of what the stack created. */
  readonly created: Readonly<Record<string, string>>;
  /** Logical ids left out because they need Lambda. */
  readonly leftOut: readonly string[];
  /** True when a complete stack of that name was already there and is used as it is. */
  readonly reused: boolean;
  /** Deletes the stack and the table it retains. */
  remove(): Promise<void>;
}

/** How to deploy. */
export interface LocalstackDeployOptions {
  /** LocalStack's edge endpoint. */
  readonly endpoint: string;
  /** Directory of the serverless.yml. */
  readonly serviceDir: string;
  /** Serverless `--stage`: names the stack (`<service>-<stage>`) and the default table. */
  readonly stage: string;
  /** Environment for the service's `${env:...}` variables (e.g. SLUICE_YSB_APP). */
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: (line: string) => void;
}

/** Packages the service and creates its stateful resources on LocalStack through CloudFormation. */
export async function deployToLocalstack(opts: LocalstackDeployOptions): Promise<LocalstackDeployment> {
  const log = opts.log ?? (() => undefined);
  const tmp = await mkdtemp(join(tmpdir(), 'sluice-localstack-'));
  try {
    log(`osls package --stage ${opts.stage} (${opts.serviceDir})`);
    const pkg = await packageService({ serviceDir: opts.serviceDir, stage: opts.stage, outDir: join(tmp, 'package'), ...(opts.env ? { env: opts.env } : {}) });
    const template = JSON.parse(await readFile(pkg.updateTemplate, 'utf8')) as CfnTemplate;
    const state = JSON.parse(await readFile(join(pkg.dir, 'serverless-state.json'), 'utf8')) as { service: { service: string } };
    const stackName = `${state.service.service}-${opts.stage}`;
    const stack = resourceStack(template);
    const created = Object.fromEntries(Object.entries(stack.template.Resources).map(([id, r]) => [id, r.Type]));
    const cfn = localstackCloudFormation(opts.endpoint);
    const existing = await existingStack(cfn, stackName);
    if (existing) log(`CloudFormation stack ${stackName} exists: using it as it is (sluice infra down localstack starts from empty)`);
    else log(`CloudFormation stack ${stackName}: ${Object.keys(created).length} resources (${summary(created)}); left out, needing Lambda: ${stack.removed.length}`);
    const deployed = existing ?? (await createStack(cfn, stackName, JSON.stringify(stack.template)));
    const table = deployed.outputs['SluiceTableName'];
    if (!table) throw new InfraError(`stack ${stackName} has no SluiceTableName output`, 'is the Sluice plugin in the service\'s plugins?');
    return {
      endpoint: opts.endpoint,
      stack: deployed,
      table,
      created,
      leftOut: stack.removed,
      reused: existing !== undefined,
      remove: async () => {
        await deleteStack(cfn, stackName).catch(() => undefined);
        const dynamo = createDynamoClient({ endpoint: opts.endpoint });
        // The table is retained on stack deletion (DeletionPolicy: Retain), as on AWS.
        await deleteTable(dynamo, table).finally(() => dynamo.destroy());
        cfn.destroy();
      },
    };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** `2 AWS::IAM::Role, 1 AWS::DynamoDB::Table, ...` */
function summary(created: Readonly<Record<string, string>>): string {
  const counts = new Map<string, number>();
  for (const type of Object.values(created)) counts.set(type, (counts.get(type) ?? 0) + 1);
  return [...counts].map(([type, n]) => `${n} ${type}`).join(', ');
}
