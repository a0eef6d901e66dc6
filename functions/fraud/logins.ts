/** Lambda handler of the fraud `logins` stage: reads `logins` and repartitions them by session. */
import { stageHandler } from '../../framework/index.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { fraud } from './pipeline.js';

/** The function the deploy plugin points the stage's Kafka triggers at. */
export const handler = stageHandler(fraud, 'logins', { connect: lambdaPorts(fraud) });
