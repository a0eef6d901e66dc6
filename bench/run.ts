/**
 * Runs one benchmark configuration end to end, in two phases on its own topics:
 *
 *  1. drain — the generator writes a backlog (event times an hour ago, every window closed by
 *     the generator's end-of-stream events) before the processor starts; the processor then works
 *     through it as fast as it can. The first `warmupFraction` of it is warm-up (JIT, producer
 *     and group start-up, Kafka Streams' first rebalance); throughput = the records taken after
 *     warm-up ÷ (time the last expected output became visible to a read_committed reader − time
 *     warm-up ended). The figure with start-up included is kept too.
 *  2. live — the generator writes in real time at a fixed rate; the observers note when each
 *     input was appended and when each output became visible: the latencies.
 *
 * Then every output of both phases is read again and checked against the oracle; a configuration
 * whose outputs differ fails, however fast it was. Its topics, groups and table are deleted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { createDynamoClient } from '../framework/dynamodb/client.js';
import { deleteTable } from '../framework/dynamodb/table.js';
import { ensureTopics } from '../framework/kafka/admin.js';
import { topicOffsets } from '../framework/kafka/topic-offsets.js';
import { runGenerator, type RunGeneratorOptions } from '../functions/ysb/generator.js';
import { windowStartOf } from '../functions/ysb/oracle.js';
import { MAX_OUT_OF_ORDERNESS_MS, WINDOW_MS } from '../functions/ysb/pipeline.js';
import { END_OF_STREAM_USER } from '../functions/ysb/generator.js';
import { campaignOf } from '../functions/ysb/campaigns.js';
import { runBottomPhases, type BottomPhase } from './bottom.js';
import { buildProfile, withTicker, type PipelineProfile, type TickerProfile } from './cost.js';
import type { ProcessorStats } from './processors/protocol.js';
import { per1k, phaseOps, scaleOps, type OpsPer1k, type PhaseOps } from './ops.js';
import { startKStreams } from './kstreams.js';
import { statelessLatencies, summarize, windowLatencies, type LatencyStats, type SourceEvent } from './latency.js';
import { observeTopic, type Observed, type TopicObserver } from './observer.js';
import { SinkLog, type Phase, type PhaseCheck } from './outputs.js';
import { checkOutputs, deadLetters } from './verify.js';
import { cpuMs, peakRssBytes, startNodeProcessor, type Processor } from './processors/processor.js';
import { int, type Progress, secondsSince } from './progress.js';
import { benchTopology, type Mode } from './variants.js';
import avsc from 'avsc';
import { AD_EVENT_AVRO, adEventAvroWriter } from '../functions/ysb/avro.js';
import type { KafkaClientName } from '../framework/kafka/client-choice.js';

/** The configurations, in the order they run. */
export const CONFIGS = [
  { name: 'raw-kafkajs', engine: 'raw', job: 'stateless', title: 'raw kafkajs, transactional loop' },
  { name: 'sluice-stateless-eos', engine: 'sluice', job: 'stateless', mode: 'exactly-once', title: 'Sluice, YSB source stage, exactly-once' },
  {
    name: 'sluice-stateless-eos-inproc',
    engine: 'sluice',
    job: 'stateless',
    mode: 'exactly-once',
    invoker: 'in-process',
    title: 'Sluice, YSB source stage, exactly-once, functions in the pollers\' process (the earlier measurement)',
  },
  {
    name: 'sluice-stateless-eos-platformatic',
    engine: 'sluice',
    job: 'stateless',
    mode: 'exactly-once',
    kafkaClient: 'platformatic',
    optional: true,
    title: 'Sluice, YSB source stage, exactly-once, @platformatic/kafka commit protocol (Node 22)',
  },
  {
    name: 'sluice-stateless-eos-checkpoint',
    engine: 'sluice',
    job: 'stateless',
    mode: 'exactly-once',
    commit: 'checkpoint',
    optional: true,
    title: "Sluice, YSB source stage, exactly-once, commit: 'checkpoint' (the protocol before 2026-12-05)",
  },
  { name: 'sluice-stateless-alo', engine: 'sluice', job: 'stateless', mode: 'at-least-once', title: 'Sluice, YSB source stage, at-least-once' },
  {
    name: 'sluice-stateless-alo-inproc',
    engine: 'sluice',
    job: 'stateless',
    mode: 'at-least-once',
    invoker: 'in-process',
    optional: true,
    title: 'Sluice, YSB source stage, at-least-once, functions in the pollers\' process',
  },
  {
    name: 'sluice-stateless-avro-eos',
    engine: 'sluice',
    job: 'stateless',
    mode: 'exactly-once',
    encoding: 'avro',
    title: 'Sluice, YSB source stage, Avro through a schema registry, exactly-once',
  },
  { name: 'kstreams-eos', engine: 'kstreams', job: 'ysb', title: 'Kafka Streams 3.9.2, YSB, exactly_once_v2' },
  { name: 'sluice-ysb-eos', engine: 'sluice', job: 'ysb', mode: 'exactly-once', bottom: true, title: 'Sluice, YSB pipeline, exactly-once' },
  {
    name: 'sluice-ysb-eos-inproc',
    engine: 'sluice',
    job: 'ysb',
    mode: 'exactly-once',
    invoker: 'in-process',
    title: 'Sluice, YSB pipeline, exactly-once, functions in the pollers\' process (the earlier measurement)',
  },
  {
    name: 'sluice-ysb-eos-checkpoint',
    engine: 'sluice',
    job: 'ysb',
    mode: 'exactly-once',
    commit: 'checkpoint',
    bottom: true,
    optional: true,
    title: "Sluice, YSB pipeline, exactly-once, commit: 'checkpoint' (the protocol before 2026-12-05)",
  },
  { name: 'sluice-ysb-alo', engine: 'sluice', job: 'ysb', mode: 'at-least-once', bottom: true, title: 'Sluice, YSB pipeline, at-least-once' },
  {
    name: 'sluice-ysb-alo-inproc',
    engine: 'sluice',
    job: 'ysb',
    mode: 'at-least-once',
    invoker: 'in-process',
    optional: true,
    title: 'Sluice, YSB pipeline, at-least-once, functions in the pollers\' process',
  },
] as const satisfies ReadonlyArray<{
  name: string;
  engine: 'raw' | 'sluice' | 'kstreams';
  job: 'stateless' | 'ysb';
  mode?: Mode;
  /** Source records as JSON (default) or Avro through a schema registry. */
  encoding?: 'json' | 'avro';
  /** The pipeline's commit protocol (PipelineOptions.commit; default checkpoint). */
  commit?: 'checkpoint' | 'changelog';
  /** The stage functions' Kafka client (default kafkajs); the emulated triggers stay kafkajs. */
  kafkaClient?: KafkaClientName;
  /** Where the stage functions run: out of process (default: containers as child processes), or in the pollers' process. */
  invoker?: 'in-process';
  /** Runs the bottom phases (burst, idle, low rate) after the live one. */
  bottom?: boolean;
  /** Runs only when named with --only (e.g. needs Node 22: the platformatic client). */
  optional?: boolean;
  title: string;
}>;

