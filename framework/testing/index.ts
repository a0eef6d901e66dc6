/** `sluice/testing`: the per-stage harness and the in-memory adapters behind it. */
export { StageHarness, stageHarness } from './harness.js';
export type { HarnessDeadLetter, HarnessInput, HarnessOptions, HarnessOutput, HarnessSource } from './harness.js';
export { HARNESS_CLUSTER_ARN } from './container.js';
export type { HarnessInvocation, HarnessMetrics } from './container.js';
export { MemoryCheckpointStore } from './memory-store.js';
export { MemoryFencedError, MemoryKafka, MemoryTxnSink } from './memory-kafka.js';
export { MemoryTaskLog } from './memory-task-log.js';
export type { LoggedRecord } from './memory-kafka.js';
