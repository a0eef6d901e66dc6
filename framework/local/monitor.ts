/**
 * Watches a local run (LocalRun) the way a dashboard would: per stage, records delivered and
 * their rate, how far its triggers are behind the end of its input topics, and its event time.
 *
 *  - Rates and positions come from the trigger emulator's `onInvocation` callback.
 *  - Event time comes from what the stage functions return: `stageHandler` resolves with an
 *    InvocationReport whose tasks carry their watermark after the batch. `monitor.invoker(inner)`
 *    wraps any Invoker (in-process, or the Lambda Invoke API, whose payload is the same report)
 *    and keeps each task's latest watermark. A stage's event time is the minimum over its tasks,
 *    known once every task has reported.
 *  - Lag needs the topics' end offsets: `refreshLag(admin)` fetches them.
 */
import type { Admin } from 'kafkajs';
import { SluiceError } from '../errors.js';
import type { LambdaKafkaEvent } from '../lambda/event.js';
import { MIN_WATERMARK } from '../time/control.js';
import { taskIdOf } from '../topology/names.js';
import type { Stage, Topology } from '../topology/topology.js';
import type { Invoker } from './esm/invoker.js';
import type { InvocationInfo } from './esm/mapping.js';
import { topicOffsets } from '../kafka/topic-offsets.js';

/** One stage as the monitor sees it. */
export interface StageStatus {
  readonly stage: string;
  /** Data records delivered to the stage by successful invocations (redeliveries count again). */
  readonly records: number;
  /** Data records per second since the previous `sample()`. */
  readonly ratePerSec: number;
  readonly invocations: number;
  readonly failures: number;
  /**
   * Records on the stage's input topics not yet delivered, as of the last `refreshLag`; undefined
   * before. Internal topics are written in transactions, whose commit markers also take an offset:
   * one trailing marker per partition is not counted, so a caught-up stage shows about 0.
   */
  readonly lag: number | undefined;
  /** The stage's event time: the smallest watermark over its tasks; undefined until every task reported one. */
  readonly watermark: number | undefined;
  readonly tasksReported: number;
  readonly tasks: number;
  /** The latest failure's message, if the latest invocation of the stage failed. */
  readonly lastError: string | undefined;
}

interface StageCounters {
  records: number;
  invocations: number;
  failures: number;
  sampledRecords: number;
  lastError: string | undefined;
}