/** Where a configuration's stage functions run (Sluice only). */
export function invokerOf(spec: ConfigSpec): 'process' | 'in-process' {
  return 'invoker' in spec ? spec.invoker : 'process';
}

/** The commit protocol of a configuration, when it names one. */
function commitOf(spec: ConfigSpec): { commit?: 'checkpoint' | 'changelog' } {
  return 'commit' in spec ? { commit: spec.commit } : {};
}

/** The source encoding of a configuration (JSON unless it says Avro). */
function encodingOf(spec: ConfigSpec): 'json' | 'avro' {
  return 'encoding' in spec ? spec.encoding : 'json';
}

/** One configuration. */
export type ConfigSpec = (typeof CONFIGS)[number];
/** Its name. */
export type ConfigName = ConfigSpec['name'];

/** The workload and the knobs of a run. */
export interface BenchSettings {
  readonly preset: 'quick' | 'full';
  readonly seed: number;
  /** Drain phases per configuration (the first with the live phase, interleaved across configurations); the median counts. */
  readonly repeats: number;
  /** Events in the drain phase's backlog, and their density in event time (events per second). */
  readonly backlogEvents: number;
  readonly backlogRate: number;
  /** Share of the backlog that is warm-up, not timed. */
  readonly warmupFraction: number;
  /** Rate and length of the live phase; stateless jobs need no windows, so theirs is shorter. */
  readonly liveRate: number;
  readonly liveDurationMs: number;
  readonly statelessLiveDurationMs: number;
  /** Zipf exponent of campaign popularity, and the most an event's time lags its append (ms). */
  readonly skew: number;
  readonly maxJitterMs: number;
  readonly sourcePartitions: number;
  readonly partitions: number;
  /** Records per invocation (Sluice) or per transaction (raw loop). */
  readonly batchSize: number;
  /** The batching window of the triggers on the source topic. */
  readonly batchingWindowMs: number;
  /** The batching window of the triggers on the topics Sluice writes between stages (internal, control). */
  readonly internalBatchingWindowMs: number;
  /** The ticker's schedule in the local run (the deployed default's interval: framework/deploy/defaults.ts). */
  readonly tickIntervalMs: number;
  /** The bottom phases of the YSB configurations: burst length, idle length, low rate and its length. */
  readonly burstMs: number;
  readonly idleMs: number;
  readonly lowRate: number;
  readonly lowDurationMs: number;
  /** The bundled stage function the out-of-process containers run (built once per run). */
  readonly functionScript?: string;
  /** Leave out the bottom phases (sweeps). */
  readonly skipBottom?: boolean;
  readonly configs: readonly ConfigName[];
}

