/**
 * The per-stage unit-test harness: runs one stage as its Lambda function does — the Lambda
 * event, the stage's real handler (`stageHandler`), decode, operators, state, event time and
 * the commit protocol — over in-memory Kafka and state, with no infrastructure.
 * Runner-agnostic: plain async functions that return data to assert on.
 */
import type { BacklogProbe } from '../time/backlog.js';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Checkpoint, FaultHook, StateValue, TaskRef } from '../commit/ports.js';
import { foldChangelog } from '../commit/changelog-protocol.js';
import { changelogOf } from '../topology/names.js';
import type { CompactionPolicy } from '../commit/checkpoint.js';
import type { Pipeline } from '../dsl/pipeline.js';
import { ConfigError } from '../errors.js';
import { partitionForKey } from '../record/partitioner.js';
import { readDeadLetter, readProvenance } from '../record/provenance.js';
import type { KafkaRecord, PartitionBatch, RecordHeader } from '../record/record.js';
import type { Serde } from '../serde/serde.js';
import { json } from '../serde/index.js';
import type { StateDescriptor } from '../state/descriptors.js';
import { isLive, parseStateMapKey, stateMapKey, TaskState } from '../state/task-state.js';
import { TaskTimers } from '../time/task-timers.js';
import type { TimerEntry, TimerRef } from '../commit/ports.js';
import type { Stage, StageInput, Topology } from '../topology/topology.js';
import type { KeyByNode } from '../dsl/plan.js';
import { EDGE_HEADER } from '../runtime/input.js';
import { compile } from '../topology/compile.js';
import type { InvocationReport } from '../runtime/handler.js';
import { InvocationFailedError } from '../runtime/handler.js';
import type { TaskReport } from '../runtime/task.js';
import { taskRef, timerSourcesOf } from '../runtime/task.js';
import type { LambdaKafkaEvent } from '../lambda/event.js';
import type { MetricsSink } from '../ops/metrics.js';
import { encodeControl } from '../time/control.js';
import type { ControlRecord } from '../time/control.js';
import type { Container, HarnessInvocation } from './container.js';
import { harnessEvent, memoryContainer } from './container.js';
import { MemoryKafka } from './memory-kafka.js';
import { MemoryCheckpointStore } from './memory-store.js';

/** A record to feed: a typed value (serialised with the input's serde) or raw bytes. */
export interface HarnessInput<T = unknown> {
  readonly value?: T;
  /** Raw bytes instead of `value`, e.g. to feed a malformed record. */
  readonly raw?: Buffer | null;
  /** The record key (keyed inputs: serialised with the key serde; decides the partition). */
  readonly key?: unknown;
  readonly timestamp?: number;
  readonly partition?: number;
  readonly headers?: readonly RecordHeader[];
}

/** An output record, decoded. */
export interface HarnessOutput<T = unknown> {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: T;
  readonly timestamp: number;
  readonly task: string | undefined;
  readonly seq: number | undefined;
}

/** A dead-lettered record with its reason. */
export interface HarnessDeadLetter {
  readonly value: Buffer | null;
  readonly stage: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly errorClass: string;
  readonly errorMessage: string;
}

/** A stream or table of the pipeline whose records a stage reads (a side of a join). */
export interface HarnessSource {
  readonly from: { readonly nodeId: number };
}

