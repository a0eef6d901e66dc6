/**
 * The fault-injection driver of the exactly-once suite (docs/exactly-once.md). It plays Lambda's Kafka
 * event-source mapping (ESM) against one stage at a time and breaks things on purpose, following
 * a schedule drawn from a seeded PRNG:
 *   - crashes at every CommitStep: the fault hook throws SimulatedCrash and the container is
 *     dead from then on (no further I/O, its open transaction and producer stay behind as a
 *     zombie); the ESM retries on another container;
 *   - redelivery: the ESM re-sends from its committed offset, which lags when an offset commit
 *     is lost, and batch boundaries differ on every attempt;
 *   - zombies: a second invocation of the same partitions on another container, concurrently,
 *     with random pauses at every port call and step so the two interleave differently each time;
 *   - transient port errors: throttling before a call, a response lost after the call applied,
 *     and a conditional failure reported for a write that did apply (an SDK retry of a request
 *     whose first attempt succeeded).
 * Every invocation either succeeds or fails with one of those causes, a CheckpointConflict or a
 * fenced producer; anything else is reported. After a fault-free drain and a final redelivery,
 * what was committed is compared with the oracle (./oracle.ts) and with the protocol's own
 * bookkeeping (provenance headers, progress records, checkpoints).
 *
 * Port-agnostic: all I/O goes through a World (fresh containers' ports, a read_committed view of
 * topics, a store to inspect), so the same schedules run over the in-memory adapters in unit tests
 * and over kafkajs + DynamoDB Local in integration tests. Replay one schedule with SLUICE_SEED=<seed>;
 * SLUICE_SOAK=1 runs many more (see faultSuiteConfig).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BatchRecord, Checkpoint, CommitStep, KafkaTxn, TaskLog, TaskRef, TaskStore, TxnSink } from '../../framework/commit/ports.js';
import { readLogTask } from '../../framework/commit/changelog-protocol.js';
import { changelogBatches, type ChangelogEntry } from '../../framework/record/changelog.js';
import type { StateEntry } from '../../framework/state/codec.js';
import { MemoryTaskLog } from '../../framework/testing/memory-task-log.js';
import { CheckpointConflict, SimulatedCrash } from '../../framework/commit/ports.js';
import type { CompactionPolicy } from '../../framework/commit/checkpoint.js';
import { json, pipeline, valueState } from '../../framework/index.js';
import type { PipelineOptions } from '../../framework/index.js';
import { readProvenance } from '../../framework/record/provenance.js';
import { parseProgress } from '../../framework/record/progress.js';
import type { KafkaRecord } from '../../framework/record/record.js';
import { encodeEvent } from '../../framework/lambda/decode.js';
import type { InvocationReport, KafkaHandler, StagePorts } from '../../framework/runtime/handler.js';
import { InvocationFailedError, stageHandler } from '../../framework/runtime/handler.js';
import { taskRef } from '../../framework/runtime/task.js';
import { changelogOf } from '../../framework/topology/names.js';
import { stateMapKey } from '../../framework/state/task-state.js';
import { MemoryFencedError, MemoryKafka, MemoryTxnSink } from '../../framework/testing/memory-kafka.js';
import { MemoryCheckpointStore } from '../../framework/testing/memory-store.js';
import { compile } from '../../framework/topology/compile.js';
import type { Stage, Topology } from '../../framework/topology/topology.js';
import type { Click, Discrepancy, DiscrepancyKind, Fed, Seen, SeenUpdate, Totals, TotalsUpdate } from './oracle.js';
import { checkAtLeastOnce, checkRepartition, checkTotals, expectTotals } from './oracle.js';

// --- seeds ---------------------------------------------------------------------------------------

/** A small seeded PRNG (mulberry32): the same seed gives the same schedule. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** How many schedules to run from which seed, as the environment asks. */
export interface SuiteConfig {
  /** Schedule i runs with seed `seed + i`. */
  readonly seed: number;
  readonly schedules: number;
  /** SLUICE_SOAK=1: a random base seed and `soakSchedules` schedules. */
  readonly soak: boolean;
  /** SLUICE_SEED=<n>: exactly the schedule with seed n. */
  readonly replay: boolean;
}

/** Reads SLUICE_SEED (replay one schedule) and SLUICE_SOAK (many schedules from a random seed; SLUICE_SOAK_SCHEDULES how many). */
export function faultSuiteConfig(defaults: { seed: number; schedules: number; soakSchedules: number }, env: NodeJS.ProcessEnv = process.env): SuiteConfig {
  const raw = env.SLUICE_SEED;
  if (raw !== undefined && raw !== '') {
    const seed = Number(raw);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`SLUICE_SEED must be an integer from 0 to 4294967295, got ${JSON.stringify(raw)}`);
    return { seed, schedules: 1, soak: false, replay: true };
  }
  if (env.SLUICE_SOAK === '1') {
    const seed = Math.floor(Math.random() * 0xffffffff);
    const count = env.SLUICE_SOAK_SCHEDULES;
    const schedules = count === undefined || count === '' ? defaults.soakSchedules : Number(count);
    if (!Number.isInteger(schedules) || schedules < 1) throw new Error(`SLUICE_SOAK_SCHEDULES must be a positive integer, got ${JSON.stringify(count)}`);
    // Said now, not at the end: a soak that hangs or is killed must still say where it started.
    process.stderr.write(`soak: ${schedules} schedules per scenario from seed ${seed}\n`);
    return { seed, schedules, soak: true, replay: false };
  }
  return { seed: defaults.seed, schedules: defaults.schedules, soak: false, replay: false };
}

// --- worlds --------------------------------------------------------------------------------------

/** Where schedules run: the in-memory adapters, or a real broker and DynamoDB Local. */
export interface World {
  /** Prepares a fresh cluster view for one schedule of `topology` (topics, table). */
  open(topology: Topology): Promise<WorldSession>;
  /**
   * Most milliseconds a jittered (zombie) invocation sleeps before each step and port call, on
   * top of yielding. Real adapters take milliseconds per call, so without it a zombie rarely
   * falls far enough behind to act after the invocation it races has committed.
   */
  readonly jitterMs?: number;
}

/** One schedule's view of a world. */
export interface WorldSession {
  /** The adapters of a new container: new producers (older ones become zombies), the same state. */
  container(): StagePorts | Promise<StagePorts>;
  /** What the checker reads checkpoints and state through: never faulted, never counted. */
  readonly observer: TaskStore;
  /** What the checker reads task changelogs through (changelog protocol), never faulted. */
  readonly observerLog?: TaskLog;
  /** Every record of `topic` a read_committed consumer sees, partitions ascending, offsets ascending. */
  readCommitted(topic: string): Promise<KafkaRecord[]>;
  /** Whether an error says a producer was fenced by a newer one (an allowed way to lose a race). */
  isFenced(error: unknown): boolean;
  /** Releases every container's clients (zombies included) and whatever open() created. */
  close(): Promise<void>;
  /** For traces of failing schedules: the raw log of `topic` (records, producers, markers), if the world can show it. */
  dumpLog?(topic: string): Promise<string>;
}

/** Options of memoryWorld. */
export interface MemoryWorldOptions {
  /** Rewraps each container's ports, e.g. to switch a guarantee off and watch the checker catch it. */
  readonly wrap?: (ports: StagePorts) => StagePorts;
}

/** The in-memory world: MemoryKafka, one MemoryCheckpointStore, a MemoryTxnSink per container. */
export function memoryWorld(options: MemoryWorldOptions = {}): World {
  return {
    async open(topology) {
      const partitions = new Map(topology.topics.map((t) => [t.name, t.partitions]));
      const kafka = new MemoryKafka((t) => partitions.get(t) ?? 1);
      const store = new MemoryCheckpointStore();
      return {
        container: () => {
          const ports: StagePorts = { store, sink: new MemoryTxnSink(kafka), log: new MemoryTaskLog(kafka) };
          return options.wrap ? options.wrap(ports) : ports;
        },
        observer: store,
        observerLog: new MemoryTaskLog(kafka),
        readCommitted: async (topic) =>
          kafka.readCommitted(topic).map((r) => ({
            topic: r.topic,
            partition: r.partition,
            offset: r.offset,
            timestamp: r.timestamp,
            timestampType: 'CREATE_TIME' as const,
            key: r.key,
            value: r.value,
            headers: r.headers,
          })),
        isFenced: (error) => error instanceof MemoryFencedError,
        close: async () => undefined,
      };
    },
  };
}