/** One phase's figures. */
export interface PhaseResult {
  readonly events: number;
  readonly views: number;
  /** Records timed (drain: after warm-up) and the time they took. */
  readonly timedRecords: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** Drain: all backlog events over the time from the first record taken (start-up included). */
  readonly eventsPerSecondWithStartup?: number;
  /** Drain: events/s of every repeat, in run order (eventsPerSecond is their median). */
  readonly runs?: readonly number[];
  readonly check: PhaseCheck;
  readonly ops: OpsPer1k;
}

/** Latencies of the live phase. */
export interface LiveLatency {
  readonly endToEnd: LatencyStats | undefined;
  readonly stageAdded: LatencyStats | undefined;
  /** Windows the stream closed itself (windowed jobs), and outputs not matched to an input (stateless). */
  readonly windows?: number;
  readonly unmatched?: number;
}

/** A bottom phase as saved: its totals and its figures per minute (and per 1,000 events when it had events). */
export interface BottomPhaseResult {
  readonly name: 'idle' | 'low';
  readonly rate: number;
  readonly seconds: number;
  readonly events: number;
  readonly ops: PhaseOps;
  readonly perMinute: PhaseOps;
  readonly per1k?: OpsPer1k;
  /** Low phase: latencies of the windows it closed itself. */
  readonly latency?: LiveLatency;
}

/** The stage functions' containers (out of process). */
export interface FunctionFigures {
  readonly containers: number;
  /** The largest peak RSS of one container, MiB. */
  readonly peakRssMiB: number;
  /** Mean Init Duration of a container, ms. */
  readonly meanInitMs: number;
}

/** What one configuration did. */
export interface ConfigResult {
  readonly name: ConfigName;
  readonly title: string;
  readonly engine: ConfigSpec['engine'];
  readonly job: ConfigSpec['job'];
  readonly ok: boolean;
  readonly error?: string;
  readonly drain?: PhaseResult;
  readonly live?: PhaseResult & { readonly rate: number; readonly latency: LiveLatency; readonly behindMs: number };
  /** YSB (Sluice): the bottom phases and the check of their outputs. */
  readonly idle?: BottomPhaseResult;
  readonly low?: BottomPhaseResult & { readonly check: PhaseCheck; readonly burstEvents: number };
  /** Sluice: where the functions ran. */
  readonly invoker?: 'process' | 'in-process';
  /** Out of process: the functions' containers. */
  readonly functions?: FunctionFigures;
  /** Peak RSS of the processor's process (out of process: the pollers'), MiB. */
  readonly peakRssMiB?: number;
  readonly failures?: number;
  readonly errors?: readonly string[];
  /** Sluice: Lambda containers (handler instances) started per stage. */
  readonly containers?: Record<string, number>;
  readonly profile?: PipelineProfile;
}

/** What runConfig needs from the surrounding run. */
export interface RunEnv {
  readonly kafka: Kafka;
  readonly brokers: readonly string[];
  readonly dynamodbEndpoint: string;
  readonly runId: string;
  readonly progress: Progress;
  readonly position: string;
}

