/** Lambda handler of the `orders` stage: reads `__APP__-orders`, drops empty orders, repartitions by customer. */
import { lambdaPorts, stageHandler } from 'sluice';
import { app } from './pipeline.js';

/** The function the deploy plugin points the stage's Kafka triggers at. */
export const handler = stageHandler(app, 'orders', { connect: lambdaPorts(app) });
