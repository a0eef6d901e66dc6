/**
 * The `sluice` command. Each family of subcommands lives in its own file and registers
 * itself here; this file only builds the program and turns errors into exit codes.
 */
import { Command } from 'commander';
import { SluiceError } from '../errors.js';
import { registerDemoCommand } from './demo.js';
import { registerDevCommand } from './dev.js';
import { registerDlqCommands } from './dlq.js';
import { registerInfraCommands } from './infra.js';
import { registerLintTemplateCommand } from './lint-template.js';
import { registerResetCommand } from './reset.js';
import { registerSavepointCommands } from './savepoint.js';
import { registerStateCommands } from './state.js';
import { registerStatusCommand } from './status.js';
import { registerYsbCommands } from './ysb.js';
import { registerTopicsCommands } from '../deploy/topics-command.js';

// The CLI targets Node 20 on purpose (see FACTS.md); the SDK's "use Node 22" notice on every
// run would bury the output. Library users still see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const program = new Command('sluice')
  .description('Exactly-once stream processing with one AWS Lambda per pipeline stage')
  .showHelpAfterError();

registerInfraCommands(program);
registerDemoCommand(program);
registerDevCommand(program);
registerYsbCommands(program);
registerStatusCommand(program);
registerDlqCommands(program);
registerStateCommands(program);
registerSavepointCommands(program);
registerResetCommand(program);
registerTopicsCommands(program);
registerLintTemplateCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (!(e instanceof SluiceError)) throw e;
  // Errors we threw on purpose already say what to do; a stack trace would only hide that.
  console.error(`sluice: ${e.message}`);
  process.exitCode = 1;
}