/** Runs one configuration (`drainOnly`: a repeat of its drain phase); never throws (a failure is a result with ok: false). */
export async function runConfig(spec: ConfigSpec, s: BenchSettings, env: RunEnv, drainOnly = false): Promise<ConfigResult> {
  const app = `b${env.runId}-${short(spec.name)}`;
  const sourceTopic = `${app}-ad-events`;
  const sinkTopic = `${app}-out`;
  const table = `${app}-state`;
  const sluiceTopology =
    spec.engine === 'sluice' ? benchTopology({ variant: spec.job, mode: spec.mode, encoding: encodingOf(spec), ...commitOf(spec), app, sourceTopic, sinkTopic, sourcePartitions: s.sourcePartitions, partitions: s.partitions }) : undefined;
  const observers: TopicObserver[] = [];
  const observerGroups: string[] = [];
  let processor: Processor | undefined;
  const base = { name: spec.name, title: spec.title, engine: spec.engine, job: spec.job };
  const say = (line: string): void => env.progress.log(`${env.position} ${spec.name}: ${line}`);
  try {
    await withAdmin(env.kafka, (admin) =>
      ensureTopics(admin, [
        { topic: sourceTopic, partitions: s.sourcePartitions },
        { topic: sinkTopic, partitions: s.partitions },
      ]),
    );

    // ---- drain: the backlog is written before the processor starts ------------------------------
    const backlogStart = windowStartOf(Date.now() - 3_600_000, WINDOW_MS) + 3_500;
    const backlogOptions = {
      seed: s.seed,
      rate: s.backlogRate,
      durationMs: Math.round((s.backlogEvents / s.backlogRate) * 1000),
      startTime: backlogStart,
      skew: s.skew,
      maxJitterMs: s.maxJitterMs,
      partitions: s.sourcePartitions,
      closeWindows: true,
    };
    const started = Date.now();
    env.progress.show(() => `${env.position} ${spec.name}  writing backlog  ${secondsSince(started)}`);
    const encode = encodingOf(spec) === 'avro' ? await adEventAvroWriter() : undefined;
    const backlog = await runGenerator(env.kafka, sourceTopic, { ...backlogOptions, batchSize: 1_000, ...(encode ? { encode } : {}) });
    env.progress.done();
    // Outputs with event times before this are the backlog's; the live stream's are now.
    const split = Date.now() - 600_000;
    const kind = spec.job === 'stateless' ? 'views' : 'counts';
    const atLeastOnce = spec.engine === 'sluice' && spec.mode === 'at-least-once';
    const log = new SinkLog(kind, split, atLeastOnce);
    log.expect('drain', kind === 'views' ? { views: backlog.views } : { counts: backlog.oracle.expected() });
    observers.push(await observeTopic(env.kafka, sinkTopic, { readCommitted: true, startAt: 'earliest' }, (r) => log.add(r)));
    observerGroups.push(observers[0]!.groupId);

    const warmupRecords = Math.floor(s.backlogEvents * s.warmupFraction);
    processor = startProcessor(spec, s, env, { app, sourceTopic, sinkTopic, table, warmupRecords });
    const p = processor;
    await p.ready(180_000);
    const firstInput = await p.firstInput(120_000);
    const drainTimeout = 60_000 + (s.backlogEvents / 200) * 1000;
    env.progress.show(() => status(env.position, spec.name, 'drain', log, 'drain', firstInput));
    const warm = await p.warmedUp(drainTimeout);
    const lateTopic = sluiceTopology?.topics.find((t) => t.role === 'late')?.name;
    try {
      await log.waitUntil(() => log.complete('drain'), drainTimeout, () => p.failure, 'drain');
    } catch (error) {
      // Say what is wrong, not only that it did not finish.
      env.progress.done();
      const [drainCheck] = await checkOutputs(spec, env.kafka, sinkTopic, lateTopic, split, backlog, backlogOptions, undefined, undefined).catch(() => [undefined]);
      throw new Error(`drain: ${error instanceof Error ? error.message : String(error)}${drainCheck ? `; ${drainCheck.problems.slice(0, 8).join('; ')}` : ''}`);
    }
    env.progress.done();
    const drainDoneAt = log.completedAt('drain')!;
    const drainStats = await p.stats();
    const drainCpu = cpuMs(p.pid) ?? 0;
    const timedRecords = backlog.events + backlog.endOfStream - warm.records;
    const drainSeconds = (drainDoneAt - warm.at) / 1000;
    const drainRate = timedRecords / drainSeconds;
    const withStartup = backlog.events / ((drainDoneAt - firstInput) / 1000);
    say(`drain ${int(timedRecords)} events after warm-up in ${drainSeconds.toFixed(1)} s = ${int(drainRate)} events/s (${int(withStartup)} with start-up)`);
    const stageSizes = sluiceTopology?.stages.map((st) => ({ name: st.name, partitions: st.inputs.reduce((n, i) => n + i.partitions, 0), readsSource: st.inputs.some((i) => sluiceTopology.topics.find((t) => t.name === i.topic)?.role === 'source') }));
    // The backlog spans events ÷ backlogRate seconds of event time, which the drain runs through faster than real time.
    const drainSamples = { name: 'drain', rate: drainRate, samples: drainStats.invocations ?? [], events: backlog.events, seconds: drainSeconds, eventSeconds: backlog.events / s.backlogRate, tickWrites: drainStats.ticker?.sends ?? 0 };
    if (drainOnly) {
      const final = await p.stop();
      processor = undefined;
      await Promise.all(observers.splice(0).map((o) => o.stop()));
      const [drainCheck] = await checkOutputs(spec, env.kafka, sinkTopic, lateTopic, split, backlog, backlogOptions, undefined, undefined);
      const ops = per1k(phaseOps(undefined, drainStats, drainCpu), backlog.events);
      return {
        ...base,
        ok: drainCheck.ok,
        ...(drainCheck.ok ? {} : { error: `outputs differ from the oracle: ${drainCheck.problems.slice(0, 8).join('; ')}` }),
        drain: { events: backlog.events, views: backlog.views, timedRecords, seconds: drainSeconds, eventsPerSecond: drainRate, eventsPerSecondWithStartup: withStartup, check: drainCheck, ops },
        ...functionFigures(final),
        ...(stageSizes ? { profile: withTicker(buildProfile(spec.name, stageSizes, drainSamples), tickerProfile(final)) } : {}),
      };
    }

    // ---- live: real time, at a fixed rate ---------------------------------------------------------
    const ends = await withAdmin(env.kafka, (admin) => topicOffsets(admin, sourceTopic));
    const sources: SourceEvent[] = [];
    const readSource = sourceReader(encodingOf(spec));
    observers.push(
      await observeTopic(env.kafka, sourceTopic, { readCommitted: false, startAt: new Map(ends.map((e) => [e.partition, Number(e.high)])) }, (records) => {
        for (const r of records) {
          const e = parseSource(r, readSource);
          if (e) sources.push(e);
        }
      }),
    );
    observerGroups.push(observers[1]!.groupId);
    const liveDurationMs = spec.job === 'stateless' ? s.statelessLiveDurationMs : s.liveDurationMs;
    const liveOptions: RunGeneratorOptions & { startTime: number } = {
      seed: s.seed + 1,
      rate: s.liveRate,
      durationMs: liveDurationMs,
      startTime: Date.now() + 300,
      skew: s.skew,
      maxJitterMs: s.maxJitterMs,
      partitions: s.sourcePartitions,
      closeWindows: true,
      realtime: true,
    };
    let written = 0;
    env.progress.show(() => `${env.position} ${spec.name}  live  ${int(s.liveRate)} ev/s  written ${int(written)}  outputs ${int(log.progress('live')[0])}  ${secondsSince(liveOptions.startTime)}`);
    const live = await runGenerator(env.kafka, sourceTopic, { ...liveOptions, onProgress: (n) => (written = n), ...(encode ? { encode } : {}) });
    const liveWrittenAt = Date.now();
    log.expect('live', kind === 'views' ? { views: live.views } : { counts: live.oracle.expected() });
    env.progress.show(() => status(env.position, spec.name, 'live', log, 'live', liveOptions.startTime));
    try {
      await log.waitUntil(() => log.complete('live'), 120_000, () => p.failure, 'live', 60_000);
    } catch (error) {
      env.progress.done();
      const [, liveCheck] = await checkOutputs(spec, env.kafka, sinkTopic, lateTopic, split, backlog, backlogOptions, live, liveOptions).catch(() => [undefined, undefined]);
      throw new Error(`live: ${error instanceof Error ? error.message : String(error)}${liveCheck ? `; ${liveCheck.problems.slice(0, 8).join('; ')}` : ''}`);
    }
    env.progress.done();
    const liveDoneAt = log.completedAt('live')!;
    const liveStats = await p.stats();
    const liveCpu = cpuMs(p.pid) ?? 0;

    // ---- bottom of the range: burst, idle, 10 events/s (YSB) --------------------------------------------
    const bottom =
      'bottom' in spec && spec.bottom && !s.skipBottom
        ? await runBottomPhases(
            {
              kafka: env.kafka,
              sourceTopic,
              processor: p,
              log,
              startAfter: (live.closedAt ?? Date.now()) + s.maxJitterMs + 1_000,
              generator: { seed: s.seed, rate: s.liveRate, skew: s.skew, maxJitterMs: s.maxJitterMs, partitions: s.sourcePartitions },
              ...(encode ? { encode } : {}),
              show: (line) => env.progress.show(() => `${env.position} ${spec.name}  ${line()}`),
              done: () => env.progress.done(),
            },
            s,
          ).catch(async (error: unknown) => {
            env.progress.done();
            throw new Error(`bottom phases: ${error instanceof Error ? error.message : String(error)}`);
          })
        : undefined;
    const peak = peakRssBytes(p.pid);
    const finalStats = await p.stop();
    processor = undefined;
    await Promise.all(observers.splice(0).map((o) => o.stop()));

    // ---- check everything against the oracle --------------------------------------------------------
    const [drainCheck, liveCheck, bottomCheck] = await checkOutputs(spec, env.kafka, sinkTopic, lateTopic, split, backlog, backlogOptions, live, liveOptions, bottom?.expectation);
    const dlq = sluiceTopology ? await deadLetters(env.kafka, sluiceTopology.stages.map((st) => st.deadLetterTopic)) : [];

    const burstStart = bottom ? Math.min(...sources.filter((e) => e.eventTime >= bottom.expectation.split).map((e) => e.appendTime)) : Number.POSITIVE_INFINITY;
    const latency = liveLatency(spec, log, sources.filter((e) => e.appendTime < burstStart), s.sourcePartitions, 'live');
    const drainOps = per1k(phaseOps(undefined, drainStats, drainCpu), backlog.events);
    const liveOps = per1k(phaseOps(drainStats, liveStats, liveCpu - drainCpu), live.events);
    const liveSeconds = (liveDoneAt - liveOptions.startTime) / 1000;
    const problems = [...drainCheck.problems.map((x) => `drain: ${x}`), ...liveCheck.problems.map((x) => `live: ${x}`), ...bottomCheck.problems.map((x) => `burst + low rate: ${x}`), ...dlq];
    const profile = stageSizes
      ? withTicker(
          buildProfile(
            spec.name,
            stageSizes,
            drainSamples,
            { name: 'live', rate: s.liveRate, samples: liveStats.invocations ?? [], events: live.events, seconds: liveSeconds, tickWrites: (liveStats.ticker?.sends ?? 0) - (drainStats.ticker?.sends ?? 0) },
            bottom ? [bottom.idle, bottom.low].map((b) => ({ name: b.name, rate: b.rate, samples: b.samples, events: b.events, seconds: b.seconds, tickWrites: b.ops.tickWrites ?? 0 })) : [],
          ),
          tickerProfile(finalStats),
        )
      : undefined;
    const saved = (b: BottomPhase): BottomPhaseResult => ({
      name: b.name,
      rate: b.rate,
      seconds: b.seconds,
      events: b.events,
      ops: b.ops,
      perMinute: scaleOps(b.ops, 60 / b.seconds),
      ...(b.events > 0 ? { per1k: per1k(b.ops, b.events) } : {}),
    });
    return {
      ...base,
      ok: drainCheck.ok && liveCheck.ok && bottomCheck.ok && dlq.length === 0,
      ...(problems.length > 0 ? { error: `outputs differ from the oracle: ${problems.slice(0, 8).join('; ')}` } : {}),
      drain: {
        events: backlog.events,
        views: backlog.views,
        timedRecords,
        seconds: drainSeconds,
        eventsPerSecond: drainRate,
        eventsPerSecondWithStartup: withStartup,
        check: drainCheck,
        ops: drainOps,
      },
      live: {
        events: live.events,
        views: live.views,
        timedRecords: live.events,
        seconds: liveSeconds,
        eventsPerSecond: live.events / liveSeconds,
        rate: s.liveRate,
        behindMs: Math.max(0, liveDoneAt - liveWrittenAt),
        check: liveCheck,
        ops: liveOps,
        latency,
      },
      ...(bottom
        ? {
            idle: saved(bottom.idle),
            low: {
              ...saved(bottom.low),
              check: bottomCheck,
              burstEvents: bottom.burst.events,
              latency: liveLatency(spec, log, sources.filter((e) => e.appendTime >= bottom.lowStartedAt), s.sourcePartitions, 'bottom'),
            },
          }
        : {}),
      ...(spec.engine === 'sluice' ? { invoker: invokerOf(spec) } : {}),
      ...functionFigures(finalStats),
      ...(peak !== undefined ? { peakRssMiB: peak / 2 ** 20 } : {}),
      failures: finalStats.failures,
      errors: finalStats.errors,
      ...(finalStats.kafka.containers ? { containers: finalStats.kafka.containers } : {}),
      ...(profile ? { profile } : {}),
    };
  } catch (error) {
    env.progress.done();
    const message = error instanceof Error ? error.message : String(error);
    const output = processor?.output();
    return { ...base, ok: false, error: output ? `${message}\n--- processor output ---\n${output}` : message };
  } finally {
    if (processor) await processor.stop(20_000).catch(() => undefined);
    await Promise.all(observers.map((o) => o.stop()));
    await cleanUp(env, { app, sourceTopic, sinkTopic, table, topics: sluiceTopology?.topics.map((t) => t.name) ?? [], groups: observerGroups });
  }
}

