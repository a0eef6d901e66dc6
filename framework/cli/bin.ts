/** The `sluice` command of the built package (dist/cli/bin.js, run by bin/sluice.js). */
import { runProgram, sluiceProgram } from './program.js';

await runProgram(sluiceProgram());
