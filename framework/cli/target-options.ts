/**
 * The options every operations command shares (--pipeline, --brokers, --table,
 * --dynamodb-endpoint, --region) and the one way they become an open target.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { OpsError } from '../ops/errors.js';
import { loadTopology } from '../ops/pipeline-module.js';
import { closeTarget, openTarget, resolveConnection, type ConnectionFlags, type OpsTarget } from '../ops/target.js';

/** The shared options as commander parses them. */
export interface TargetOptions extends ConnectionFlags {
  readonly pipeline?: string;
}

/** Adds the shared options to an operations command. */
export function addTargetOptions(cmd: Command): Command {
  return cmd
    .option('-p, --pipeline <module#export>', 'the pipeline module, e.g. functions/clickstream/pipeline.ts#clickstream (env SLUICE_PIPELINE)')
    .option('--brokers <list>', 'Kafka bootstrap servers, comma-separated (env SLUICE_KAFKA_BROKERS; default: the local broker)')
    .option('--table <name>', "the app's DynamoDB table (env SLUICE_TABLE)")
    .option('--dynamodb-endpoint <url|aws>', 'DynamoDB endpoint, or "aws" (env SLUICE_DYNAMODB_ENDPOINT; default: DynamoDB Local)')
    .option('--region <region>', 'AWS region (env AWS_REGION)');
}

/** Loads the pipeline, opens the target, runs `fn`, and closes the clients whatever happens. */
export async function withTarget<T>(opts: TargetOptions, fn: (target: OpsTarget) => Promise<T>): Promise<T> {
  const spec = opts.pipeline ?? process.env.SLUICE_PIPELINE;
  if (!spec) throw new OpsError('SLUICE_OPS_PIPELINE', 'no pipeline given', { field: 'pipeline' }, 'pass --pipeline path/to/pipeline.ts#exportName or set SLUICE_PIPELINE');
  const topology = await loadTopology(spec);
  const target = openTarget(topology, resolveConnection(opts));
  try {
    return await fn(target);
  } finally {
    closeTarget(target);
  }
}

/** Parses a non-negative integer option. */
export function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}
