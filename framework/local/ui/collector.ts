/**
 * Gathers what the live local view shows, from a running LocalRun:
 *  - the trigger emulator's `onInvocation` (records delivered per partition, failures);
 *  - the stage functions' InvocationReports, through `invoker(inner)` (records written, dead
 *    letters and watermark per task; works for the in-process and the Lambda Invoke API invoker);
 *  - every topology topic's end offsets and LocalRun's consumer-group offsets (lag), read each refresh;
 *  - optionally the tasks' checkpoints (the runtime's own watermark and idle flag).
 * `refresh()` turns them into a DevSnapshot with the pure `buildSnapshot`; `start()` does so every
 * second, so every reader of `snapshot()` sees the same rates.
 */
import type { Admin, Kafka } from 'kafkajs';
import { eventTimeOf } from '../../ops/status.js';
import { readCheckpoints, type TableRef } from '../../ops/stage-items.js';
import { stageTasks } from '../../ops/stages.js';
import { MIN_WATERMARK } from '../../time/control.js';
import type { Stage, Topology } from '../../topology/topology.js';
import type { Invoker } from '../esm/invoker.js';
import type { InvocationInfo } from '../esm/mapping.js';
import { buildSnapshot, emptyFacts, taskSlots, type CheckpointFacts, type DevSnapshot, type PartitionEnd, type SnapshotFacts, type StageFacts, type TaskFacts, type TaskSlot } from './snapshot.js';
import { topicOffsets } from '../../kafka/topic-offsets.js';

/** Settings of a collector. */
export interface SnapshotCollectorOptions {
  readonly topology: Topology;
  /** For topic and consumer-group offsets. */
  readonly kafka: Kafka;
  /** LocalRun's consumer-group prefix (its default `sluice-local-<app>`): the triggers' committed offsets give the lag before the first invocation. */
  readonly groupPrefix?: string;
  /** Reads the tasks' checkpoints from this table on each refresh (watermark and idle flag as the runtime keeps them). */
  readonly checkpoints?: TableRef;
  readonly now?: () => number;
}

interface MutableTask {
  recordsIn: number;
  recordsOut: number;
  deadLetters: number;
  position?: number;
  watermark?: number;
  lastDataAt?: number;
  checkpoint?: CheckpointFacts;
}

interface MutableStage {
  invocations: number;
  failures: number;
  lastError?: string;
}

/** Collects a local run's progress and builds snapshots of it. */
export class SnapshotCollector {
  private readonly topology: Topology;
  private readonly now: () => number;
  private readonly since: number;
  private readonly slots: TaskSlot[];
  private readonly tasks = new Map<string, MutableTask>();
  private readonly stages = new Map<string, MutableStage>();
  private ends = new Map<string, Array<PartitionEnd | undefined>>();
  private warnings: string[] = [];
  private latest: DevSnapshot;
  private admin: Admin | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<DevSnapshot> | undefined;

  constructor(private readonly options: SnapshotCollectorOptions) {
    this.topology = options.topology;
    this.now = options.now ?? Date.now;
    this.since = this.now();
    this.slots = taskSlots(this.topology);
    for (const slot of this.slots) this.tasks.set(slot.id, { recordsIn: 0, recordsOut: 0, deadLetters: 0 });
    for (const s of this.topology.stages) this.stages.set(s.name, { invocations: 0, failures: 0 });
    this.latest = buildSnapshot(this.topology, emptyFacts(this.since));
  }

  /** Wraps an invoker so the reports its functions return are counted. */
  invoker(inner: Invoker): Invoker {
    return {
      invoke: async (functionName, event) => {
        const result = await inner.invoke(functionName, event);
        this.report(result);
        return result;
      },
    };
  }

  /** Pass as LocalRun's `onInvocation` (chain it with other listeners). */
  readonly onInvocation = (info: InvocationInfo): void => {
    const stage = this.stageOfTopic(info.topic, info.functionName);
    const counts = stage ? this.stages.get(stage.name) : undefined;
    if (!stage || !counts) return;
    // A bundled invocation reports once per partition it carried: count it once.
    if (info.part === 0) counts.invocations += 1;
    if (!info.ok) {
      if (info.part === 0) counts.failures += 1;
      counts.lastError = info.error instanceof Error ? info.error.message : String(info.error);
      return;
    }
    delete counts.lastError;
    if (info.topic === stage.controlTopic) return;
    const slot = this.slots.find((s) => s.stage === stage && s.input.topic === info.topic && s.partition === info.partition);
    const task = slot ? this.tasks.get(slot.id) : undefined;
    if (!task) return;
    task.recordsIn += info.records;
    task.position = Math.max(task.position ?? 0, info.lastOffset + 1);
    if (info.records > 0) task.lastDataAt = this.now();
  };

