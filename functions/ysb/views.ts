/** Lambda handler of the YSB `views` stage: parses ad events, keeps views, joins campaigns, repartitions by campaign. */
import { stageHandler } from '../../framework/index.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { ysb } from './pipeline.js';

/** The function the deploy plugin points the stage's Kafka triggers at. */
export const handler = stageHandler(ysb, 'views', { connect: lambdaPorts(ysb) });
