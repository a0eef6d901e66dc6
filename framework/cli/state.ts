/** `sluice state get`: one key's committed state, as queryable state reads it. */
import { Option, type Command } from 'commander';
import { KEY_FORMATS, getState, type KeyFormat } from '../ops/state-get.js';
import { addTargetOptions, withTarget, type TargetOptions } from './target-options.js';

interface GetOptions extends TargetOptions {
  readonly state?: string;
  readonly keyFormat: KeyFormat;
  readonly json?: boolean;
}

/** Adds the `state` command family to the program. */
export function registerStateCommands(program: Command): void {
  const state = program.command('state').description('read keyed state from outside the pipeline');

  addTargetOptions(
    state
      .command('get')
      .description("print a key's committed state value (exit 1 when there is none)")
      .argument('<stage>')
      .argument('<key>', 'the key, as JSON by default ("ann", 42, {"id":1})'),
  )
    .option('--state <name>', 'which state (needed when the stage declares several)')
    .addOption(new Option('--key-format <format>', 'how <key> is written: JSON of the key, a plain string, or the key bytes in base64').choices(KEY_FORMATS).default('json'))
    .option('--json', 'print key, task, state and value as one JSON object')
    .action(async (stage: string, key: string, opts: GetOptions) => {
      const reading = await withTarget(opts, (target) => getState(target, stage, key, { format: opts.keyFormat, ...(opts.state !== undefined ? { state: opts.state } : {}) }));
      if (opts.json) {
        console.log(JSON.stringify({ stage: reading.stage, state: reading.state, key: reading.key, task: reading.task ?? null, value: reading.value ?? null, found: reading.bytes !== undefined }, null, 2));
      } else if (reading.bytes !== undefined) {
        console.log(JSON.stringify(reading.value, bytesAsBase64, 2));
      } else {
        console.error(`no committed value of state "${reading.state}" for this key (task ${reading.task ?? '?'})`);
      }
      if (reading.bytes === undefined) process.exitCode = 1;
    });
}

// A bytes() state serde yields Buffers: show them as base64 rather than as a list of numbers.
function bytesAsBase64(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return `base64:${Buffer.from((value as { data: number[] }).data).toString('base64')}`;
  }
  return value;
}