// --- schedules -----------------------------------------------------------------------------------

/** Every step the protocol announces to its fault hook. */
export const COMMIT_STEPS: readonly CommitStep[] = ['after-restore', 'before-send', 'after-send', 'after-record', 'after-prepare', 'after-kafka-commit', 'after-confirm', 'after-recovery-fence', 'after-snapshot'];

/** The steps of the changelog protocol (commit/changelog-protocol.ts); `after-confirm` is a compaction's checkpoint write there. */
export const CHANGELOG_STEPS: readonly CommitStep[] = ['after-restore', 'before-send', 'after-send', 'after-kafka-commit', 'after-compaction-claim', 'after-snapshot', 'after-confirm'];

/** Every step of either protocol. */
export const ALL_STEPS: readonly CommitStep[] = [...new Set([...COMMIT_STEPS, ...CHANGELOG_STEPS])];

/** How often each fault happens. Probabilities are per invocation unless said otherwise. */
export interface FaultMix {
  /** The invocation's container dies at one of `crashSteps` (if the step comes up). */
  readonly crash: number;
  readonly crashSteps: readonly CommitStep[];
  /** A zombie invocation of the same partitions runs concurrently on another container. */
  readonly zombie: number;
  /** The invocation's store calls fail transiently, each with chance `callFailure`. */
  readonly flakyStore: number;
  /** The invocation's Kafka calls fail transiently, each with chance `callFailure`. */
  readonly flakySink: number;
  readonly callFailure: number;
  /** After a success the ESM commits only part of a partition's batch (or none), so it redelivers. */
  readonly lostOffsetCommit: number;
  /** The invocation lands on a new container. */
  readonly coldStart: number;
}

/** The default mix: every fault kind in most schedules. */
export const DEFAULT_FAULTS: FaultMix = {
  crash: 0.3,
  crashSteps: COMMIT_STEPS,
  zombie: 0.15,
  flakyStore: 0.15,
  flakySink: 0.1,
  callFailure: 0.3,
  lostOffsetCommit: 0.3,
  coldStart: 0.1,
};

/** Options of runFaultSchedules. */
export interface FaultScheduleOptions {
  /** Schedule i runs with seed `seed + i`. */
  readonly seed: number;
  readonly schedules: number;
  /** Input records per schedule (default 40). */
  readonly records?: number;
  /** Invocations under faults per stage before the fault-free drain (default 30). */
  readonly invocations?: number;
  /** Most records the ESM puts in one partition's batch (default 6). */
  readonly maxBatch?: number;
  readonly faults?: Partial<FaultMix>;
  /** Called after every schedule, e.g. to log progress in a long run. */
  readonly onSchedule?: (result: ScheduleResult) => void;
  /** Receives a line per invocation, step and port call: what a replayed seed did (see traceFromEnv). */
  readonly trace?: (line: string) => void;
  /** When batches snapshot the task's state (default: every other batch). */
  readonly compaction?: CompactionPolicy;
  /**
   * A schedule that has not finished after this long is hung (default 10 minutes): the run fails
   * naming its seed (and, with SLUICE_TRACE=failing, writes its trace so far).
   */
  readonly scheduleTimeoutMs?: number;
}

/** SLUICE_TRACE=failing: the folder failing schedules' traces are written to (SLUICE_TRACE_DIR, default the OS temp dir). */
function failingTraceDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.SLUICE_TRACE !== 'failing') return undefined;
  const dir = env.SLUICE_TRACE_DIR ?? tmpdir();
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A tracer printing to stderr when SLUICE_TRACE=1, for replaying one seed. */
export function traceFromEnv(env: NodeJS.ProcessEnv = process.env): ((line: string) => void) | undefined {
  return env.SLUICE_TRACE === '1' ? (line) => process.stderr.write(`${line}\n`) : undefined;
}

/** What went wrong, beyond the oracle's kinds. */
export type ViolationKind =
  | DiscrepancyKind
  /** A committed record of a batch the checkpoint says did not commit. */
  | 'uncommitted-visible'
  /** Progress records (Kafka) and checkpoints (store) disagree on which batches committed. */
  | 'disagreement'
  /** A checkpoint still has a pending batch after the final redelivery. */
  | 'pending'
  /** An invocation succeeded, yet the checkpoint has not passed its records: the ESM will never resend them. */
  | 'behind'
  /** The fault-free drain could not finish. */
  | 'stuck'
  /** An invocation failed with an error that is no crash, injected fault, conflict or fence. */
  | 'error'
  | 'dead-letter';

/** One thing the schedule proved wrong. */
export interface Violation {
  readonly kind: ViolationKind;
  readonly message: string;
}

/** What a schedule did, to show that faults really happened. */
export interface FaultStats {
  invocations: number;
  failedInvocations: number;
  crashes: Record<CommitStep, number>;
  zombiePairs: number;
  /** Port calls that lost a race: a CheckpointConflict, a fenced producer (the invocation then failed or reran the batch). */
  conflicts: number;
  fenced: number;
  /** Batches a task ran again within a successful invocation after losing such a race. */
  reruns: number;
  /** Injected transient failures, by `<port>.<call>:<kind>`. */
  injected: Record<string, number>;
  /** Records redelivered and skipped by the checkpoint's nextOffset. */
  redelivered: number;
  recovered: { committed: number; aborted: number };
  lostOffsetCommits: number;
}

/** The outcome of one schedule. */
export interface ScheduleResult {
  readonly scenario: string;
  readonly seed: number;
  readonly app: string;
  readonly violations: readonly Violation[];
  readonly stats: FaultStats;
}

/** The outcome of a run of schedules. */
export interface FaultRunReport {
  readonly scenario: string;
  readonly results: readonly ScheduleResult[];
  readonly failures: readonly ScheduleResult[];
  /** Summed over every schedule. */
  readonly stats: FaultStats;
}

/** Runs `schedules` seeded fault schedules of `scenario` in `world` and checks each against the oracle. */
export async function runFaultSchedules(world: World, scenario: Scenario, options: FaultScheduleOptions): Promise<FaultRunReport> {
  const results: ScheduleResult[] = [];
  const keep = failingTraceDir();
  for (let i = 0; i < options.schedules; i++) {
    // SLUICE_TRACE=failing: trace every schedule into memory, keep only the failing ones' traces.
    const lines: string[] = [];
    const trace = options.trace ?? (keep === undefined ? undefined : (line: string) => void lines.push(`${new Date().toISOString()} ${line}`));
    const seed = (options.seed + i) >>> 0;
    const result = await withWatchdog(runSchedule(world, scenario, { ...options, ...(trace ? { trace } : {}), seed }), options.scheduleTimeoutMs ?? 600_000, () => {
      const replay = `scenario ${scenario.name}, schedule seed ${seed} (replay: SLUICE_SEED=${seed})`;
      if (keep === undefined) return `${replay} did not finish within ${options.scheduleTimeoutMs ?? 600_000} ms: hung`;
      const file = join(keep, `${scenario.name.replace(/[^\w.-]+/g, '_')}-${seed}-${Date.now()}.hung.trace`);
      writeFileSync(file, `${lines.join('\n')}\n`);
      return `${replay} did not finish within ${options.scheduleTimeoutMs ?? 600_000} ms: hung; its trace so far: ${file}`;
    });
    if (keep !== undefined && result.violations.length > 0) {
      const file = join(keep, `${scenario.name.replace(/[^\w.-]+/g, '_')}-${result.seed}-${Date.now()}.trace`);
      writeFileSync(file, `${describeViolations(result.violations, 50)}\n\n${lines.join('\n')}\n`);
      process.stderr.write(`trace of failing schedule ${result.seed}: ${file}\n`);
    }
    options.onSchedule?.(result);
    results.push(result);
  }
  const stats = emptyStats();
  for (const r of results) addStats(stats, r.stats);
  return { scenario: scenario.name, results, failures: results.filter((r) => r.violations.length > 0), stats };
}

