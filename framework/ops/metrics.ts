/**
 * Metrics of stage invocations in Lambda's conventions: one CloudWatch Embedded Metric Format
 * (EMF) document per invocation, namespace `Sluice`, dimensions `app` and `stage`, built with
 * Powertools for AWS Lambda's `Metrics`. In Lambda the document is one stdout line, which
 * CloudWatch turns into metrics without an API call; locally the same figures go to any sink,
 * e.g. the in-memory aggregator behind the emulator's status line (metrics-aggregator.ts).
 *
 * User code's own metrics (`ctx.metrics`, user-metrics.ts) go into the same document, under the
 * same dimensions.
 *
 * Data flows one way: report → figures (pure) → EMF document (pure) → sink (the only I/O).
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { InvocationReport } from '../runtime/handler.js';
import type { UserMetricValues } from './user-metrics.js';

/** CloudWatch namespace of every Sluice metric. */
export const METRICS_NAMESPACE = 'Sluice';

/** Measurements the handler takes around an invocation, beyond what the report says. */
export interface InvocationExtras {
  /** The pipeline (app) name: the first dimension. */
  readonly app: string;
  /** Wall time of the whole invocation, ms. */
  readonly durationMs: number;
  /** Time spent in the commit protocol (open, send, prepare, commit, confirm), ms: the longest of the invocation's tasks, which commit concurrently. */
  readonly commitMs?: number;
  /** In-doubt batches resolved; default: counted from the tasks' `recovery`. */
  readonly recoveries?: number;
  /** State items served from the warm cache. */
  readonly cacheHits?: number;
  /** State items loaded from DynamoDB. */
  readonly cacheMisses?: number;
  /** DynamoDB capacity units used (reported or estimated, see DynamoMetrics). */
  readonly dynamoUnits?: number;
  /** How far the stage's event time trails the wall clock, ms: the end of the invocation minus the lowest known watermark of its tasks. */
  readonly watermarkLagMs?: number;
  /** What user code recorded through `ctx.metrics` in the invocation's batches. */
  readonly userMetrics?: UserMetricValues;
  /** When the invocation ended, epoch ms; default now. */
  readonly at?: number;
}

/** The figures of one invocation: what every sink receives. */
export interface InvocationFigures {
  readonly app: string;
  readonly stage: string;
  /** Epoch ms. */
  readonly at: number;
  readonly ok: boolean;
  /** Tasks (partitions) in the invocation. */
  readonly tasks: number;
  /** Tasks that committed a batch (the others only saw redelivered records). */
  readonly batchesCommitted: number;
  /** Data records delivered by the trigger. */
  readonly recordsIn: number;
  /** Control records (watermark marks, ticks) delivered by the control trigger. */
  readonly controlRecordsIn: number;
  /** Data records new to their task and run through the operators. */
  readonly recordsProcessed: number;
  /** Records written to output and internal topics. */
  readonly recordsOut: number;
  /** Records written to the dead-letter topic. */
  readonly deadLettered: number;
  /** Redelivered data records skipped because the checkpoint had passed them. */
  readonly duplicatesSkipped: number;
  /** Timers that fired (event-time and processing-time). */
  readonly timersFired: number;
  readonly recoveries: number;
  readonly durationMs: number;
  readonly commitMs: number | undefined;
  readonly cacheHits: number | undefined;
  readonly cacheMisses: number | undefined;
  readonly dynamoUnits: number | undefined;
  readonly watermarkLagMs: number | undefined;
  readonly userMetrics: UserMetricValues | undefined;
  /** Error code of a failed invocation (SluiceError code or error name). */
  readonly errorCode: string | undefined;
}

/** An EMF document: `_aws` metadata plus dimension, metric and metadata values at the top level. */
export type EmfDocument = ReturnType<Metrics['serializeMetrics']>;

/** Where invocation metrics go. */
export interface MetricsSink {
  /** Receives one invocation's figures and the EMF document built from them. */
  record(figures: InvocationFigures, emf: EmfDocument): void;
}

/** One EMF metric: its CloudWatch name, unit, and the figure it reports (undefined = not measured, not emitted). */
export interface MetricSpec {
  readonly name: string;
  readonly unit: (typeof MetricUnit)[keyof typeof MetricUnit];
  readonly value: (f: InvocationFigures) => number | undefined;
}

