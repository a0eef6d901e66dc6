/** The operations surface: metrics, logs, status, dead letters and state tools (re-exports only). */
export { OpsError } from './errors.js';
export type { OpsErrorCode } from './errors.js';
export {
  defaultMetricsSink,
  emfDocument,
  failureFigures,
  fanOut,
  INVOCATION_METRICS,
  invocationFigures,
  lineSink,
  METRICS_NAMESPACE,
  recordInvocation,
  recordInvocationFailure,
  silentSink,
  stdoutEmfSink,
} from './metrics.js';
export type { EmfDocument, InvocationExtras, InvocationFigures, MetricSpec, MetricsSink } from './metrics.js';
export { formatTotals, MetricsAggregator } from './metrics-aggregator.js';
export type { StageTotals } from './metrics-aggregator.js';
export { defaultStageLogger, errorFields, logInvocation, logInvocationFailure, sinkLogger, stageLogger, taskLogFields } from './logger.js';
export type { StageLoggerOptions, TaskPosition } from './logger.js';
export { closeTarget, openTarget, resolveConnection } from './target.js';
export type { Connection, ConnectionFlags, OpsTarget } from './target.js';
export { loadTopology } from './pipeline-module.js';
export { assessStatus, collectStatus } from './status.js';
export type { PipelineStatus, StageStatus, StatusOptions, TaskStatus } from './status.js';
export { formatStatus } from './status-format.js';
export { listDeadLetters, replayDeadLetters, REPLAY_HEADER, replayTopicName, showDeadLetter } from './dlq.js';
export type { DeadLetterEntry, DeadLetterList, ReplayMarker, ReplayResult, ReplaySelection } from './dlq.js';
export { getState } from './state-get.js';
export type { KeyFormat, StateReading } from './state-get.js';
export { exportSavepoint, importSavepoint, readSavepoint } from './savepoint.js';
export { SAVEPOINT_FORMAT, SAVEPOINT_VERSION } from './savepoint-format.js';
export { resetStage } from './reset.js';
export type { ResetOptions, ResetResult, ResetTo } from './reset.js';
