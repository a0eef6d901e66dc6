/**
 * `sluice status`: lag, checkpoints, in-doubt batches and dead letters per stage and task.
 * Exit status 2 when something needs attention, so scripts and CI can alert on it.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { assessStatus, collectStatus } from '../ops/status.js';
import { formatStatus } from '../ops/status-format.js';
import { parseDuration, type Duration } from '../time/duration.js';
import { addTargetOptions, parseCount, withTarget, type TargetOptions } from './target-options.js';

/** Exit status when the pipeline needs attention (1 stays for errors). */
export const ATTENTION_EXIT_CODE = 2;

interface StatusOptions extends TargetOptions {
  readonly json?: boolean;
  readonly maxLag?: number;
  readonly pendingTimeout?: number;
}

/** Adds the `status` command to the program. */
export function registerStatusCommand(program: Command): void {
  addTargetOptions(
    program
      .command('status')
      .description('show per stage and task: input lag, checkpoint, in-doubt batches, dead letters (exit 2 if something needs attention)')
      .argument('[stage]', 'only this stage'),
  )
    .option('--json', 'print the status as JSON')
    .option('--max-lag <records>', 'a task further behind than this needs attention', parseCount)
    .option('--pending-timeout <duration>', 'a batch pending longer than this needs attention (default: the transaction timeout)', parseDurationOption)
    .action(async (stage: string | undefined, opts: StatusOptions) => {
      const status = await withTarget(opts, async (target) =>
        assessStatus(await collectStatus(target, stage), {
          ...(opts.maxLag !== undefined ? { maxLag: opts.maxLag } : {}),
          ...(opts.pendingTimeout !== undefined ? { pendingTimeoutMs: opts.pendingTimeout } : {}),
        }),
      );
      console.log(opts.json ? JSON.stringify(status, null, 2) : formatStatus(status));
      if (status.attention.length > 0) process.exitCode = ATTENTION_EXIT_CODE;
    });
}

function parseDurationOption(value: string): number {
  try {
    return parseDuration((/^\d+$/.test(value) ? Number(value) : value) as Duration, 'pending-timeout');
  } catch {
    throw new InvalidArgumentError('expected a duration like 90s, 5m or 1h (or milliseconds)');
  }
}