/** `work`, or an error with `describe()`'s message when it has not settled within `ms`. */
async function withWatchdog<T>(work: Promise<T>, ms: number, describe: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(describe())), ms);
  });
  try {
    return await Promise.race([work, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** A failure message naming each failing seed, how to replay it, and what was wrong. */
export function formatFailures(report: FaultRunReport, limit = 8): string {
  return report.failures
    .map((r) => `scenario ${r.scenario}, schedule seed ${r.seed} (replay: SLUICE_SEED=${r.seed}): ${describeViolations(r.violations, limit)}`)
    .join('\n');
}

/** Counts per kind, then the first few messages. */
export function describeViolations(found: ReadonlyArray<{ readonly kind: string; readonly message: string }>, limit = 8): string {
  if (found.length === 0) return 'no violations';
  // What a user would notice first (lost, duplicated, wrong output), then the protocol's bookkeeping.
  const sorted = [...found].sort((a, b) => rank(a.kind) - rank(b.kind));
  const counts = new Map<string, number>();
  for (const d of sorted) counts.set(d.kind, (counts.get(d.kind) ?? 0) + 1);
  const head = [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
  const lines = sorted.slice(0, limit).map((d) => `  ${d.kind}: ${d.message}`);
  if (sorted.length > limit) lines.push(`  … and ${sorted.length - limit} more`);
  return `${head}\n${lines.join('\n')}`;
}

const KIND_ORDER: readonly string[] = ['lost', 'duplicate', 'value', 'state', 'order', 'unexpected', 'partitioning', 'uncommitted-visible', 'disagreement', 'behind', 'pending', 'stuck', 'error', 'dead-letter'];
const rank = (kind: string): number => (KIND_ORDER.includes(kind) ? KIND_ORDER.indexOf(kind) : KIND_ORDER.length);

/** One line of what the faults did, for test output. */
export function describeStats(s: FaultStats): string {
  const crashes = ALL_STEPS.filter((step) => s.crashes[step] > 0).map((step) => `${step} ${s.crashes[step]}`).join(', ');
  const injected = Object.values(s.injected).reduce((a, b) => a + b, 0);
  return (
    `${s.invocations} invocations (${s.failedInvocations} failed); crashes: ${crashes}; ${s.zombiePairs} zombie pairs; ` +
    `${s.conflicts} conflicts, ${s.fenced} fenced, ${s.reruns} reruns; ${injected} injected port failures; ${s.redelivered} records redelivered; ` +
    `${s.lostOffsetCommits} lost offset commits; recovered ${s.recovered.committed} committed / ${s.recovered.aborted} aborted`
  );
}

/** Port calls of one fault-free batch, e.g. `{ 'store.read': 1, 'store.prepare': 1, … }`. */
export type BatchCost = Readonly<Record<string, number>>;

/** Options of measureHappyPath. */
export interface HappyPathOptions {
  readonly seed: number;
  readonly batches: number;
  readonly batchSize: number;
  /** The world's own counters (e.g. DynamoDB and Kafka requests); their change per batch is added to its cost. */
  readonly meter?: () => Readonly<Record<string, number>>;
}

/**
 * Runs the first stage of `scenario` fault-free on one warm container, `batches` batches of
 * `batchSize` records of one partition, and returns the port calls each batch made.
 */
export async function measureHappyPath(world: World, scenario: Scenario, options: HappyPathOptions): Promise<BatchCost[]> {
  const run = await ScheduleRun.start(world, scenario, { seed: options.seed, schedules: 1, faults: NO_FAULTS });
  try {
    const stage = run.stage(scenario.stages[0]!);
    const input = scenario.input(run.rng, run.topology, options.batches * options.batchSize * 8);
    const first = input.filter((r) => r.partition === input[0]!.partition).slice(0, options.batches * options.batchSize);
    if (first.length < options.batches * options.batchSize) throw new Error(`the scenario's input has only ${first.length} records in partition ${input[0]!.partition}`);
    const container = await run.newContainer(stage);
    const costs: BatchCost[] = [];
    const counters = (): Map<string, number> => new Map([...run.calls, ...Object.entries(options.meter?.() ?? {})]);
    for (let i = 0; i < options.batches; i++) {
      const before = counters();
      const outcome = await run.invoke(container, [first.slice(i * options.batchSize, (i + 1) * options.batchSize)], CALM);
      if (!outcome.ok) throw outcome.error;
      costs.push(Object.fromEntries([...counters()].map(([k, n]) => [k, n - (before.get(k) ?? 0)]).filter(([, n]) => (n as number) > 0)));
    }
    return costs;
  } finally {
    await run.session.close();
  }
}

const NO_FAULTS: FaultMix = { crash: 0, crashSteps: [], zombie: 0, flakyStore: 0, flakySink: 0, callFailure: 0, lostOffsetCommit: 0, coldStart: 0 };

// --- one schedule --------------------------------------------------------------------------------

async function runSchedule(world: World, scenario: Scenario, options: FaultScheduleOptions): Promise<ScheduleResult> {
  const run = await ScheduleRun.start(world, scenario, options);
  try {
    const fed = new Map<string, KafkaRecord[]>();
    let input = scenario.input(run.rng, run.topology, options.records ?? 40);
    for (const name of scenario.stages) {
      const stage = run.stage(name);
      // A downstream stage reads what its upstream committed, as its ESM would (read_committed).
      if (fed.size > 0) input = await run.session.readCommitted(stage.inputs[0]!.topic);
      fed.set(name, input);
      await run.driveStage(stage, input, options);
    }
    await run.check(fed);
    if (run.violations.length > 0 && run.trace && run.session.dumpLog) {
      for (const topic of run.topology.topics.map((t) => t.name)) run.trace(`log of ${topic}:\n${await run.session.dumpLog(topic).catch((e: unknown) => describeError(e))}`);
    }
  } catch (error) {
    run.violation('error', `the driver itself failed: ${describeError(error)}`);
  } finally {
    await run.session.close().catch(() => undefined);
  }
  return { scenario: scenario.name, seed: options.seed, app: run.topology.app, violations: run.violations, stats: run.stats };
}

/** What one invocation is set up to suffer. */
interface InvocationPlan {
  readonly crashAt: CommitStep | undefined;
  readonly flakyStore: boolean;
  readonly flakySink: boolean;
  /** Random pauses at every port call and step, so concurrent invocations interleave. */
  readonly jitter: boolean;
}

const CALM: InvocationPlan = { crashAt: undefined, flakyStore: false, flakySink: false, jitter: false };

type Outcome = { readonly ok: true; readonly report: InvocationReport } | { readonly ok: false; readonly error: unknown };

/** The ESM's view of one partition: its records and the committed offset (as an index into them). */
interface Feed {
  readonly records: readonly KafkaRecord[];
  committed: number;
}

/** State of one schedule: the PRNG, the world session, live containers, stats and violations. */
class ScheduleRun {
  readonly stats = emptyStats();
  /** `<task>/<seq>` of every compaction record that landed (committed, they have no progress record). */
  readonly compactionSeqs = new Set<string>();
  readonly violations: Violation[] = [];
  /** Port calls by `<port>.<call>`, over every container. */
  readonly calls = new Map<string, number>();
  private readonly live = new Map<string, Container[]>();
  private nextContainer = 1;

  private constructor(
    readonly scenario: Scenario,
    readonly rng: Rng,
    readonly topology: Topology,
    readonly session: WorldSession,
    readonly faults: FaultMix,
    readonly trace: ((line: string) => void) | undefined,
    readonly jitterMs: number,
    readonly compaction: CompactionPolicy | undefined,
  ) {}

  static async start(world: World, scenario: Scenario, options: FaultScheduleOptions): Promise<ScheduleRun> {
    const rng = new Rng(options.seed);
    // The nonce keeps topics, transactional ids and checkpoints of reruns apart on a shared broker and table.
    const app = `${scenario.app}-${(options.seed >>> 0).toString(36)}-${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
    const topology = scenario.topology(app);
    options.trace?.(`schedule ${options.seed} of ${scenario.name}: app ${app}`);
    // Fault schedules snapshot every other batch (so crashes land in snapshots and in compactions
    // outside batches); a happy-path measurement uses the default policy.
    // Every third schedule also caps batch records at 16 bytes of changes, so most batches that
    // change state go the way of a batch too large for its record: the changes only in its snapshot.
    // Another third snapshots only by compaction before a batch, every other batch.
    const variant = [{ maxRecordBytes: 16 }, { inBatches: false, everyBatches: 1 }, {}][(options.seed >>> 0) % 3]!;
    const compaction = options.faults === NO_FAULTS ? undefined : (options.compaction ?? { everyBatches: 2, minBytes: 512, ...variant });
    return new ScheduleRun(scenario, rng, topology, await world.open(topology), { ...DEFAULT_FAULTS, ...options.faults }, options.trace, world.jitterMs ?? 0, compaction);
  }

  /** A jittered invocation's pause: a few yields, and up to the world's jitterMs of sleep. */
  async jitter(): Promise<void> {
    await pause(this.rng.int(3));
    if (this.jitterMs > 0) await new Promise((resolve) => setTimeout(resolve, this.rng.int(this.jitterMs)));
  }

  stage(name: string): Stage {
    const stage = this.topology.stages.find((s) => s.name === name);
    if (!stage) throw new Error(`scenario names stage "${name}", topology has ${this.topology.stages.map((s) => s.name).join(', ')}`);
    return stage;
  }

  violation(kind: ViolationKind, message: string): void {
    this.violations.push({ kind, message });
  }

  count(call: string): void {
    this.calls.set(call, (this.calls.get(call) ?? 0) + 1);
  }

  async newContainer(stage: Stage): Promise<Container> {
    const c = new Container(this.nextContainer++, this, stage, await this.session.container());
    this.live.set(stage.name, [...(this.live.get(stage.name) ?? []), c]);
    return c;
  }

  /** A warm container of the stage (any of them, as Lambda routes), or a cold one. */
  async container(stage: Stage, cold: boolean, except?: Container): Promise<Container> {
    const warm = (this.live.get(stage.name) ?? []).filter((c) => c !== except && !c.dead);
    return cold || warm.length === 0 ? this.newContainer(stage) : this.rng.pick(warm);
  }

  /** Drives one stage over `input`: invocations under faults, a fault-free drain, a final redelivery. */
  async driveStage(stage: Stage, input: readonly KafkaRecord[], options: FaultScheduleOptions): Promise<void> {
    const byPartition = new Map<number, KafkaRecord[]>();
    for (const r of input) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r]);
    const feeds = new Map<number, Feed>([...byPartition].map(([p, records]) => [p, { records, committed: 0 }]));
    const maxBatch = options.maxBatch ?? 6;
    const open = (): Feed[] => [...feeds.values()].filter((f) => f.committed < f.records.length);
    const batchOf = (f: Feed): KafkaRecord[] => f.records.slice(f.committed, f.committed + 1 + this.rng.int(maxBatch));

    for (let i = 0; i < (options.invocations ?? 30) && open().length > 0; i++) {
      const candidates = open();
      let chosen = candidates.filter(() => this.rng.chance(0.6));
      if (chosen.length === 0) chosen = [this.rng.pick(candidates)];
      const batches = chosen.map(batchOf);
      const zombie = this.rng.chance(this.faults.zombie);
      const plan = this.plan(zombie);
      const container = await this.container(stage, this.rng.chance(this.faults.coldStart));
      let outcome: Outcome;
      if (zombie) {
        // Both run; only the primary's outcome moves the ESM (the zombie is a ghost of an earlier attempt).
        const ghost = await this.container(stage, this.rng.chance(0.5), container);
        this.stats.zombiePairs += 1;
        const ghostBatches = chosen.map(batchOf);
        const ghostPlan = this.plan(true);
        const lag = this.rng.int(12); // the zombie is somewhere in its own run when the primary starts
        [outcome] = await Promise.all([this.invoke(container, batches, plan), pause(lag).then(() => this.invoke(ghost, ghostBatches, ghostPlan))]);
      } else {
        outcome = await this.invoke(container, batches, plan);
      }
      if (outcome.ok) await this.acknowledge(stage, chosen, batches, true);
    }

    // Fault-free drain: the ESM keeps delivering until it has committed every offset.
    let failures = 0;
    for (let rounds = 0; open().length > 0; rounds++) {
      const chosen = open();
      const batches = chosen.map(batchOf);
      const outcome = await this.invoke(await this.container(stage, false), batches, CALM);
      if (outcome.ok) {
        failures = 0;
        await this.acknowledge(stage, chosen, batches, false);
      } else if (++failures > 5 || rounds > input.length * 4) {
        this.violation('stuck', `stage ${stage.name}: the fault-free drain made no progress; last error: ${describeError(outcome.error)}`);
        return;
      }
    }

    // Final redelivery of every partition's tail: nothing may be processed again, and any batch
    // still pending is resolved by the recovery it triggers.
    for (const feed of feeds.values()) {
      const tail = feed.records.slice(-3);
      let outcome: Outcome = { ok: false, error: new Error('not delivered') };
      for (let attempt = 0; attempt < 5 && !outcome.ok; attempt++) outcome = await this.invoke(await this.container(stage, false), [tail], CALM);
      if (!outcome.ok) {
        this.violation('stuck', `stage ${stage.name}: redelivering the tail of partition ${tail[0]!.partition} keeps failing: ${describeError(outcome.error)}`);
      } else {
        for (const t of outcome.report.tasks) {
          if (t.processed > 0) this.violation('duplicate', `stage ${stage.name}: task ${t.task} processed ${t.processed} redelivered record(s) of its tail again`);
        }
      }
    }
  }

  private plan(jitter: boolean): InvocationPlan {
    const f = this.faults;
    return {
      crashAt: f.crashSteps.length > 0 && this.rng.chance(f.crash) ? this.rng.pick(f.crashSteps) : undefined,
      flakyStore: this.rng.chance(f.flakyStore),
      flakySink: this.rng.chance(f.flakySink),
      jitter,
    };
  }

  /** After a successful invocation: the checkpoints must have passed every batch; then the ESM commits offsets. */
  private async acknowledge(stage: Stage, feeds: readonly Feed[], batches: ReadonlyArray<readonly KafkaRecord[]>, lossy: boolean): Promise<void> {
    for (const [i, feed] of feeds.entries()) {
      const batch = batches[i]!;
      const last = batch[batch.length - 1]!;
      const task = taskRef(this.topology, stage, last.topic, last.partition);
      const { checkpoint: ckpt } = await this.committedTask(stage, task);
      if (ckpt.nextOffset <= last.offset) {
        this.violation('behind', `task ${task.id}: an invocation with offsets ${batch[0]!.offset}..${last.offset} succeeded, but the checkpoint's nextOffset is ${ckpt.nextOffset}`);
      }
      if (lossy && this.rng.chance(this.faults.lostOffsetCommit)) {
        this.stats.lostOffsetCommits += 1;
        feed.committed += this.rng.int(batch.length);
      } else {
        feed.committed += batch.length;
      }
    }
  }

  /** One Lambda invocation of `container` with one batch per partition. */
  async invoke(container: Container, batches: ReadonlyArray<readonly KafkaRecord[]>, plan: InvocationPlan): Promise<Outcome> {
    this.stats.invocations += 1;
    container.plan = plan;
    const n = this.stats.invocations;
    this.trace?.(
      `[${n}] invoke #${container.id} ${batches.map((b) => `p${b[0]!.partition}@${b[0]!.offset}..${b[b.length - 1]!.offset}`).join(' ')}` +
        `${plan.crashAt ? ` crash@${plan.crashAt}` : ''}${plan.flakyStore ? ' flaky-store' : ''}${plan.flakySink ? ' flaky-sink' : ''}${plan.jitter ? ' jitter' : ''}`,
    );
    const event = encodeEvent({
      source: 'self-managed',
      bootstrapServers: ['fault-driver:9092'],
      batches: batches.map((records) => ({ topic: records[0]!.topic, partition: records[0]!.partition, records })),
    });
    try {
      const report = await container.handler(event);
      for (const t of report.tasks) {
        this.stats.redelivered += t.duplicates;
        this.stats.reruns += t.reruns ?? 0;
        if (t.recovery) this.stats.recovered[t.recovery.outcome] += 1;
      }
      this.trace?.(`[${n}] ok: ${report.tasks.map((t) => `${t.task} seq ${t.seq ?? '-'} processed ${t.processed} skipped ${t.duplicates}${t.recovery ? ` recovered ${t.recovery.seq} ${t.recovery.outcome}` : ''}`).join('; ')}`);
      return { ok: true, report };
    } catch (error) {
      this.trace?.(`[${n}] failed: ${describeError(error)}`);
      this.stats.failedInvocations += 1;
      for (const cause of error instanceof InvocationFailedError ? error.failures.map((f) => f.error) : [error]) {
        if (cause instanceof SimulatedCrash || cause instanceof InjectedFault) continue;
        // Lost races are counted where they happen (Container.call), rerun or not.
        if (!(cause instanceof CheckpointConflict) && !this.session.isFenced(cause)) this.violation('error', `stage ${container.stage.name}, container #${container.id}: invocation failed with an unexpected error: ${describeError(cause)}`);
      }
      return { ok: false, error };
    } finally {
      container.plan = CALM;
    }
  }

  /** The task as committed: its checkpoint (changelog protocol: its snapshot plus the changelog after it), a pending batch, its state. */
  async committedTask(stage: Stage, task: TaskRef): Promise<{ checkpoint: Checkpoint; pending: BatchRecord | undefined; entries: () => Promise<readonly StateEntry[]> }> {
    if (this.changelog) {
      const read = await readLogTask(this.session.observer, this.session.observerLog!, task, changelogOf(this.topology, task), Date.now());
      return { checkpoint: read.checkpoint, pending: undefined, entries: async () => read.entries };
    }
    const { checkpoint, pending } = await this.session.observer.read(task);
    return { checkpoint, pending, entries: async () => (await this.session.observer.load(task, checkpoint)).entries };
  }

  get changelog(): boolean {
    return this.topology.settings.commit === 'changelog';
  }

  /** Compares what was committed with the protocol's bookkeeping and with the oracle. */
  async check(fed: ReadonlyMap<string, readonly KafkaRecord[]>): Promise<void> {
    const stages = [...fed.keys()].map((name) => this.stage(name));
    const topics = new Set<string>([this.topology.progressTopic]);
    for (const s of stages) {
      for (const o of s.outputs) topics.add(o.topic);
      topics.add(s.deadLetterTopic);
    }
    const committed = new Map<string, KafkaRecord[]>();
    for (const t of topics) committed.set(t, await this.session.readCommitted(t));
    const state = new Map<string, Buffer>();

    for (const stage of stages) {
      const input = fed.get(stage.name)!;
      const tasks = new Map<string, { task: TaskRef; ckpt: Checkpoint }>();
      for (const partition of new Set(input.map((r) => r.partition))) {
        const task = taskRef(this.topology, stage, stage.inputs[0]!.topic, partition);
        const { checkpoint: ckpt, pending, entries } = await this.committedTask(stage, task);
        tasks.set(task.id, { task, ckpt });
        // A compaction left pending (it carries no input and no outputs) waits for the task's next
        // batch to settle it; redelivered duplicates alone do not reach a warm container's prepare.
        if (pending && !(isCompactionRecord(pending) && pending.nextOffset === ckpt.nextOffset)) {
          this.violation('pending', `task ${task.id}: batch ${pending.seq} is still pending after the final redelivery`);
        }
        if (stage.keyed && stage.state.length > 0) {
          // The task's whole committed state, as a cold start would load it (snapshot + records).
          for (const e of await entries()) if (e.value) state.set(`${stage.name}\u0000${stateMapKey(e.key, e.name)}`, e.value.bytes);
        }
      }
      // At-least-once keeps no progress records and lets a failed batch's outputs stay visible
      // (its retry writes them again): only the scenario's no-loss oracle applies to them.
      const exactlyOnce = this.topology.settings.mode === 'exactly-once';
      for (const topic of stage.outputs.map((o) => o.topic)) this.checkOutputs(committed.get(topic)!, tasks, exactlyOnce);
      if (exactlyOnce && this.changelog) await this.checkChangelog(stage, tasks);
      else if (exactlyOnce) this.checkProgress(committed.get(this.topology.progressTopic)!, tasks);
      for (const r of committed.get(stage.deadLetterTopic)!) this.violation('dead-letter', `stage ${stage.name}: a record was dead-lettered at ${where(r)}`);
    }

    const view: CommittedView = {
      topology: this.topology,
      fed,
      committed: (topic) => {
        const records = committed.get(topic);
        if (!records) throw new Error(`topic ${topic} is not an output of a driven stage`);
        return records;
      },
      state: (stage, key, name) => state.get(`${stage}\u0000${stateMapKey(key, name)}`),
    };
    for (const d of this.scenario.check(view)) this.violations.push(d);
  }

  /** Each committed record carries provenance; exactly-once: written once, by a batch its task's checkpoint counts as committed. */
  private checkOutputs(records: readonly KafkaRecord[], tasks: ReadonlyMap<string, { task: TaskRef; ckpt: Checkpoint }>, exactlyOnce: boolean): void {
    const seen = new Map<string, KafkaRecord>();
    const uncommitted = new Map<string, { task: string; seq: number; ckpt: Checkpoint; records: KafkaRecord[] }>();
    for (const r of records) {
      const p = readProvenance(r.headers);
      if (!p) {
        this.violation('unexpected', `record at ${where(r)} has no provenance headers`);
        continue;
      }
      const owner = tasks.get(p.task);
      if (!owner || !exactlyOnce) continue; // written by another stage's task, or duplicates allowed
      const id = `${p.task}/${p.seq}/${p.idx}`;
      const first = seen.get(id);
      if (first) this.violation('duplicate', `output ${p.idx} of batch ${p.seq} of task ${p.task} is committed twice: ${where(first)} and ${where(r)}`);
      seen.set(id, r);
      if (!isCommitted(p.seq, owner.ckpt)) {
        const batch = uncommitted.get(`${p.task}/${p.seq}`) ?? { task: p.task, seq: p.seq, ckpt: owner.ckpt, records: [] };
        batch.records.push(r);
        uncommitted.set(`${p.task}/${p.seq}`, batch);
      }
    }
    for (const b of uncommitted.values()) {
      this.violation(
        'uncommitted-visible',
        `batch ${b.seq} of task ${b.task} has ${b.records.length} committed record(s), e.g. ${where(b.records[0]!)}, but its checkpoint says it did not commit (${describeCheckpoint(b.ckpt)})`,
      );
    }
  }

  /** Changelog protocol: each task's committed changelog records number its batches 1, 2, 3, … (no gap, no repeat), and the last carries its position. */
  private async checkChangelog(stage: Stage, tasks: ReadonlyMap<string, { task: TaskRef; ckpt: Checkpoint }>): Promise<void> {
    for (const { task, ckpt } of tasks.values()) {
      const at = changelogOf(this.topology, task);
      // Read by the world's changelog reader, not readCommitted: a world may append records to the
      // topics it reads (the real one does, to see the last markers), which a changelog must never
      // hold. From the checkpoint's snapshot on: what is before it may be trimmed.
      const base = await this.session.observer.readCheckpoint(task);
      const records = (await this.session.observerLog!.read(at, base.log ?? 0)).records;
      const read = changelogBatches(task.id, records);
      if ('corrupt' in read) {
        this.violation('unexpected', `changelog record at ${at.topic}/${at.partition}@${read.corrupt.offset} ${read.corrupt.reason}`);
        continue;
      }
      if (read.incompleteAt !== undefined) this.violation('unexpected', `task ${task.id}: the changelog ends inside the parts of a batch starting at ${at.topic}/${at.partition}@${read.incompleteAt}`);
      let expected = base.committedSeq + 1;
      let last: Omit<ChangelogEntry, 'part'> | undefined;
      for (const { entry: e, first } of read.batches) {
        if (e.seq !== expected) this.violation(e.seq < expected ? 'duplicate' : 'disagreement', `task ${task.id}: changelog record at ${at.topic}/${at.partition}@${first} is batch ${e.seq}, expected ${expected}`);
        expected = e.seq + 1;
        last = e;
      }
      if ((last?.seq ?? base.committedSeq) !== ckpt.committedSeq || (last && last.nextOffset !== ckpt.nextOffset)) {
        this.violation('disagreement', `task ${task.id}: the changelog ends at batch ${last?.seq ?? base.committedSeq} (nextOffset ${last?.nextOffset ?? base.nextOffset}), the task's view at ${ckpt.committedSeq} (nextOffset ${ckpt.nextOffset})`);
      }
    }
  }

  /** Kafka's committed progress records and the checkpoints agree batch by batch. */
  private checkProgress(records: readonly KafkaRecord[], tasks: ReadonlyMap<string, { task: TaskRef; ckpt: Checkpoint }>): void {
    const bySeq = new Map<string, Map<number, number>>();
    for (const r of records) {
      const p = parseProgress(r.value);
      if (!p || !tasks.has(p.task)) continue;
      const seqs = bySeq.get(p.task) ?? new Map<number, number>();
      if (seqs.has(p.seq)) this.violation('duplicate', `batch ${p.seq} of task ${p.task} has two committed progress records (second at ${where(r)})`);
      seqs.set(p.seq, p.nextOffset);
      bySeq.set(p.task, seqs);
    }
    for (const [id, { ckpt }] of tasks) {
      const seqs = bySeq.get(id) ?? new Map<number, number>();
      for (const seq of seqs.keys()) {
        if (!isCommitted(seq, ckpt)) this.violation('disagreement', `Kafka committed batch ${seq} of task ${id}, its checkpoint says it did not (${describeCheckpoint(ckpt)}): its outputs are visible, its state and position were dropped`);
      }
      for (let seq = 1; seq <= ckpt.committedSeq; seq++) {
        if (isCommitted(seq, ckpt) && !seqs.has(seq) && !this.compactionSeqs.has(`${id}/${seq}`)) this.violation('disagreement', `the checkpoint of task ${id} counts batch ${seq} as committed, Kafka has no committed progress record for it: its outputs are lost`);
      }
      const last = ckpt.committedSeq > 0 ? seqs.get(Math.max(...[...seqs.keys()].filter((s) => isCommitted(s, ckpt)))) : undefined;
      if (last !== undefined && last !== ckpt.nextOffset) {
        this.violation('disagreement', `task ${id}: the last committed progress record says nextOffset ${last}, the checkpoint says ${ckpt.nextOffset}`);
      }
    }
  }
}

/** Whether batch `seq` counts as committed by `ckpt` (the staged/committed rule, restated here on purpose). */
function isCommitted(seq: number, ckpt: Checkpoint): boolean {
  return seq <= ckpt.committedSeq && !ckpt.holes.includes(seq);
}

function describeCheckpoint(ckpt: Checkpoint): string {
  return `committedSeq ${ckpt.committedSeq}, holes [${ckpt.holes.join(', ')}], nextOffset ${ckpt.nextOffset}`;
}

function where(r: Pick<KafkaRecord, 'topic' | 'partition' | 'offset' | 'headers'>): string {
  const p = readProvenance(r.headers);
  return `${r.topic}/${r.partition}@${r.offset}${p ? ` (task ${p.task} seq ${p.seq} idx ${p.idx})` : ''}`;
}

function describeError(error: unknown): string {
  if (error instanceof InvocationFailedError) return error.failures.map((f) => `${f.task}: ${describeError(f.error)}`).join('; ');
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

// --- containers ----------------------------------------------------------------------------------

/** A fault the driver injected into a port call (a transient error a real adapter could raise). */
export class InjectedFault extends Error {
  constructor(
    readonly call: string,
    readonly kind: CallFailure,
  ) {
    super(`injected ${kind} on ${call}`);
    this.name = 'InjectedFault';
  }
}

/** A call by a container that has crashed: a dead process does no more I/O (and cleans nothing up). */
class ContainerGone extends SimulatedCrash {
  constructor(step: CommitStep, task: string, seq: number, what: string) {
    super(step, task, seq);
    this.message = `${what} after its container crashed`;
  }
}

/**
 * How a port call fails: `unavailable` before it reaches the service (nothing applied),
 * `lost-response` after it applied, `stale-condition` a conditional write that applied but is
 * reported as a failed condition (what an SDK retry of a timed-out first attempt sees).
 */
export type CallFailure = 'unavailable' | 'lost-response' | 'stale-condition';

const READS: readonly CallFailure[] = ['unavailable'];
const WRITES: readonly CallFailure[] = ['unavailable', 'lost-response', 'stale-condition'];
const KAFKA: readonly CallFailure[] = ['unavailable', 'lost-response'];

/** One simulated Lambda container of a stage: its handler (warm caches), its ports, alive or dead. */
class Container {
  dead = false;
  plan: InvocationPlan = CALM;
  readonly handler: KafkaHandler;

  constructor(
    readonly id: number,
    private readonly run: ScheduleRun,
    readonly stage: Stage,
    ports: StagePorts,
  ) {
    this.handler = stageHandler(run.topology, stage.name, {
      ports: { store: this.faultyStore(ports.store), sink: this.faultySink(ports.sink), ...(ports.log ? { log: this.faultyLog(ports.log) } : {}) },
      fault: (step, task, seq) => this.step(step, task, seq),
      compaction: run.compaction,
    });
  }

  private async step(step: CommitStep, task: TaskRef, seq: number): Promise<void> {
    this.run.trace?.(`  #${this.id} ${task.id} seq ${seq}: ${step}${this.dead ? ' (dead)' : this.plan.crashAt === step ? ' CRASH' : ''}`);
    if (!this.dead && this.plan.jitter) await this.run.jitter();
    if (this.dead) throw new ContainerGone(step, task.id, seq, `step ${step}`);
    if (this.plan.crashAt === step) {
      this.dead = true;
      this.run.stats.crashes[step] += 1;
      throw new SimulatedCrash(step, task.id, seq);
    }
  }

  /** Runs a port call the way this container's plan says: maybe paused, maybe failed before or after. */
  private async call<T>(
    port: 'store' | 'sink',
    name: string,
    detail: string,
    run: () => Promise<T>,
    failures: readonly CallFailure[],
    conflict?: () => Error,
    show: (result: T) => string = summarize,
  ): Promise<T> {
    const call = `${port}.${name}`;
    const trace = this.run.trace;
    if (trace) {
      const traced = run;
      run = () =>
        traced().then(
          (result) => {
            trace(`  #${this.id} ${call} ${detail} → ${show(result)}`);
            return result;
          },
          (error: unknown) => {
            trace(`  #${this.id} ${call} ${detail} → ${describeError(error)}`);
            throw error;
          },
        );
    }
    if (!this.dead && this.plan.jitter) await this.run.jitter();
    if (this.dead) throw new ContainerGone('before-send', `container #${this.id}`, 0, call);
    const flaky = port === 'store' ? this.plan.flakyStore : this.plan.flakySink;
    const failure = flaky && this.run.rng.chance(this.run.faults.callFailure) ? this.run.rng.pick(failures) : undefined;
    if (failure) {
      this.run.stats.injected[`${call}:${failure}`] = (this.run.stats.injected[`${call}:${failure}`] ?? 0) + 1;
      trace?.(`  #${this.id} ${call} ${detail}: injecting ${failure}`);
    }
    if (failure === 'unavailable') throw new InjectedFault(call, failure);
    this.run.count(call);
    const result = await run().catch((error: unknown) => {
      if (error instanceof CheckpointConflict) this.run.stats.conflicts += 1;
      else if (this.run.session.isFenced(error)) this.run.stats.fenced += 1;
      throw error;
    });
    if (failure === 'stale-condition' && conflict) throw conflict();
    if (failure) throw new InjectedFault(call, failure);
    return result;
  }

  private faultyStore(inner: TaskStore): TaskStore {
    const write = <T>(name: string, task: TaskRef, version: number, seq: number, run: () => Promise<T>): Promise<T> =>
      this.call('store', name, `${task.id} v${version} seq ${seq}`, run, WRITES, () => new CheckpointConflict(task.id, version));
    return {
      read: (task) => this.call('store', 'read', task.id, () => inner.read(task), READS),
      readCheckpoint: (task) => this.call('store', 'readCheckpoint', task.id, () => inner.readCheckpoint(task), READS),
      load: (task, ckpt, after) => this.call('store', 'load', `${task.id} v${ckpt.version}${after === undefined ? '' : ` after ${after}`}`, () => inner.load(task, ckpt, after), READS),
      prepare: (task, record) =>
        write('prepare', task, -1, record.seq, async () => {
          await inner.prepare(task, record);
          // Landed: a compaction's seq has no input and no outputs, so no progress record.
          if (isCompactionRecord(record)) this.run.compactionSeqs.add(`${task.id}/${record.seq}`);
        }),
      writeSnapshot: (task, snapshot) => write('writeSnapshot', task, -1, snapshot.ref.seq, () => inner.writeSnapshot(task, snapshot)),
      snapshotComplete: (task, snapshot) => this.call('store', 'snapshotComplete', `${task.id} snapshot ${snapshot.seq}`, () => inner.snapshotComplete(task, snapshot), READS),
      confirm: (task, from, record) => write('confirm', task, from.version, record.seq, () => inner.confirm(task, from, record)),
      abandon: (task, from, record) => write('abandon', task, from.version, record.seq, () => inner.abandon(task, from, record)),
      compact: (task, from, snapshot) => write('compact', task, from.version, snapshot.seq, () => inner.compact(task, from, snapshot)),
      advance: (task, from, next) => write('advance', task, from.version, next.committedSeq, () => inner.advance(task, from, next)),
    };
  }

  private faultyLog(inner: TaskLog): TaskLog {
    return {
      read: (at, from) => this.call('sink', 'readLog', `${at.topic}/${at.partition} from ${from}`, () => inner.read(at, from), READS),
      trim: (at, before) => this.call('sink', 'trimLog', `${at.topic}/${at.partition} before ${before}`, () => inner.trim(at, before), KAFKA),
    };
  }

  private faultySink(inner: TxnSink): TxnSink {
    // No failures are injected into abort: one that never reached the adapter would leave its
    // transaction open without the adapter knowing, which no real failure does.
    return {
      begin: async (txnId) => {
        const txn: KafkaTxn = await this.call('sink', 'begin', txnId, () => inner.begin(txnId), READS, undefined, () => 'open');
        return {
          send: (records) => this.call('sink', 'send', `${txnId} ${records.length} records`, () => txn.send(records), KAFKA),
          commit: () => this.call('sink', 'commit', txnId, () => txn.commit(), KAFKA),
          abort: () => this.call('sink', 'abort', txnId, () => txn.abort(), []),
        };
      },
      resolve: (txnId, progress, task, seq) =>
        this.call('sink', 'resolve', `${task} seq ${seq} at ${progress.topic}/${progress.partition}@${progress.offset}`, () => inner.resolve(txnId, progress, task, seq), KAFKA),
      sendDirect: (records) => this.call('sink', 'sendDirect', `${records.length} records`, () => inner.sendDirect(records), READS),
      claim: (txnId) => this.call('sink', 'claim', txnId, () => inner.claim(txnId), READS),
    };
  }
}

/** A port call's result for the trace, short. */
function summarize(result: unknown): string {
  return (JSON.stringify(result, (_k, v: unknown) => (v instanceof Map ? `${v.size} values` : v)) ?? 'done').slice(0, 160);
}

/** Yields to the event loop `n` times, so concurrent invocations interleave at this point. */
async function pause(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

function emptyStats(): FaultStats {
  return {
    invocations: 0,
    failedInvocations: 0,
    crashes: Object.fromEntries(ALL_STEPS.map((s) => [s, 0])) as Record<CommitStep, number>,
    zombiePairs: 0,
    conflicts: 0,
    fenced: 0,
    reruns: 0,
    injected: {},
    redelivered: 0,
    recovered: { committed: 0, aborted: 0 },
    lostOffsetCommits: 0,
  };
}

/** Two runs of one scenario as one report (the schedules of both, stats summed). */
export function mergeReports(a: FaultRunReport, b: FaultRunReport): FaultRunReport {
  const stats = emptyStats();
  addStats(stats, a.stats);
  addStats(stats, b.stats);
  return { scenario: a.scenario, results: [...a.results, ...b.results], failures: [...a.failures, ...b.failures], stats };
}

function addStats(into: FaultStats, s: FaultStats): void {
  into.invocations += s.invocations;
  into.failedInvocations += s.failedInvocations;
  for (const step of ALL_STEPS) into.crashes[step] += s.crashes[step];
  into.zombiePairs += s.zombiePairs;
  into.conflicts += s.conflicts;
  into.fenced += s.fenced;
  into.reruns += s.reruns;
  for (const [k, n] of Object.entries(s.injected)) into.injected[k] = (into.injected[k] ?? 0) + n;
  into.redelivered += s.redelivered;
  into.recovered.committed += s.recovered.committed;
  into.recovered.aborted += s.recovered.aborted;
  into.lostOffsetCommits += s.lostOffsetCommits;
}

// --- scenarios -----------------------------------------------------------------------------------

/** A pipeline, its input and its oracle: what a schedule runs and checks. */
export interface Scenario {
  readonly name: string;
  /** Prefix of the app name; each schedule appends its seed and a nonce, so runs never collide. */
  readonly app: string;
  /** The pipeline compiled for `app` (every topic is named after it). */
  topology(app: string): Topology;
  /** The stages to drive, upstream first; a later stage reads what the earlier ones committed. */
  readonly stages: readonly string[];
  /** The records the first stage reads, drawn from the schedule's PRNG. */
  input(rng: Rng, topology: Topology, records: number): KafkaRecord[];
  /** Compares what was committed with the oracle. */
  check(view: CommittedView): Discrepancy[];
}

/** What a schedule committed, for the scenario's oracle. */
export interface CommittedView {
  readonly topology: Topology;
  /** The records each driven stage was fed, by stage name. */
  readonly fed: ReadonlyMap<string, readonly KafkaRecord[]>;
  /** read_committed records of an output topic of a driven stage. */
  committed(topic: string): readonly KafkaRecord[];
  /** The committed bytes of state `name` of `key` in `stage` (keys the stage was fed). */
  state(stage: string, key: Buffer, name: string): Buffer | undefined;
}

/** Which part of the running-totals pipeline a scenario drives. */
export type RunningTotalsPart =
  /** The keyed stage alone, fed keyed clicks directly: exact output per user. */
  | 'keyed'
  /** The source stage alone: its keyBy output must hold every click once, keyed and ordered. */
  | 'repartition'
  /** Both stages, the keyed one reading what the source stage committed. */
  | 'chain';

/** Options of the running-totals scenarios. */
export interface RunningTotalsOptions {
  /** Distinct users (keys) in the input, default 5. */
  readonly users?: number;
  /** Partitions of every topic, default 3. */
  readonly partitions?: number;
  /** E.g. a short transaction timeout, so a real broker aborts a crashed zombie's transaction soon. */
  readonly pipeline?: Pick<PipelineOptions, 'functionTimeout' | 'transactionTimeout' | 'commit'>;
}

/** The running-totals pipeline: clicks → keyBy(user) → per-user count and sum in ValueState → sink. */
export function runningTotalsTopology(app: string, options: Omit<RunningTotalsOptions, 'users'> = {}): Topology {
  const partitions = options.partitions ?? 3;
  const totals = valueState<Totals>('totals');
  const p = pipeline(app, { partitions, ...options.pipeline });
  p.source<Click>(`${app}-clicks`, { serde: json<Click>(), partitions })
    .stage('clicks')
    .keyBy((c) => c.user, { name: 'user' })
    .process<TotalsUpdate>(
      (click, ctx) => {
        const state = ctx.state(totals);
        const before = state.get() ?? { count: 0, sum: 0 };
        const after = { count: before.count + 1, sum: before.sum + click.amount };
        state.set(after);
        ctx.emit({ user: click.user, id: click.id, ...after });
      },
      { state: [totals] },
    )
    .sink(`${app}-totals`, { serde: json<TotalsUpdate>(), key: (t) => t.user });
  return compile(p.plan());
}

/** A running-totals scenario over `part` of the pipeline. */
export function runningTotals(part: RunningTotalsPart, options: RunningTotalsOptions = {}): Scenario {
  const users = options.users ?? 5;
  const partitions = options.partitions ?? 3;
  const stages = part === 'keyed' ? ['by-user'] : part === 'repartition' ? ['clicks'] : ['clicks', 'by-user'];
  return {
    name: `running-totals/${part}`,
    app: `rt${part[0]}`,
    stages,
    topology: (app) => runningTotalsTopology(app, options),
    input: (rng, topology, records) => clicks(rng, part === 'keyed' ? `${topology.app}.by-user.in` : `${topology.app}-clicks`, { records, users, partitions, keyed: part === 'keyed' }),
    check: (view) => {
      const app = view.topology.app;
      const found: Discrepancy[] = [];
      const source = fedClicks(view.fed.get(stages[0]!)!);
      if (part !== 'keyed') found.push(...checkRepartition(source, seen<Click>(view.committed(`${app}.by-user.in`))));
      if (part !== 'repartition') {
        const state = new Map<string, Totals | undefined>();
        for (const user of new Set(source.map((f) => f.value.user))) {
          const bytes = view.state('by-user', Buffer.from(JSON.stringify(user)), 'totals');
          state.set(user, bytes ? (JSON.parse(bytes.toString('utf8')) as Totals) : undefined);
        }
        found.push(...checkTotals(expectTotals(source), seen<TotalsUpdate>(view.committed(`${app}-totals`)), state));
      }
      return found;
    },
  };
}

/**
 * Random clicks as records of `topic`: keyed input puts each user in one partition, as a keyBy
 * writes it; source input puts them anywhere.
 */
function clicks(rng: Rng, topic: string, o: { records: number; users: number; partitions: number; keyed: boolean }): KafkaRecord[] {
  const next = new Map<number, number>();
  return Array.from({ length: o.records }, (_, i) => {
    const u = rng.int(o.users);
    const click: Click = { id: `c${i}`, user: `u${u}`, amount: 1 + rng.int(9) };
    const partition = o.keyed ? u % o.partitions : rng.int(o.partitions);
    // Gaps, like the offsets of aborted records and transaction markers on a real topic.
    const offset = next.get(partition) ?? rng.int(3);
    next.set(partition, offset + 1 + (rng.chance(0.15) ? 1 + rng.int(2) : 0));
    return {
      topic,
      partition,
      offset,
      timestamp: Date.UTC(2026, 0, 1) + i,
      timestampType: 'CREATE_TIME' as const,
      key: o.keyed ? Buffer.from(JSON.stringify(click.user)) : null,
      value: Buffer.from(JSON.stringify(click)),
      headers: [],
    };
  }).sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/** Options of the clicks-seen scenario. */
export interface ClicksSeenOptions {
  /** Distinct users (keys), default 5. Many users and large batches exercise batches of over 99 state writes. */
  readonly users?: number;
  /** Partitions of every topic, default 3. */
  readonly partitions?: number;
  readonly pipeline?: Pick<PipelineOptions, 'functionTimeout' | 'transactionTimeout' | 'commit'>;
}

/**
 * The at-least-once pipeline: clicks keyed by user; per user a ValueState listing the ids of the
 * clicks it counted, and an output per click. The list makes a lost update visible even when
 * duplicates (which at-least-once allows) would hide it in a count.
 */
export function clicksSeenTopology(app: string, options: Omit<ClicksSeenOptions, 'users'> = {}): Topology {
  const partitions = options.partitions ?? 3;
  const seen = valueState<string[]>('seen');
  const p = pipeline(app, { partitions, mode: 'at-least-once', ...options.pipeline });
  p.source<Click>(`${app}-clicks`, { serde: json<Click>(), partitions })
    .stage('clicks')
    .keyBy((c) => c.user, { name: 'user' })
    .process<SeenUpdate>(
      (click, ctx) => {
        const state = ctx.state(seen);
        const ids = [...(state.get() ?? []), click.id];
        state.set(ids);
        ctx.emit({ user: click.user, id: click.id, count: ids.length });
      },
      { state: [seen] },
    )
    .sink(`${app}-seen`, { serde: json<SeenUpdate>(), key: (t) => t.user });
  return compile(p.plan());
}

/** The at-least-once scenario: the keyed stage of clicks-seen, checked for loss (not for duplicates). */
export function clicksSeen(options: ClicksSeenOptions = {}): Scenario {
  const users = options.users ?? 5;
  const partitions = options.partitions ?? 3;
  return {
    name: `clicks-seen/at-least-once${users > 99 ? `/${users}-users` : ''}`,
    app: 'csa',
    stages: ['by-user'],
    topology: (app) => clicksSeenTopology(app, options),
    input: (rng, topology, records) => clicks(rng, `${topology.app}.by-user.in`, { records, users, partitions, keyed: true }),
    check: (view) => {
      const input = fedClicks(view.fed.get('by-user')!);
      const state = new Map<string, string[] | undefined>();
      for (const user of new Set(input.map((f) => f.value.user))) {
        const bytes = view.state('by-user', Buffer.from(JSON.stringify(user)), 'seen');
        state.set(user, bytes ? (JSON.parse(bytes.toString('utf8')) as string[]) : undefined);
      }
      return checkAtLeastOnce(input, seen<SeenUpdate>(view.committed(`${view.topology.app}-seen`)), state);
    },
  };
}

function fedClicks(records: readonly KafkaRecord[]): Array<Fed<Click>> {
  return records.map((r) => ({ partition: r.partition, offset: r.offset, value: JSON.parse(r.value!.toString('utf8')) as Click }));
}

function seen<T>(records: readonly KafkaRecord[]): Array<Seen<T>> {
  return records.map((r) => ({
    value: JSON.parse(r.value!.toString('utf8')) as T,
    key: r.key ? (JSON.parse(r.key.toString('utf8')) as unknown) : undefined,
    partition: r.partition,
    where: where(r),
  }));
}

/** A compaction's record (commit/protocol.ts compactTask): no transaction, no progress, no changes of its own, only a snapshot. */
function isCompactionRecord(r: BatchRecord): boolean {
  return r.txnId === undefined && r.progress === undefined && r.changesInSnapshot === true && r.changes.length === 0 && r.snapshot !== undefined;
}
