/**
 * The `sluice` command as the package ships it: each family of subcommands lives in its own
 * file and registers itself here; this file builds the program and turns errors into exit
 * codes. The repository's own entry (main.ts) adds the commands of the YSB example on top.
 */
import { Command } from 'commander';
import { SluiceError } from '../errors.js';
import { registerDevCommand } from './dev.js';
import { registerDlqCommands } from './dlq.js';
import { registerInfraCommands } from './infra.js';
import { registerInitCommand } from './init.js';
import { registerLintTemplateCommand } from './lint-template.js';
import { registerResetCommand } from './reset.js';
import { registerSavepointCommands } from './savepoint.js';
import { registerStateCommands } from './state.js';
import { registerStatusCommand } from './status.js';
import { registerTopicsCommands } from '../deploy/topics-command.js';

/** The program with every command of the package; `extend` adds more before the commands that follow infra. */
export function sluiceProgram(extend: (program: Command) => void = () => undefined): Command {
  const program = new Command('sluice')
    .description('Exactly-once stream processing with one AWS Lambda per pipeline stage')
    .showHelpAfterError();
  registerInitCommand(program);
  registerInfraCommands(program);
  extend(program);
  registerDevCommand(program);
  registerStatusCommand(program);
  registerDlqCommands(program);
  registerStateCommands(program);
  registerSavepointCommands(program);
  registerResetCommand(program);
  registerTopicsCommands(program);
  registerLintTemplateCommand(program);
  return program;
}

/** Runs the program on `argv`; an error Sluice threw on purpose becomes a message and exit code 1. */
export async function runProgram(program: Command, argv: readonly string[] = process.argv): Promise<void> {
  // The CLI runs on Node 20 too (see docs/packaging.md); the SDK's "use Node 22" notice on every
  // run would bury the output. Library users still see it.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (!(e instanceof SluiceError)) throw e;
    // Errors we threw on purpose already say what to do; a stack trace would only hide that.
    console.error(`sluice: ${e.message}`);
    process.exitCode = 1;
  }
}
