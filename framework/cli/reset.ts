/** `sluice reset`: move a stage's input position, keeping or clearing its state (rules in framework/ops/reset.ts). */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { OpsError } from '../ops/errors.js';
import { resetStage, type ResetTo } from '../ops/reset.js';
import { addTargetOptions, parseCount, withTarget, type TargetOptions } from './target-options.js';

interface ResetCliOptions extends TargetOptions {
  readonly toOffset?: number | 'earliest' | 'latest';
  readonly toTimestamp?: number;
  readonly state: 'keep' | 'clear';
  readonly partition?: number[];
  readonly topic?: string;
  readonly consumerGroup?: string;
  readonly dryRun?: boolean;
  readonly json?: boolean;
}

/** Adds the `reset` command to the program. */
export function registerResetCommand(program: Command): void {
  addTargetOptions(program.command('reset').description("set a stage's checkpoints to an input offset or time (refused while a batch is pending)").argument('<stage>'))
    .option('--to-offset <offset>', 'an offset, earliest or latest', parseOffsetOrWord)
    .option('--to-timestamp <time>', 'the first record at or after this time (ISO 8601 or epoch ms)', parseTime)
    .addOption(new Option('--state <what>', 'keep or clear the stage\'s keyed state and timers (event time is kept)').choices(['keep', 'clear']).default('keep'))
    .option('--partition <p>', 'only this partition (repeatable)', (v: string, prev: number[] | undefined) => [...(prev ?? []), parseCount(v)])
    .option('--topic <topic>', 'only this input topic (stages with several inputs)')
    .option('--consumer-group <id>', "also move this consumer group's offsets (the trigger's; it must be stopped)")
    .option('--dry-run', 'show what would change, change nothing')
    .option('--json', 'print the result as JSON')
    .action(async (stage: string, opts: ResetCliOptions) => {
      if ((opts.toOffset === undefined) === (opts.toTimestamp === undefined)) {
        throw new OpsError('SLUICE_OPS_OFFSET', 'say where to: exactly one of --to-offset and --to-timestamp', { stage }, 'e.g. --to-offset earliest, --to-offset 1200, --to-timestamp 2026-03-01T09:00:00Z');
      }
      const to: ResetTo = opts.toOffset !== undefined ? { offset: opts.toOffset } : { timestamp: opts.toTimestamp! };
      const result = await withTarget(opts, (target) =>
        resetStage(target, stage, {
          to,
          state: opts.state,
          ...(opts.partition !== undefined ? { partitions: opts.partition } : {}),
          ...(opts.topic !== undefined ? { topic: opts.topic } : {}),
          ...(opts.consumerGroup !== undefined ? { consumerGroup: opts.consumerGroup } : {}),
          dryRun: opts.dryRun === true,
        }),
      );
      if (opts.json) return void console.log(JSON.stringify(result, null, 2));
      for (const m of result.moves) console.log(`${m.task.padEnd(24)} ${m.topic}/${m.partition}  ${m.from < 0 ? '-' : m.from} → ${m.to}`);
      if (result.dryRun) return void console.log('dry run: nothing changed');
      if (opts.state === 'clear') console.log(`deleted ${result.deletedItems} state item(s) and timer(s)`);
      if (result.consumerGroup !== undefined) console.log(`moved consumer group ${result.consumerGroup}`);
    });
}

function parseOffsetOrWord(value: string): number | 'earliest' | 'latest' {
  if (value === 'earliest' || value === 'latest') return value;
  return parseCount(value);
}

function parseTime(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected an ISO 8601 time or epoch milliseconds');
  return n;
}
