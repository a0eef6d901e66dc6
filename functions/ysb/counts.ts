/** Lambda handler of the YSB `counts` stage: 10 s tumbling window counts per campaign. */
import { stageHandler } from '../../framework/index.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { ysb } from './pipeline.js';

/** The function the deploy plugin points the stage's Kafka triggers at. */
export const handler = stageHandler(ysb, 'counts', { connect: lambdaPorts(ysb) });