/** The functions' containers as the final stats saw them (out of process only). */
function functionFigures(stats: ProcessorStats): { functions?: FunctionFigures } {
  const f = stats.functions;
  return f ? { functions: { containers: f.containers, peakRssMiB: f.maxRssBytes / 2 ** 20, meanInitMs: f.meanInitMs } } : {};
}

/** The ticker per pass: reads, read units, the share of passes that wrote; and one write's and one connect's time. */
function tickerProfile(stats: ProcessorStats): TickerProfile | undefined {
  const t = stats.ticker;
  if (!t || t.passes === 0) return undefined;
  return {
    readMsPerPass: t.readMs / t.passes,
    rruPerPass: t.readUnits / t.passes,
    writingPasses: Math.min(1, t.sends / t.passes),
    writeMs: t.sends > 0 ? t.sendMs / t.sends : 0,
    connectMs: t.connects > 0 ? t.connectMs / t.connects : 0,
  };
}

function startProcessor(spec: ConfigSpec, s: BenchSettings, env: RunEnv, names: { app: string; sourceTopic: string; sinkTopic: string; table: string; warmupRecords: number }): Processor {
  if (spec.engine === 'kstreams') {
    return startKStreams(spec.name, {
      appId: names.app,
      brokers: env.brokers,
      sourceTopic: names.sourceTopic,
      sinkTopic: names.sinkTopic,
      partitions: s.partitions,
      warmupRecords: names.warmupRecords,
    });
  }
  if (spec.engine === 'raw') {
    return startNodeProcessor(spec.name, {
      kind: 'raw',
      app: names.app,
      sourceTopic: names.sourceTopic,
      sinkTopic: names.sinkTopic,
      sourcePartitions: s.sourcePartitions,
      brokers: env.brokers,
      batchSize: s.batchSize,
      batchingWindowMs: s.batchingWindowMs,
      // Sluice's default (function timeout 60 s + 60 s).
      transactionTimeoutMs: 120_000,
      warmupRecords: names.warmupRecords,
    });
  }
  return startNodeProcessor(spec.name, {
    kind: 'sluice',
    variant: spec.job,
    encoding: encodingOf(spec),
    mode: spec.mode,
    ...commitOf(spec),
    app: names.app,
    sourceTopic: names.sourceTopic,
    sinkTopic: names.sinkTopic,
    sourcePartitions: s.sourcePartitions,
    partitions: s.partitions,
    brokers: env.brokers,
    dynamodbEndpoint: env.dynamodbEndpoint,
    table: names.table,
    batchSize: s.batchSize,
    batchingWindowMs: s.batchingWindowMs,
    internalBatchingWindowMs: s.internalBatchingWindowMs,
    tickIntervalMs: s.tickIntervalMs,
    warmupRecords: names.warmupRecords,
    ...('kafkaClient' in spec ? { kafkaClient: spec.kafkaClient } : {}),
    invoker: invokerOf(spec),
    ...(s.functionScript ? { functionScript: s.functionScript } : {}),
  });
}

