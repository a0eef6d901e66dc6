/**
 * Structured JSON logs in Lambda's conventions, through Powertools for AWS Lambda's `Logger`:
 * one JSON object per line with `level`, `message`, `service`, `timestamp`, plus Sluice's keys
 * (`app`, `stage`, and per task `task`, `partition`, `firstOffset`, `lastOffset`, `seq`), so
 * CloudWatch Logs Insights can filter a task's history with `filter task = "sessions.3"`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import type { SinkLogger } from '../kafka/sink-counters.js';
import type { InvocationReport } from '../runtime/handler.js';
import type { TaskReport } from '../runtime/task.js';
import { SluiceError } from '../errors.js';

/** Options of stageLogger. */
export interface StageLoggerOptions {
  readonly app: string;
  readonly stage: string;
  /** Default: POWERTOOLS_LOG_LEVEL / AWS_LAMBDA_LOG_LEVEL, else INFO. */
  readonly logLevel?: LogLevel;
}

/** A Powertools Logger for one stage: service `sluice-<app>`, persistent keys app and stage. */
export function stageLogger(options: StageLoggerOptions): Logger {
  return new Logger({
    serviceName: `sluice-${options.app}`,
    ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
    persistentKeys: { app: options.app, stage: options.stage },
  });
}

/**
 * The logger a stage uses when none is given: INFO inside Lambda (AWS_LAMBDA_FUNCTION_NAME is
 * set); silent elsewhere (tests, the emulator) unless a level is set with POWERTOOLS_LOG_LEVEL
 * (or LOG_LEVEL), so unit tests of stages print nothing by default.
 */
export function defaultStageLogger(app: string, stage: string, env: NodeJS.ProcessEnv = process.env): Logger {
  const asked = env.POWERTOOLS_LOG_LEVEL ?? env.LOG_LEVEL ?? env.AWS_LAMBDA_LOG_LEVEL;
  const quiet = env.AWS_LAMBDA_FUNCTION_NAME === undefined && asked === undefined;
  return stageLogger({ app, stage, ...(quiet ? { logLevel: 'SILENT' as const } : {}) });
}

/**
 * Where a task's batch sat in its input. The runtime's TaskReport does not carry these yet;
 * when it does (see docs/operations.md, "Wiring"), they appear in the logs automatically.
 */
export interface TaskPosition {
  readonly topic: string;
  readonly partition: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
}

/**
 * The log keys of one task's batch (pure): every field of the report (so fields the runtime adds
 * later are logged too), the partition (falling back to the task id's last part), and the
 * recovery flattened. `seq` is left out when nothing was committed (Powertools drops empty keys).
 */
export function taskLogFields(task: TaskReport & Partial<TaskPosition>): Record<string, unknown> {
  const { recovery, ...rest } = task;
  const fields: Record<string, unknown> = { ...rest, partition: task.partition ?? partitionOf(task.task) };
  if (task.seq === undefined) delete fields['seq'];
  if (recovery !== undefined) fields['recovery'] = { seq: recovery.seq, outcome: recovery.outcome };
  return fields;
}

/** Logs one line per task of a successful invocation: `batch committed` or `batch already committed`. */
export function logInvocation(logger: Logger, report: InvocationReport, durationMs?: number): void {
  for (const task of report.tasks as ReadonlyArray<TaskReport & Partial<TaskPosition>>) {
    const fields = taskLogFields(task);
    if (durationMs !== undefined) fields['durationMs'] = durationMs;
    if (task.recovery !== undefined) logger.warn(`recovered in-doubt batch ${task.recovery.seq}: ${task.recovery.outcome}`, fields);
    logger.info(task.seq === undefined ? 'batch already committed' : 'batch committed', fields);
  }
}

/** Logs a failed invocation at ERROR with the error's code, place and hint when it is a SluiceError. */
export function logInvocationFailure(logger: Logger, error: unknown, durationMs?: number): void {
  const fields: Record<string, unknown> = errorFields(error);
  if (durationMs !== undefined) fields['durationMs'] = durationMs;
  logger.error(`invocation failed: ${error instanceof Error ? error.message : String(error)}`, fields);
}

/** The Kafka sink's logger interface on a Powertools Logger (for `new KafkaTxnSink(kafka, { logger })`). */
export function sinkLogger(logger: Logger): SinkLogger {
  return { warn: (message, fields) => logger.warn(message, { ...(fields ?? {}) }) };
}

/** Log keys describing an error (pure). */
export function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof SluiceError) {
    return { errorCode: error.code, ...placeFields(error.place), ...(error.hint !== undefined ? { hint: error.hint } : {}), error };
  }
  return error instanceof Error ? { errorCode: error.name, error } : { errorCode: 'Error', error: String(error) };
}

function placeFields(place: SluiceError['place']): Record<string, unknown> {
  return Object.fromEntries(Object.entries(place).filter(([, v]) => v !== undefined));
}

function partitionOf(taskId: string): number | null {
  const last = taskId.slice(taskId.lastIndexOf('.') + 1);
  return /^\d+$/.test(last) ? Number(last) : null;
}
