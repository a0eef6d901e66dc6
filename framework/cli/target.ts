/**
 * `--target`: where `sluice dev` and `sluice demo` keep the stages' state. `local` is DynamoDB
 * Local; `localstack` is the service's own stack (table, roles, bucket) created on LocalStack
 * through CloudFormation, its table on LocalStack's DynamoDB (localstack-target.ts).
 */
import { InvalidArgumentError } from 'commander';

/** Where the stages' state lives. */
export type Target = 'local' | 'localstack';

/** Parses `--target`. */
export function parseTarget(value: string): Target {
  if (value !== 'local' && value !== 'localstack') throw new InvalidArgumentError('expected local or localstack');
  return value;
}
