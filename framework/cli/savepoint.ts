/** `sluice savepoint export|import`: a stage's checkpoints and committed state to and from a JSON-lines file. */
import type { Command } from 'commander';
import { exportSavepoint, importSavepoint } from '../ops/savepoint.js';
import { addTargetOptions, withTarget, type TargetOptions } from './target-options.js';

/** Adds the `savepoint` command family to the program. */
export function registerSavepointCommands(program: Command): void {
  const savepoint = program.command('savepoint').description("save and restore a stage's checkpoints and state");

  addTargetOptions(savepoint.command('export').description('write the stage\'s checkpoints and committed state to a file (refused while a batch is pending)').argument('<stage>').argument('<file>'))
    .action(async (stage: string, file: string, opts: TargetOptions) => {
      const r = await withTarget(opts, (target) => exportSavepoint(target, stage, file));
      console.log(`exported stage ${stage}: ${r.tasks} checkpoint(s), ${r.state} state value(s), ${r.timers} timer(s) to ${r.file}`);
    });

  addTargetOptions(
    savepoint
      .command('import')
      .description('restore a stage from a file; refused if the stage has checkpoints or state (unless --force) or a pending batch')
      .argument('<stage>')
      .argument('<file>'),
  )
    .option('--force', "replace the stage's checkpoints and delete its state and timers first")
    .action(async (stage: string, file: string, opts: TargetOptions & { force?: boolean }) => {
      const r = await withTarget(opts, (target) => importSavepoint(target, stage, file, { force: opts.force === true, onProgress: progressLine }));
      if (r.fromApp !== undefined) console.log(`note: the savepoint comes from app ${r.fromApp}`);
      if (r.deleted > 0) console.log(`deleted ${r.deleted} existing state item(s) and timer(s)`);
      console.log(`imported stage ${stage}: ${r.tasks} checkpoint(s), ${r.state} state value(s), ${r.timers} timer(s)`);
    });
}

/** Shows a long import's progress on stderr: one updating line on a terminal, a line per 10 % otherwise. */
function progressLine(phase: 'delete' | 'write', done: number, total: number): void {
  if (total === 0) return;
  const pct = Math.floor((done / total) * 100);
  if (process.stderr.isTTY) {
    process.stderr.write(`\r  ${phase === 'write' ? 'writing' : 'deleting'} ${done}/${total} item(s) ${pct}%${done === total ? '\n' : ''}`);
  } else if (done === total || Math.floor(((done - 25) / total) * 10) < Math.floor((done / total) * 10)) {
    process.stderr.write(`  ${phase === 'write' ? 'writing' : 'deleting'} ${done}/${total} item(s) ${pct}%\n`);
  }
}