  /** Takes in one invocation result; anything that is not an InvocationReport is ignored. */
  report(result: unknown): void {
    const tasks = (result as { tasks?: unknown } | null | undefined)?.tasks;
    if (!Array.isArray(tasks)) return;
    for (const t of tasks as unknown[]) {
      if (typeof t !== 'object' || t === null) continue;
      const r = t as { task?: unknown; outputs?: unknown; deadLetters?: unknown; watermark?: unknown };
      const task = typeof r.task === 'string' ? this.tasks.get(r.task) : undefined;
      if (!task) continue;
      if (typeof r.outputs === 'number') task.recordsOut += r.outputs;
      if (typeof r.deadLetters === 'number') task.deadLetters += r.deadLetters;
      if (typeof r.watermark === 'number') task.watermark = Math.max(task.watermark ?? MIN_WATERMARK, r.watermark);
    }
  }

  /** The latest snapshot (built by the last refresh). */
  snapshot(): DevSnapshot {
    return this.latest;
  }

  /** Reads offsets (and checkpoints) and builds a new snapshot; concurrent calls share one reading. */
  refresh(): Promise<DevSnapshot> {
    this.refreshing ??= this.read().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Connects and refreshes now and every `intervalMs`. A failed reading keeps the previous figures and says so in `warnings`. */
  async start(intervalMs = 1_000): Promise<void> {
    if (this.timer) return;
    const admin = this.options.kafka.admin();
    await admin.connect();
    this.admin = admin;
    await this.refresh().catch(() => undefined);
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), intervalMs);
  }

  /** Stops refreshing and disconnects. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.refreshing?.catch(() => undefined);
    await this.admin?.disconnect();
    this.admin = undefined;
  }

  /** The facts as they stand (for tests and other views). */
  facts(): SnapshotFacts {
    const copy = <T extends object>(m: Map<string, T>): Map<string, T> => new Map([...m].map(([k, v]) => [k, { ...v }]));
    return {
      at: this.now(),
      since: this.since,
      tasks: copy<TaskFacts>(this.tasks),
      stages: copy<StageFacts>(this.stages),
      ends: new Map([...this.ends].map(([k, v]) => [k, [...v]])),
      warnings: [...this.warnings],
    };
  }

  /** Reads what it can; what fails is named in the snapshot's warnings and keeps its last good value. */
  private async read(): Promise<DevSnapshot> {
    const warnings: string[] = [];
    const problem = (what: string, error: unknown): void => {
      warnings.push(`cannot read ${what}: ${error instanceof Error ? error.message : String(error)}`);
    };
    const own = this.admin;
    const admin = own ?? this.options.kafka.admin();
    try {
      if (!own) await admin.connect();
      await this.readOffsets(admin);
    } catch (error) {
      problem('offsets', error);
    } finally {
      if (!own) await admin.disconnect().catch(() => undefined);
    }
    if (this.options.checkpoints) await this.readCheckpoints(this.options.checkpoints).catch((error: unknown) => problem('checkpoints', error));
    this.warnings = warnings;
    this.latest = buildSnapshot(this.topology, this.facts(), this.latest);
    return this.latest;
  }

  private async readOffsets(admin: Admin): Promise<void> {
    // Only topics that exist: kafkajs retries a missing one for a long time.
    const existing = new Set(await admin.listTopics());
    const ends = new Map(this.ends);
    await Promise.all(
      this.topology.topics
        .filter((t) => existing.has(t.name))
        .map(async (t) => {
          const list: Array<PartitionEnd | undefined> = Array.from({ length: t.partitions }, () => undefined);
          for (const o of await topicOffsets(admin, t.name)) list[o.partition] = { low: Number(o.low), high: Number(o.high) };
          ends.set(t.name, list);
        }),
    );
    for (const t of this.topology.topics) if (!existing.has(t.name)) ends.delete(t.name);
    this.ends = ends;
    const prefix = this.options.groupPrefix ?? `sluice-local-${this.topology.app}`;
    for (const stage of this.topology.stages) {
      for (const input of stage.inputs) {
        if (!existing.has(input.topic)) continue;
        const groups = await admin.fetchOffsets({ groupId: `${prefix}-${stage.name}-${input.topic}`, topics: [input.topic] });
        for (const g of groups) {
          for (const p of g.partitions) {
            const committed = Number(p.offset);
            const slot = this.slots.find((s) => s.stage === stage && s.input.topic === input.topic && s.partition === p.partition);
            const task = slot ? this.tasks.get(slot.id) : undefined;
            if (task && committed >= 0) task.position = Math.max(task.position ?? 0, committed);
          }
        }
      }
    }
  }

  private async readCheckpoints(table: TableRef): Promise<void> {
    const refs = this.topology.stages.flatMap((s) => stageTasks(this.topology, s));
    const stored = await readCheckpoints(table, refs);
    for (const s of stored) {
      const task = this.tasks.get(s.task.id);
      if (!task || !s.exists) continue;
      const time = eventTimeOf(s.checkpoint.time);
      task.checkpoint = { nextOffset: s.checkpoint.nextOffset, watermark: time.watermark, idle: time.idle };
    }
  }

  private stageOfTopic(topic: string, functionName: string): Stage | undefined {
    const readers = this.topology.stages.filter((s) => s.controlTopic === topic || s.inputs.some((i) => i.topic === topic));
    return readers.length === 1 ? readers[0] : (readers.find((s) => functionName === s.name || functionName.endsWith(s.name)) ?? readers[0]);
  }
}