function status(position: string, name: string, label: string, log: SinkLog, phase: Phase, since: number): string {
  const [done, of] = log.progress(phase);
  const what = log.kind === 'views' ? 'outputs' : 'window counts';
  return `${position} ${name}  ${label}  ${what} ${int(done)}/${of === undefined ? '?' : int(of)}  ${secondsSince(since)}`;
}

function liveLatency(spec: ConfigSpec, log: SinkLog, sources: readonly SourceEvent[], partitions: number, phase: Phase): LiveLatency {
  if (spec.job === 'stateless') {
    const { latencies, unmatched } = statelessLatencies(
      sources,
      log.views[phase].map((v) => ({ adId: v.view.ad_id, eventTime: v.view.event_time, visibleAt: v.visibleAt })),
    );
    const stats = summarize(latencies);
    return { endToEnd: stats, stageAdded: stats, unmatched };
  }
  const w = windowLatencies(sources, log.firstCorrect(phase), {
    windowMs: WINDOW_MS,
    outOfOrdernessMs: MAX_OUT_OF_ORDERNESS_MS,
    partitions,
    semantics: spec.engine === 'kstreams' ? 'running' : 'watermark',
  });
  return { endToEnd: summarize(w.endToEnd), stageAdded: summarize(w.stageAdded), windows: w.windows };
}