/** Collects the progress of a local run's stages. */
export class PipelineMonitor {
  private readonly counters = new Map<string, StageCounters>();
  /** Task id → latest watermark reported. */
  private readonly watermarks = new Map<string, number>();
  /** `topic\0partition` → next offset delivered. */
  private readonly positions = new Map<string, number>();
  /** `topic\0partition` → [low, high] as last fetched. */
  private readonly ends = new Map<string, { low: number; high: number }>();
  private lagKnown = false;
  private sampledAt: number;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly topology: Topology,
    private readonly now: () => number = Date.now,
  ) {
    for (const s of topology.stages) this.counters.set(s.name, { records: 0, invocations: 0, failures: 0, sampledRecords: 0, lastError: undefined });
    this.sampledAt = now();
  }

  /** Wraps an invoker so the reports its functions return feed the stages' watermarks. */
  invoker(inner: Invoker): Invoker {
    return {
      invoke: async (functionName: string, event: LambdaKafkaEvent): Promise<unknown> => {
        const result = await inner.invoke(functionName, event);
        this.report(result);
        return result;
      },
    };
  }

  /** Pass as LocalRun's `onInvocation`. */
  readonly onInvocation = (info: InvocationInfo): void => {
    const stage = this.stageOfTopic(info.topic, info.functionName);
    const c = stage ? this.counters.get(stage.name) : undefined;
    if (!stage || !c) return;
    // A bundled invocation reports once per partition it carried: count it once.
    if (info.part === 0) c.invocations += 1;
    if (!info.ok) {
      if (info.part === 0) c.failures += 1;
      c.lastError = info.error instanceof Error ? info.error.message : String(info.error);
      return;
    }
    c.lastError = undefined;
    if (info.topic === stage.controlTopic) return;
    c.records += info.records;
    const slot = `${info.topic}\u0000${info.partition}`;
    this.positions.set(slot, Math.max(this.positions.get(slot) ?? 0, info.lastOffset + 1));
  };

  /** Takes in one invocation result; anything that is not an InvocationReport is ignored. */
  report(result: unknown): void {
    if (typeof result !== 'object' || result === null) return;
    const tasks = (result as { tasks?: unknown }).tasks;
    if (!Array.isArray(tasks)) return;
    for (const t of tasks as unknown[]) {
      const task = (t as { task?: unknown } | null)?.task;
      const wm = (t as { watermark?: unknown } | null)?.watermark;
      if (typeof task !== 'string' || typeof wm !== 'number') continue;
      this.watermarks.set(task, Math.max(this.watermarks.get(task) ?? MIN_WATERMARK, wm));
    }
    for (const w of [...this.waiters]) w();
  }

  /** Fetches the end offsets of every stage's input topics (for `lag`). */
  async refreshLag(admin: Admin): Promise<void> {
    for (const stage of this.topology.stages) {
      for (const input of stage.inputs) {
        for (const o of await topicOffsets(admin, input.topic)) this.ends.set(`${input.topic}\u0000${o.partition}`, { low: Number(o.low), high: Number(o.high) });
      }
    }
    this.lagKnown = true;
  }

  /** The event time of `stage` (min over its tasks), or undefined until every task has reported. */
  watermark(stage: string): number | undefined {
    const s = this.stage(stage);
    const wms = tasksOf(s).map((t) => this.watermarks.get(t));
    if (wms.some((w) => w === undefined || w === MIN_WATERMARK)) return undefined;
    return Math.min(...(wms as number[]));
  }

  /** Resolves once the event time of `stage` reaches `atLeast`; rejects after `timeoutMs`. */
  waitForWatermark(stage: string, atLeast: number, timeoutMs = 120_000): Promise<void> {
    this.stage(stage);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if ((this.watermark(stage) ?? MIN_WATERMARK) < atLeast) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        const wm = this.watermark(stage);
        const behind = tasksOf(this.stage(stage))
          .map((t) => [t, this.watermarks.get(t)] as const)
          .filter(([, w]) => w === undefined || w < atLeast)
          .map(([t, w]) => `${t} at ${w === undefined || w === MIN_WATERMARK ? 'none' : new Date(w).toISOString()}`);
        const lastError = this.counters.get(stage)?.lastError;
        reject(
          new SluiceError(
            'SLUICE_LOCAL_TIMEOUT',
            `stage ${stage} did not reach event time ${new Date(atLeast).toISOString()} within ${timeoutMs} ms (it is at ${wm === undefined ? 'no watermark yet' : new Date(wm).toISOString()}; behind: ${behind.join(', ')}${lastError ? `; its last invocation failed: ${lastError}` : ''})`,
            { stage },
            'is a source partition without data holding the watermark back, or is the stage failing?',
          ),
        );
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Every stage's status; rates are per second since the previous call. */
  sample(): StageStatus[] {
    const now = this.now();
    const seconds = Math.max((now - this.sampledAt) / 1000, 0.001);
    this.sampledAt = now;
    return this.topology.stages.map((s) => {
      const c = this.counters.get(s.name)!;
      const rate = (c.records - c.sampledRecords) / seconds;
      c.sampledRecords = c.records;
      const tasks = tasksOf(s);
      return {
        stage: s.name,
        records: c.records,
        ratePerSec: rate,
        invocations: c.invocations,
        failures: c.failures,
        lag: this.lagKnown ? this.lagOf(s) : undefined,
        watermark: this.watermark(s.name),
        tasksReported: tasks.filter((t) => (this.watermarks.get(t) ?? MIN_WATERMARK) !== MIN_WATERMARK).length,
        tasks: tasks.length,
        lastError: c.lastError,
      };
    });
  }

  private lagOf(stage: Stage): number {
    let lag = 0;
    for (const input of stage.inputs) {
      for (let p = 0; p < input.partitions; p += 1) {
        const end = this.ends.get(`${input.topic}\u0000${p}`);
        if (!end) continue;
        const position = Math.max(this.positions.get(`${input.topic}\u0000${p}`) ?? end.low, end.low);
        const behind = end.high - position;
        lag += Math.max(0, input.kind === 'internal' ? behind - 1 : behind);
      }
    }
    return lag;
  }

  private stage(name: string): Stage {
    const s = this.topology.stages.find((x) => x.name === name);
    if (!s) throw new SluiceError('SLUICE_CONFIG', `pipeline ${this.topology.app} has no stage ${name}`, { stage: name });
    return s;
  }

  private stageOfTopic(topic: string, functionName: string): Stage | undefined {
    const readers = this.topology.stages.filter((s) => s.controlTopic === topic || s.inputs.some((i) => i.topic === topic));
    return readers.length === 1 ? readers[0] : (readers.find((s) => functionName.endsWith(s.name)) ?? readers[0]);
  }
}

/** The task ids of a stage: one per input partition. */
function tasksOf(stage: Stage): string[] {
  return stage.inputs.flatMap((i) => Array.from({ length: i.partitions }, (_, p) => taskIdOf(stage.name, stage.inputs.length, i.topic, p)));
}
