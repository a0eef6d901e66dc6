/** Lambda handler of the fraud pipeline's ticker: processing-time ticks to the source stages' control topics (idleness, throttled marks). */
import { tickerHandler } from '../../framework/index.js';
import { fraud } from './pipeline.js';

/** The function the one-minute schedule runs. */
export const handler = tickerHandler(fraud);
