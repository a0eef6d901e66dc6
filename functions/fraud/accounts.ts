/** Lambda handler of the fraud `accounts` stage: reads the compacted `accounts` topic and forwards each change (upsert or tombstone) to `enrich`, keyed by account. */
import { stageHandler } from '../../framework/index.js';
import { lambdaPorts } from '../../framework/runtime/lambda-ports.js';
import { fraud } from './pipeline.js';

/** The function the deploy plugin points the stage's Kafka triggers at. */
export const handler = stageHandler(fraud, 'accounts', { connect: lambdaPorts(fraud) });