/** Options of the harness. */
export interface HarnessOptions {
  /** Starting clock (epoch ms); advance with `advanceClock`. */
  readonly now?: number;
  /** Failure injection at protocol steps. */
  readonly fault?: FaultHook;
  /** When batches write snapshots, and how large a batch record may get (default: the runtime's). */
  readonly compaction?: CompactionPolicy;
  /** Also receives the metrics of every invocation (they are kept on `invocations` anyway). */
  readonly metrics?: MetricsSink;
  /** The handler's logger (default: the handler's, silent outside Lambda unless POWERTOOLS_LOG_LEVEL is set). */
  readonly logger?: Logger;
  /** How often the handler reruns a task that lost a race within an invocation (default: the handler's). */
  readonly raceRetries?: number;
  /**
   * How long a batch waits for the other trigger's pending batch (default 0, unlike the handler's
   * 1000 ms). The harness runs one invocation at a time, so that batch is always a crashed one and
   * waiting would only slow the test down, by wall-clock time.
   */
  readonly pendingGraceMs?: number;
  /**
   * What a source task asks before it turns idle: whether its partition still holds records it has
   * not read (default: none, as the harness delivers what it is given at once). Give one to test a
   * trigger that lags behind its partition.
   */
  readonly backlog?: BacklogProbe;
}

/** Drives one stage in memory, through its Lambda handler. */
export class StageHarness {
  readonly topology: Topology;
  readonly stage: Stage;
  readonly kafka: MemoryKafka;
  readonly store: MemoryCheckpointStore;
  private clock: number;
  private readonly offsets = new Map<string, number>();
  private readonly history: HarnessInvocation[] = [];
  private container: Container;

  constructor(pipeline: Pipeline | Topology, stageName: string, private readonly options: HarnessOptions = {}) {
    this.topology = 'stages' in pipeline ? pipeline : compile(pipeline.plan());
    const stage = this.topology.stages.find((s) => s.name === stageName);
    if (!stage) throw new ConfigError(`no stage "${stageName}"`, { stage: stageName }, `stages: ${this.topology.stages.map((s) => s.name).join(', ')}`);
    this.stage = stage;
    this.clock = options.now ?? Date.UTC(2026, 0, 1);
    const partitions = new Map(this.topology.topics.map((t) => [t.name, t.partitions]));
    this.kafka = new MemoryKafka((t) => partitions.get(t) ?? 1, () => this.clock);
    this.store = new MemoryCheckpointStore(() => this.clock);
    this.container = this.newContainer();
  }

  /** The current clock (epoch ms). */
  get now(): number {
    return this.clock;
  }

  /** Moves the clock forward. */
  advanceClock(ms: number): void {
    this.clock += ms;
  }

  /**
   * Feeds records to the stage's input (the first one unless `topic` is given): one invocation of
   * the handler, one batch per partition (see `deliver`). `{ from: stream }` sends them as written
   * by that stream's keyBy (or the repartition the compiler put after it): a side of a join, or a
   * table (`value: null` is a tombstone).
   */
  async send<T>(records: ReadonlyArray<HarnessInput<T>>, target?: string | HarnessSource): Promise<TaskReport[]> {
    const kafkaRecords = this.toKafkaRecords(records, target);
    // A schema-registry serde registers its schema before it can write (as a producer would).
    const topics = new Set(kafkaRecords.map((r) => r.topic));
    for (const input of this.stage.inputs.filter((i) => topics.has(i.topic))) {
      await input.serde.schemas?.prepareWrite({ stage: this.stage.name, topic: input.topic, role: 'value' });
      await input.keySerde?.schemas?.prepareWrite({ stage: this.stage.name, topic: input.topic, role: 'key' });
    }
    return this.deliver(kafkaRecords);
  }

