/** Lambda handler of the `enrich` stage: reads `clicks`, drops bots, adds sections, repartitions by user. */
import { compile, stageHandler } from '../../framework/index.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { clickstream } from './pipeline.js';

/** The function the deploy plugin points the `clicks` trigger at. */
export const handler = stageHandler(clickstream, 'enrich', { connect: lambdaPorts(compile(clickstream.plan())) });