/** Every metric Sluice emits per invocation, in document order. */
export const INVOCATION_METRICS: readonly MetricSpec[] = [
  { name: 'Invocations', unit: MetricUnit.Count, value: () => 1 },
  { name: 'InvocationsFailed', unit: MetricUnit.Count, value: (f) => (f.ok ? 0 : 1) },
  { name: 'Tasks', unit: MetricUnit.Count, value: (f) => f.tasks },
  { name: 'BatchesCommitted', unit: MetricUnit.Count, value: (f) => f.batchesCommitted },
  { name: 'RecordsIn', unit: MetricUnit.Count, value: (f) => f.recordsIn },
  { name: 'ControlRecordsIn', unit: MetricUnit.Count, value: (f) => f.controlRecordsIn },
  { name: 'RecordsProcessed', unit: MetricUnit.Count, value: (f) => f.recordsProcessed },
  { name: 'RecordsOut', unit: MetricUnit.Count, value: (f) => f.recordsOut },
  { name: 'DeadLettered', unit: MetricUnit.Count, value: (f) => f.deadLettered },
  { name: 'DuplicatesSkipped', unit: MetricUnit.Count, value: (f) => f.duplicatesSkipped },
  { name: 'TimersFired', unit: MetricUnit.Count, value: (f) => f.timersFired },
  { name: 'Recoveries', unit: MetricUnit.Count, value: (f) => f.recoveries },
  { name: 'BatchDuration', unit: MetricUnit.Milliseconds, value: (f) => f.durationMs },
  { name: 'CommitDuration', unit: MetricUnit.Milliseconds, value: (f) => f.commitMs },
  { name: 'StateCacheHits', unit: MetricUnit.Count, value: (f) => f.cacheHits },
  { name: 'StateCacheMisses', unit: MetricUnit.Count, value: (f) => f.cacheMisses },
  { name: 'DynamoCapacityUnits', unit: MetricUnit.Count, value: (f) => f.dynamoUnits },
  { name: 'WatermarkLag', unit: MetricUnit.Milliseconds, value: (f) => f.watermarkLagMs },
];

/** The figures of a successful invocation (pure). Record counts are of data tasks; control tasks count as ControlRecordsIn. */
export function invocationFigures(report: InvocationReport, extra: InvocationExtras): InvocationFigures {
  type Task = InvocationReport['tasks'][number];
  const sum = (pick: (t: Task) => number, which: (t: Task) => boolean = () => true): number => report.tasks.reduce((s, t) => s + (which(t) ? pick(t) : 0), 0);
  const data = (t: Task): boolean => t.kind !== 'control';
  return {
    app: extra.app,
    stage: report.stage,
    at: extra.at ?? Date.now(),
    ok: true,
    tasks: report.tasks.length,
    batchesCommitted: report.tasks.filter((t) => t.seq !== undefined).length,
    recordsIn: sum((t) => t.received, data),
    controlRecordsIn: sum((t) => t.received, (t) => !data(t)),
    recordsProcessed: sum((t) => t.processed, data),
    recordsOut: sum((t) => t.outputs),
    deadLettered: sum((t) => t.deadLetters),
    duplicatesSkipped: sum((t) => t.duplicates, data),
    timersFired: sum((t) => t.timersFired),
    recoveries: extra.recoveries ?? report.tasks.filter((t) => t.recovery !== undefined).length,
    durationMs: extra.durationMs,
    commitMs: extra.commitMs,
    cacheHits: extra.cacheHits,
    cacheMisses: extra.cacheMisses,
    dynamoUnits: extra.dynamoUnits,
    watermarkLagMs: extra.watermarkLagMs,
    userMetrics: extra.userMetrics,
    errorCode: undefined,
  };
}

/** The figures of a failed invocation (pure): nothing counted as done, the error code kept. */
export function failureFigures(stage: string, error: unknown, extra: InvocationExtras): InvocationFigures {
  return {
    ...invocationFigures({ stage, tasks: [] }, extra),
    ok: false,
    errorCode: errorCodeOf(error),
  };
}

