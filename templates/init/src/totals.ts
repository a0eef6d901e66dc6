/** Lambda handler of the `totals` stage: 10-second order totals per customer, written to `__APP__-totals`. */
import { lambdaPorts, stageHandler } from 'sluice';
import { app } from './pipeline.js';

/** The function the deploy plugin points the stage's Kafka triggers at. */
export const handler = stageHandler(app, 'totals', { connect: lambdaPorts(app) });
