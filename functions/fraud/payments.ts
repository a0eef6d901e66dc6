/** Lambda handler of the fraud `payments` stage: reads `payments` and repartitions them by account. */
import { stageHandler } from '../../framework/index.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { fraud } from './pipeline.js';

/** The function the deploy plugin points the stage's Kafka triggers at. */
export const handler = stageHandler(fraud, 'payments', { connect: lambdaPorts(fraud) });