/** The EMF document of one invocation (pure apart from Powertools' own warnings about names and values). */
export function emfDocument(figures: InvocationFigures): EmfDocument {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: `sluice-${figures.app}` });
  // Powertools adds a `service` dimension by default; Sluice's dimensions are exactly app and stage.
  metrics.clearDefaultDimensions();
  metrics.addDimension('app', figures.app);
  metrics.addDimension('stage', figures.stage);
  for (const spec of INVOCATION_METRICS) {
    const value = spec.value(figures);
    if (value !== undefined) metrics.addMetric(spec.name, spec.unit, value);
  }
  // User metrics: a counter is one Count value; observations become the metric's value array.
  const user = figures.userMetrics;
  for (const [name, n] of Object.entries(user?.counters ?? {})) metrics.addMetric(name, MetricUnit.Count, n);
  for (const [name, v] of Object.entries(user?.values ?? {})) for (const value of v.values) metrics.addMetric(name, v.unit as (typeof MetricUnit)[keyof typeof MetricUnit], value);
  if (figures.errorCode !== undefined) metrics.addMetadata('errorCode', figures.errorCode);
  // Set on the document rather than through setTimestamp, which warns on stdout about a timestamp
  // CloudWatch would skip: a test's clock is often far from now. stdoutEmfSink, the sink that
  // feeds CloudWatch, warns instead.
  const document = metrics.serializeMetrics();
  return { ...document, _aws: { ...document._aws, Timestamp: figures.at } };
}

/** Whether CloudWatch accepts an EMF timestamp `at` seen at `now` (at most 14 days old, 2 hours ahead); it skips the others. */
export function cloudWatchAcceptsTimestamp(at: number, now: number): boolean {
  return Number.isFinite(at) && at >= now - 14 * DAY_MS && at <= now + 2 * HOUR_MS;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Records one successful invocation: builds its figures and EMF document and hands both to
 * `sink`. Call it once per invocation, after the tasks settled. Returns the figures.
 */
export function recordInvocation(report: InvocationReport, extra: InvocationExtras, sink: MetricsSink = defaultMetricsSink()): InvocationFigures {
  const figures = invocationFigures(report, extra);
  sink.record(figures, emfDocument(figures));
  return figures;
}

/** Records one failed invocation (InvocationsFailed = 1, errorCode as metadata). Returns the figures. */
export function recordInvocationFailure(stage: string, error: unknown, extra: InvocationExtras, sink: MetricsSink = defaultMetricsSink()): InvocationFigures {
  const figures = failureFigures(stage, error, extra);
  sink.record(figures, emfDocument(figures));
  return figures;
}

/** Writes each EMF document as one line through `write` (tests, files). */
export function lineSink(write: (line: string) => void): MetricsSink {
  return { record: (_figures, emf) => write(JSON.stringify(emf)) };
}

/** Lambda's way: one EMF line on stdout, which CloudWatch Logs turns into metrics (with a warning when CloudWatch would skip it for its timestamp). */
export const stdoutEmfSink: MetricsSink = {
  record: (figures, emf) => {
    if (!cloudWatchAcceptsTimestamp(figures.at, Date.now())) {
      console.warn(`sluice: the metrics of stage "${figures.stage}" are timestamped ${Number.isFinite(figures.at) ? new Date(figures.at).toISOString() : String(figures.at)}; CloudWatch skips EMF timestamps more than 14 days old or 2 hours ahead: check the stage's clock`);
    }
    process.stdout.write(`${JSON.stringify(emf)}\n`);
  },
};

/** Drops everything (tests, tools). */
export const silentSink: MetricsSink = { record: () => undefined };

/** Sends every invocation to each of `sinks`. */
export function fanOut(...sinks: readonly MetricsSink[]): MetricsSink {
  return { record: (figures, emf) => sinks.forEach((s) => s.record(figures, emf)) };
}

/**
 * The sink a stage uses when none is given: EMF on stdout inside Lambda (AWS_LAMBDA_FUNCTION_NAME
 * is set) or when SLUICE_METRICS=emf; silent elsewhere (tests, the local emulator) unless asked.
 * SLUICE_METRICS=off silences Lambda too.
 */
export function defaultMetricsSink(env: NodeJS.ProcessEnv = process.env): MetricsSink {
  const mode = env.SLUICE_METRICS;
  if (mode === 'off') return silentSink;
  if (mode === 'emf' || (mode === undefined && env.AWS_LAMBDA_FUNCTION_NAME)) return stdoutEmfSink;
  return silentSink;
}

function errorCodeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : 'Error';
}
