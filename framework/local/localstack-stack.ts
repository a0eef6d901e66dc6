/**
 * CloudFormation against LocalStack: create a stack from a template body, wait until it is
 * complete, and return its outputs; delete it again. On a failed create the error names the
 * resources that failed and why (from the stack's events), since that is what a user fixes.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  waitUntilStackCreateComplete,
  waitUntilStackDeleteComplete,
} from '@aws-sdk/client-cloudformation';
import { InfraError } from '../errors.js';

/** Region and credentials LocalStack accepts (it ignores the values; account 000000000000). */
const LOCAL_AWS = { region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };

/** A created stack: its name and outputs. */
export interface DeployedStack {
  readonly name: string;
  readonly outputs: Readonly<Record<string, string>>;
}

/** A CloudFormation client for LocalStack's edge endpoint. */
export function localstackCloudFormation(endpoint: string): CloudFormationClient {
  return new CloudFormationClient({ endpoint, ...LOCAL_AWS, maxAttempts: 3 });
}

/** Creates the stack and waits for CREATE_COMPLETE; throws InfraError naming the failed resources otherwise. */
export async function createStack(client: CloudFormationClient, name: string, templateBody: string, timeoutSeconds = 120): Promise<DeployedStack> {
  await client.send(new CreateStackCommand({ StackName: name, TemplateBody: templateBody, Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM'] }));
  try {
    await waitUntilStackCreateComplete({ client, maxWaitTime: timeoutSeconds, minDelay: 1, maxDelay: 3 }, { StackName: name });
  } catch (e) {
    const events = await client.send(new DescribeStackEventsCommand({ StackName: name })).catch(() => undefined);
    const failures = (events?.StackEvents ?? [])
      .filter((ev) => ev.ResourceStatus?.endsWith('_FAILED'))
      .map((ev) => `${ev.LogicalResourceId ?? '?'} (${ev.ResourceType ?? '?'}): ${ev.ResourceStatusReason ?? ev.ResourceStatus ?? ''}`);
    throw new InfraError(
      `CloudFormation stack ${name} was not created${failures.length > 0 ? `:\n  ${failures.join('\n  ')}` : ` (${e instanceof Error ? e.message : String(e)})`}`,
      'see the resources above; LocalStack keeps a failed stack, so restart it (sluice infra down localstack) before trying again',
      { cause: e },
    );
  }
  const described = await client.send(new DescribeStacksCommand({ StackName: name }));
  const outputs = Object.fromEntries((described.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  return { name, outputs };
}

/** The stack if it exists and was created (or updated) completely; undefined otherwise. */
export async function existingStack(client: CloudFormationClient, name: string): Promise<DeployedStack | undefined> {
  try {
    const described = await client.send(new DescribeStacksCommand({ StackName: name }));
    const stack = described.Stacks?.[0];
    if (!stack || !['CREATE_COMPLETE', 'UPDATE_COMPLETE'].includes(stack.StackStatus ?? '')) return undefined;
    return { name, outputs: Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? ''])) };
  } catch {
    // CloudFormation answers "does not exist" with a ValidationError.
    return undefined;
  }
}

/** Deletes the stack and waits until it is gone (retained resources stay). */
export async function deleteStack(client: CloudFormationClient, name: string, timeoutSeconds = 120): Promise<void> {
  await client.send(new DeleteStackCommand({ StackName: name }));
  await waitUntilStackDeleteComplete({ client, maxWaitTime: timeoutSeconds, minDelay: 1, maxDelay: 3 }, { StackName: name });
}
