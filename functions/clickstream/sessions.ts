/** Lambda handler of the `sessions` stage: per-user session stats and summaries. */
import { compile, stageHandler } from '../../framework/index.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { clickstream } from './pipeline.js';

/** The function the deploy plugin points the `clickstream.sessions.in` trigger at. */
export const handler = stageHandler(clickstream, 'sessions', { connect: lambdaPorts(compile(clickstream.plan())) });
