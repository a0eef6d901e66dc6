/** Lambda handler of the YSB ticker: processing-time ticks to the source stage's control topic (idleness). */
import { tickerHandler } from '../../framework/index.js';
import { ysb } from './pipeline.js';

/** The function the one-minute schedule runs. */
export const handler = tickerHandler(ysb);
