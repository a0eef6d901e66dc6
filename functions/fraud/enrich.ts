/** Lambda handler of the fraud `enrich` stage: joins each payment with its account's current row, then repartitions by session. */
import { stageHandler } from '../../framework/index.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { fraud } from './pipeline.js';

/** The function the deploy plugin points the stage's Kafka triggers at. */
export const handler = stageHandler(fraud, 'enrich', { connect: lambdaPorts(fraud) });