  /** Builds Kafka records for `records` with fresh offsets, without delivering them (for redelivery tests). */
  toKafkaRecords<T>(records: ReadonlyArray<HarnessInput<T>>, target?: string | HarnessSource): KafkaRecord[] {
    const topic = typeof target === 'string' ? target : undefined;
    const input = topic ? this.stage.inputs.find((i) => i.topic === topic) : this.stage.inputs[0];
    if (!input) throw new ConfigError(`stage "${this.stage.name}" does not read topic "${topic}"`, { stage: this.stage.name, topic });
    const writer = typeof target === 'object' ? this.writerOf(input, target.from.nodeId) : undefined;
    const edge = writer !== undefined && input.writers.length > 1 ? [{ name: EDGE_HEADER, value: Buffer.from(String(writer.id)) }] : [];
    const serde = writer?.serde ?? input.serde;
    return records.map((r) => {
      const key = r.key === undefined ? null : Buffer.isBuffer(r.key) ? r.key : (input.keySerde ?? json()).serialize(r.key);
      const partition = r.partition ?? (key ? partitionForKey(key, input.partitions) : 0);
      const slot = `${input.topic}\u0000${partition}`;
      const offset = this.offsets.get(slot) ?? 0;
      this.offsets.set(slot, offset + 1);
      return {
        topic: input.topic,
        partition,
        offset,
        timestamp: r.timestamp ?? this.clock,
        timestampType: 'CREATE_TIME' as const,
        key,
        value: r.raw !== undefined ? r.raw : writer?.changelog && r.value === null ? null : serde.serialize(r.value),
        headers: [...edge, ...(r.headers ?? [])],
      };
    });
  }

  /** The keyBy writing `input` on behalf of node `from` (it is the keyBy, or the repartition the compiler inserted after it). */
  private writerOf(input: StageInput, from: number): KeyByNode {
    for (const w of input.writers) {
      const node = this.topology.nodes.get(w);
      if (node?.kind === 'keyBy' && (node.id === from || (node.keepKey === true && node.input === from))) return node;
    }
    throw new ConfigError(`stage "${this.stage.name}" gets no records from that stream through ${input.topic}`, { stage: this.stage.name, topic: input.topic }, `pass a stream keyed into this stage (its writers are nodes ${input.writers.join(', ')})`);
  }

  /**
   * Delivers Kafka records as Lambda's trigger would: one invocation of the stage's handler, whose
   * event holds one batch per partition (the handler runs them concurrently). Resolves with the
   * tasks' reports, sorted by topic then partition as the handler reports them. A failed invocation
   * rejects with the error of its first failing task (the handler's own error is on `invocations`).
   */
  async deliver(records: readonly KafkaRecord[]): Promise<TaskReport[]> {
    const groups = new Map<string, KafkaRecord[]>();
    for (const r of records) groups.set(`${r.topic}\u0000${r.partition}`, [...(groups.get(`${r.topic}\u0000${r.partition}`) ?? []), r]);
    return this.run([...groups.values()].map((batch) => ({ topic: batch[0]!.topic, partition: batch[0]!.partition, records: batch })));
  }

  /**
   * Invokes the stage's handler with `event`, exactly as Lambda would (as JSON), and resolves with
   * its report; rejects with what the handler throws (InvocationFailedError when tasks failed).
   */
  async invoke(event: LambdaKafkaEvent): Promise<InvocationReport> {
    const invocation = await this.container(event);
    this.history.push(invocation);
    if (!invocation.ok) throw invocation.error;
    return invocation.report;
  }

  /** Every invocation of the stage's handler so far, oldest first: the event, the report or error, and the metrics. */
  get invocations(): readonly HarnessInvocation[] {
    return this.history;
  }

  /** The latest invocation of the stage's handler (undefined before the first). */
  get lastInvocation(): HarnessInvocation | undefined {
    return this.history[this.history.length - 1];
  }

  /** One invocation with these batches; a failure of tasks surfaces as the first failing task's own error. */
  private async run(batches: readonly PartitionBatch[]): Promise<TaskReport[]> {
    try {
      return [...(await this.invoke(harnessEvent(batches))).tasks];
    } catch (error) {
      // Tests assert on what went wrong in the task (a SimulatedCrash, a RecordFailedError), not on its wrapper.
      if (error instanceof InvocationFailedError && error.failures.length > 0) throw error.failures[0]!.error;
      throw error;
    }
  }

