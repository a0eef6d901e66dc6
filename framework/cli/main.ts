/**
 * The `sluice` command of this repository (`npm start`, `npm run sluice`, `npx sluice` in a
 * checkout): the package's commands (program.ts) plus those of the YSB example in functions/ysb
 * (`demo`, `ysb generate`), which the package does not ship. Runs on the sources through tsx.
 */
import { registerDemoCommand } from './demo.js';
import { runProgram, sluiceProgram } from './program.js';
import { registerYsbCommands } from './ysb.js';

await runProgram(
  sluiceProgram((program) => {
    registerDemoCommand(program);
    registerYsbCommands(program);
  }),
);
