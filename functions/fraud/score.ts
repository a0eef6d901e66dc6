/** Lambda handler of the fraud `score` stage: joins each payment with its session's login on event time, scores it, routes it to `fraud-alerts` or `payments-cleared`. */
import { stageHandler } from '../../framework/index.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { fraud } from './pipeline.js';

/** The function the deploy plugin points the stage's Kafka triggers at. */
export const handler = stageHandler(fraud, 'score', { connect: lambdaPorts(fraud) });