  /**
   * Advances the stage's event time to `watermark`: every upstream task sends a mark (fence -1:
   * it covers no unread data) to every control partition. Due event-time timers fire.
   * For a source stage, event time comes from its data; use `tick` for idleness.
   */
  async watermark(watermark: number, options: { from?: readonly string[]; idle?: boolean } = {}): Promise<TaskReport[]> {
    const from = options.from ?? this.stage.upstreamTasks;
    if (from.length === 0) {
      throw new ConfigError(`stage "${this.stage.name}" reads source topics: its watermark comes from its records' event time`, { stage: this.stage.name }, 'send records with timestamps, or test the keyed stage after it');
    }
    return this.control(from.map((f) => ({ kind: 'watermark', from: f, watermark, fence: -1, idle: options.idle ?? false })));
  }

  /** Sends a processing-time tick at the harness clock (idleness, processing-time timers). */
  async tick(): Promise<TaskReport[]> {
    return this.control([{ kind: 'tick', tick: this.clock }]);
  }

  /**
   * Delivers control records to every partition of the stage's control topic, as the control
   * trigger would: one invocation; the handler runs each control partition's batch on every task of that partition.
   */
  async control(records: readonly ControlRecord[]): Promise<TaskReport[]> {
    const partitions = this.topology.topics.find((t) => t.name === this.stage.controlTopic)!.partitions;
    const batches: PartitionBatch[] = [];
    for (let p = 0; p < partitions; p += 1) {
      const slot = `${this.stage.controlTopic}\u0000${p}`;
      const batch: KafkaRecord[] = records.map((c) => {
        const offset = this.offsets.get(slot) ?? 0;
        this.offsets.set(slot, offset + 1);
        return { topic: this.stage.controlTopic, partition: p, offset, timestamp: this.clock, timestampType: 'CREATE_TIME' as const, key: null, value: encodeControl(c), headers: [] };
      });
      batches.push({ topic: this.stage.controlTopic, partition: p, records: batch });
    }
    return this.run(batches);
  }

  /** Records written to the stage's late topics (records too late for any window). */
  lateRecords<T = unknown>(serde: Serde<T> = json<T>()): Array<HarnessOutput<T>> {
    return this.stage.outputs.filter((o) => o.kind === 'late').flatMap((o) => this.outputs(o.topic, serde));
  }

  /** The task's watermark (event time) as committed. */
  currentWatermark(partition = 0): number {
    return this.checkpoint(partition).time.wm;
  }

  /** Simulates a new container: the stage's handler is built again, so producers and warm tasks are gone (the old ones become zombies). */
  restartContainer(): void {
    this.container = this.newContainer();
  }

  private newContainer(): Container {
    const o = this.options;
    return memoryContainer(this.topology, this.stage, this.kafka, this.store, {
      now: () => this.clock,
      fault: o.fault,
      compaction: o.compaction,
      metrics: o.metrics,
      logger: o.logger,
      raceRetries: o.raceRetries,
      pendingGraceMs: o.pendingGraceMs ?? 0,
      backlog: o.backlog,
    });
  }

  /** Committed records on `topic` (read_committed), decoded with `serde` (JSON by default). */
  outputs<T = unknown>(topic: string, serde: Serde<T> = json<T>()): Array<HarnessOutput<T>> {
    return this.kafka.readCommitted(topic).map((r) => {
      const p = readProvenance(r.headers);
      return {
        topic: r.topic,
        partition: r.partition,
        offset: r.offset,
        key: r.key,
        value: serde.deserialize(r.value, { topic: r.topic, partition: r.partition, offset: r.offset }),
        timestamp: r.timestamp,
        task: p?.task,
        seq: p?.seq,
      };
    });
  }

  /** Records dead-lettered by the stage, with their reasons. */
  deadLetters(): HarnessDeadLetter[] {
    return this.kafka.readCommitted(this.stage.deadLetterTopic).map((r) => {
      const d = readDeadLetter(r.headers)!;
      return { value: r.value, stage: d.stage, topic: d.topic, partition: d.partition, offset: d.offset, errorClass: d.errorClass, errorMessage: d.errorMessage };
    });
  }