/** The fields of a source event the latency measurement reads. */
interface SourceRecord {
  readonly ad_id: string;
  readonly event_type: string;
  readonly event_time: number;
  readonly user_id: string;
}

/** Reads source record values as the configuration's generator wrote them (Avro: past the 5-byte registry header). */
function sourceReader(encoding: 'json' | 'avro'): (value: Buffer) => SourceRecord {
  if (encoding === 'json') return (value) => JSON.parse(value.toString('utf8')) as SourceRecord;
  const type = avsc.Type.forSchema(AD_EVENT_AVRO as unknown as avsc.Schema);
  return (value) => type.fromBuffer(value.subarray(5)) as SourceRecord;
}

function parseSource(r: Observed, read: (value: Buffer) => SourceRecord): SourceEvent | undefined {
  try {
    const e = read(r.value ?? Buffer.alloc(0));
    return {
      partition: r.partition,
      appendTime: r.timestamp,
      eventTime: e.event_time,
      adId: e.ad_id,
      viewOf: e.event_type === 'view' ? campaignOf(e.ad_id) : undefined,
      endOfStream: e.user_id === END_OF_STREAM_USER,
    };
  } catch {
    return undefined;
  }
}

async function withAdmin<T>(kafka: Kafka, f: (admin: ReturnType<Kafka['admin']>) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await f(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes what the configuration created: topics (also Kafka Streams' internal ones), groups, the table. */
async function cleanUp(env: RunEnv, o: { app: string; sourceTopic: string; sinkTopic: string; table: string; topics: readonly string[]; groups: readonly string[] }): Promise<void> {
  try {
    await withAdmin(env.kafka, async (admin) => {
      const existing = await admin.listTopics();
      const mine = new Set([o.sourceTopic, o.sinkTopic, ...o.topics, ...existing.filter((t) => t.startsWith(`${o.app}-`) || t.startsWith(`${o.app}.`))]);
      const topics = existing.filter((t) => mine.has(t));
      if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 }).catch(() => undefined);
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g === o.app || g.startsWith(`bench-${o.app}`) || o.groups.includes(g));
      if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
    });
  } catch {
    // Best effort: names are unique per run, leftovers harm nothing.
  }
  await deleteTable(createDynamoClient({ endpoint: env.dynamodbEndpoint }), o.table).catch(() => undefined);
  await sleep(200);
}

function short(name: ConfigName): string {
  // Pipeline names have at most 30 characters: `b<run id, up to 10>-<this>`.
  return name.replace('sluice-', 's').replace('stateless', 'sl').replace('kstreams', 'ks').replace('raw-kafkajs', 'raw').replace('platformatic', 'plt');
}