  /** The committed value of a key's state (as queryable state would read it). */
  state<T>(key: unknown, descriptor: StateDescriptor | string): T | undefined {
    const input = this.stage.inputs[0]!;
    const keyBytes = Buffer.isBuffer(key) ? key : (input.keySerde ?? json()).serialize(key)!;
    const d = typeof descriptor === 'string' ? this.stage.state.find((s) => s.name === descriptor) : descriptor;
    if (!d) throw new ConfigError(`stage "${this.stage.name}" declares no state "${String(descriptor)}"`, { stage: this.stage.name });
    const task = taskRef(this.topology, this.stage, input.topic, partitionForKey(keyBytes, input.partitions));
    const v = this.committed(task).state.get(stateMapKey(keyBytes, d.name));
    return v ? ((d.options.serde ?? json()) as Serde<T>).deserialize(v.bytes) : undefined;
  }

  /** The timers of the task reading `partition` (of the stage's first input) as committed: derived from its committed state, as a cold start would. */
  committedTimers(partition = 0, kind?: TimerRef['kind']): TimerEntry[] {
    const task = taskRef(this.topology, this.stage, this.stage.inputs[0]!.topic, partition);
    const entries = [...this.committed(task).state].map(([id, value]) => ({ ...parseStateMapKey(id), value }));
    const timers = new TaskTimers(timerSourcesOf(this.topology, this.stage), TaskState.fromEntries(this.stage.name, this.stage.state, () => this.clock, entries));
    const all = [...timers.due('event', Number.MAX_SAFE_INTEGER), ...timers.due('processing', Number.MAX_SAFE_INTEGER)];
    return kind === undefined ? all : all.filter((t) => t.kind === kind);
  }

  /** Every committed state entry of the stage's tasks (of its first input), tasks ascending, then by key and name: as cold starts would load them. */
  committedItems(): Array<{ key: Buffer; name: string; value: StateValue }> {
    const input = this.stage.inputs[0]!;
    const out: Array<{ key: Buffer; name: string; value: StateValue }> = [];
    for (let p = 0; p < input.partitions; p += 1) {
      const items = [...this.committed(taskRef(this.topology, this.stage, input.topic, p)).state].map(([id, value]) => ({ ...parseStateMapKey(id), value }));
      out.push(...items.sort((a, b) => Buffer.compare(a.key, b.key) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
    }
    return out;
  }

  /**
   * The checkpoint of the task reading `partition` of the stage's first input. With commit:
   * 'changelog', the task's view: its checkpoint (snapshot) folded with the changelog after it.
   */
  checkpoint(partition = 0): ReturnType<MemoryCheckpointStore['checkpoint']> {
    return this.committed(taskRef(this.topology, this.stage, this.stage.inputs[0]!.topic, partition)).checkpoint;
  }

  /** A task as committed: checkpoint and state (changelog protocol: snapshot + changelog, read as a cold start would). */
  private committed(task: TaskRef): { checkpoint: Checkpoint; state: Map<string, StateValue> } {
    const base = this.store.checkpoint(task);
    const state = this.store.committedState(task);
    if (this.topology.settings.commit !== 'changelog') return { checkpoint: base, state };
    const at = changelogOf(this.topology, task);
    const read = this.kafka.readPartition(at.topic, at.partition, base.log ?? 0);
    const folded = foldChangelog(task.id, base, read.records);
    if (folded.replaced) state.clear();
    for (const e of folded.changes) {
      const id = stateMapKey(e.key, e.name);
      if (isLive(e.value, this.clock)) state.set(id, e.value);
      else state.delete(id);
    }
    return { checkpoint: folded.view, state };
  }
}

/** Creates a harness for one stage of a pipeline. */
export function stageHarness(pipeline: Pipeline | Topology, stageName: string, options: HarnessOptions = {}): StageHarness {
  return new StageHarness(pipeline, stageName, options);
}
