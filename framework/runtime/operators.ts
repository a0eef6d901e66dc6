/**
 * Runs one stage's fused operators for one batch. Pure apart from user functions: no
 * Kafka, no DynamoDB. Records flow through the operator graph vectorised (one array per
 * edge), so mapAsync can run records concurrently while keeping their order, and a
 * failing record is dead-lettered (its state and timer changes rolled back) without
 * stopping the rest. Timers fire here too: `fireTimer` routes a due timer to the window
 * or process node that registered it, and what it emits flows on like any record.
 */
import { json } from '../serde/json.js';
import { stateMapKey } from '../state/task-state.js';
import type { KeyedProcessContext, OnTimerContext, ProcessContext, RecordContext, TimerService } from '../dsl/context.js';
import type { JoinNode, NodeId, PlanNode, WindowNode } from '../dsl/plan.js';
import { SluiceError } from '../errors.js';
import { partitionForKey } from '../record/partitioner.js';
import type { KafkaRecord, RecordHeader } from '../record/record.js';
import type { TimerEntry } from '../commit/ports.js';
import type { TaskState } from '../state/task-state.js';
import type { TaskTimers } from '../time/task-timers.js';
import type { Stage, Topology } from '../topology/topology.js';
import { joinStateName, windowStateName } from '../topology/names.js';
import { joinElement, joinTimer } from './join-operator.js';
import { eventTimeHeader } from './input.js';
import { RecordFailedError } from './record-failed.js';
import { BatchMetrics } from '../ops/user-metrics.js';
import { describeNode } from '../topology/compile.js';
import { onElement, onEventTime, onProcessingTime } from '../time/window-operator.js';
import type { KeyWindowsState, WindowFiring } from '../time/window-operator.js';
import type { DeadLetter, Element, StageOutputRecord } from './element.js';

/** What one batch produced. */
export interface OperatorResult {
  readonly outputs: StageOutputRecord[];
  readonly deadLetters: DeadLetter[];
}

/** The task's clocks while a batch runs. */
export interface OperatorTime {
  /** Event time (watermark) of the task. */
  watermark: number;
  /** Processing time of the task. */
  processingTime: number;
}

/** Timer name of a process node's timers. */
export const processTimerName = (node: NodeId): string => `process-${node}`;

/** Headers a late record carries: where it came from and the watermark it missed. */
export const LATE_HEADERS = { topic: 'sluice-late-topic', partition: 'sluice-late-partition', offset: 'sluice-late-offset', watermark: 'sluice-late-watermark' } as const;

/** One batch's run of a stage's operators. */
export class OperatorGraph {
  readonly outputs: StageOutputRecord[] = [];
  readonly deadLetters: DeadLetter[] = [];
  /** What user functions record through `ctx.metrics` in this batch. */
  readonly metrics: BatchMetrics;
  private readonly partitionsOf: Map<string, number>;
  private readonly sideConsumers = new Map<NodeId, Map<string, NodeId[]>>();
  /** Window states decoded in this batch, by state entry, with the bytes they were decoded from (windowState). */
  private readonly decodedWindows = new Map<string, { readonly bytes: Buffer; readonly value: KeyWindowsState }>();

  constructor(
    private readonly topology: Topology,
    private readonly stage: Stage,
    private readonly rawOf: (origin: Element['origin']) => KafkaRecord | undefined,
    private readonly state: TaskState | undefined,
    private readonly timers: TaskTimers | undefined,
    private readonly time: OperatorTime,
  ) {
    this.partitionsOf = new Map(topology.topics.map((t) => [t.name, t.partitions]));
    this.metrics = new BatchMetrics(stage.name);
    for (const id of stage.nodes) {
      const n = this.node(id);
      if (n.kind === 'sideOutput') {
        const byTag = this.sideConsumers.get(n.input) ?? new Map<string, NodeId[]>();
        byTag.set(n.tag, [...(byTag.get(n.tag) ?? []), id]);
        this.sideConsumers.set(n.input, byTag);
      }
    }
  }

  /** Runs elements read from the input whose entry node is `entry`. */
  async run(entry: NodeId, elements: readonly Element[]): Promise<void> {
    await this.deliver(entry, elements);
  }

  /** Fires one due timer: the window or process node that owns it reacts, its output flows on. */
  async fireTimer(timer: TimerEntry, key: unknown): Promise<void> {
    // A user timer leaves its set as it fires, and stays gone even if onTimer throws (it is
    // dead-lettered once, not fired again every batch).
    this.timers?.fire(timer);
    this.state?.commitRecord();
    const origin = { topic: this.stage.controlTopic, partition: -1, offset: -1 };
    const base: Element = { value: undefined, key, keyBytes: timer.key, timestamp: timer.time, origin };
    const node = this.stage.nodes
      .map((id) => this.node(id))
      .find((n) => (n.kind === 'window' && windowStateName(n.id) === timer.name) || (n.kind === 'process' && processTimerName(n.id) === timer.name) || (n.kind === 'join' && joinStateName(n) === timer.name));
    if (!node || !this.state) return; // a timer of an operator that no longer exists: dropping it is all that can be done
    try {
      if (node.kind === 'window') {
        const access = this.windowState(node, timer.key);
        const fn = timer.kind === 'event' ? onEventTime : onProcessingTime;
        const res = fn(node.spec, access.get(), timer.time, this.time.watermark, key);
        this.saveWindows(node, timer.key, access, res.state);
        this.state.commitRecord();
        await this.deliver(node.id, this.firingElements(base, res.firings));
      } else if (node.kind === 'join') {
        const results = joinTimer(node, this.state, this.timers, timer, base, this.time.watermark);
        this.state.commitRecord();
        await this.deliver(node.id, results);
      } else if (node.kind === 'process' && node.onTimer) {
        const emitted: Element[] = [];
        const side: Array<[string, Element]> = [];
        const ctx: OnTimerContext<unknown, unknown> = {
          key,
          state: this.state.access(timer.key).state,
          timers: this.timerService(node.id, timer.key),
          timeDomain: timer.kind,
          emit: (v) => void emitted.push({ ...base, value: v }),
          output: (tag, v) => void side.push([tag.id, { ...base, value: v }]),
          metrics: this.metrics,
        };
        await node.onTimer(timer.time, ctx);
        this.state.commitRecord();
        await this.deliver(node.id, emitted);
        for (const [tag, el] of side) for (const c of this.sideConsumers.get(node.id)?.get(tag) ?? []) await this.deliver(c, [el]);
      }
    } catch (error) {
      this.rollbackRecord();
      this.fail(base, `onTimer(${describeNode(node)})`, error);
    }
  }

  /** Undoes the current record's state changes, and the timers derived from them. */
  private rollbackRecord(): void {
    // A failing aggregate may have changed a decoded window state in place: decode again.
    this.decodedWindows.clear();
    for (const e of this.state?.rollbackRecord() ?? []) this.timers?.refresh(e.key, e.name);
  }

  private node(id: NodeId): PlanNode {
    return this.topology.nodes.get(id)!;
  }

  private fail(el: Element, operator: string, error: unknown): void {
    if (this.topology.settings.onError === 'fail') throw new RecordFailedError(this.stage.name, operator, el.origin, error);
    const record = this.rawOf(el.origin) ?? syntheticRecord(el);
    this.deadLetters.push({ record, error: error instanceof Error ? error : new Error(String(error)), operator });
  }

  private async deliver(from: NodeId, elements: readonly Element[]): Promise<void> {
    if (elements.length === 0) return;
    for (const consumer of this.stage.consumers.get(from) ?? []) {
      const node = this.node(consumer);
      if (node.kind === 'sideOutput') continue; // fed by the process node that emits to it
      await this.deliver(consumer, await this.apply(node, elements, from));
    }
  }

  private ctxOf(el: Element): RecordContext {
    return { timestamp: el.timestamp, origin: el.origin };
  }

  private timerService(node: NodeId, key: Buffer): TimerService {
    const name = processTimerName(node);
    const owner = this.node(node);
    const timers = this.timers;
    const register = (f: (timers: TaskTimers) => void): void => {
      // A timer nobody handles would stay in the task's state forever.
      if ((owner.kind === 'process' && !owner.onTimer) || !timers) {
        throw new SluiceError('SLUICE_TIMER_WITHOUT_HANDLER', 'process registers a timer but declares no onTimer', { stage: this.stage.name }, 'pass { onTimer } in process(fn, options)');
      }
      f(timers);
    };
    const t = this.time;
    return {
      get watermark() {
        return t.watermark;
      },
      get processingTime() {
        return t.processingTime;
      },
      registerEventTimeTimer: (time) => register((ts) => ts.register({ kind: 'event', time: checkTime(time), key, name })),
      registerProcessingTimeTimer: (time) => register((ts) => ts.register({ kind: 'processing', time: checkTime(time), key, name })),
      deleteEventTimeTimer: (time) => timers?.unregister({ kind: 'event', time: checkTime(time), key, name }),
      deleteProcessingTimeTimer: (time) => timers?.unregister({ kind: 'processing', time: checkTime(time), key, name }),
    };
  }

  /**
   * A key's window state. Stored as JSON like any value state (its descriptor has the default
   * serde and no TTL), but decoded once per stored value: a read returns what was decoded from
   * the very bytes the task holds (`decodedWindows`), so the records of a key in one batch parse
   * its state once, not once per record and again for its timers. What a write caches is decoded
   * from the bytes it stored, never the object it was given: the next record sees exactly what a
   * later batch would (JSON keeps less than an object can hold).
   */
  private windowState(node: WindowNode, key: Buffer): { get(): KeyWindowsState | undefined; set(v: KeyWindowsState | undefined): void } {
    const state = this.state!;
    const name = windowStateName(node.id);
    const id = stateMapKey(key, name);
    return {
      get: () => {
        const cur = state.get(key, name);
        if (!cur) return undefined;
        const cached = this.decodedWindows.get(id);
        if (cached?.bytes === cur.bytes) return cached.value;
        const value = WINDOW_SERDE.deserialize(cur.bytes, { topic: `state:${name}` })!;
        this.decodedWindows.set(id, { bytes: cur.bytes, value });
        return value;
      },
      set: (v) => {
        if (v === undefined) {
          state.put(key, name, undefined);
          this.decodedWindows.delete(id);
          return;
        }
        const bytes = WINDOW_SERDE.serialize(v)!;
        state.put(key, name, { bytes, expiresAt: undefined });
        this.decodedWindows.set(id, { bytes, value: WINDOW_SERDE.deserialize(bytes, { topic: `state:${name}` })! });
      },
    };
  }

  /** Stores a key's window state; its timers follow from it (TimerService derives them, here from the decoded state). */
  private saveWindows(node: WindowNode, key: Buffer, access: { get(): KeyWindowsState | undefined; set(v: KeyWindowsState | undefined): void }, next: KeyWindowsState | undefined): void {
    access.set(next);
    this.timers?.refresh(key, windowStateName(node.id), access.get());
  }

  private firingElements(base: Element, firings: ReadonlyArray<WindowFiring<unknown>>): Element[] {
    return firings.map((f) => ({
      ...base,
      timestamp: f.window.end - 1,
      value: { key: base.key, window: { start: f.window.start, end: f.window.end }, value: f.value, firing: f.firing },
    }));
  }

  private async apply(node: PlanNode, elements: readonly Element[], from: NodeId): Promise<Element[]> {
    const label = describeNode(node);
    const out: Element[] = [];
    switch (node.kind) {
      case 'map':
        for (const el of elements) {
          try {
            out.push({ ...el, value: node.fn(el.value, this.ctxOf(el)) });
          } catch (e) {
            this.fail(el, label, e);
          }
        }
        return out;
      case 'filter':
        for (const el of elements) {
          try {
            if (node.fn(el.value, this.ctxOf(el))) out.push(el);
          } catch (e) {
            this.fail(el, label, e);
          }
        }
        return out;
      case 'flatMap':
        for (const el of elements) {
          try {
            for (const v of node.fn(el.value, this.ctxOf(el))) out.push({ ...el, value: v });
          } catch (e) {
            this.fail(el, label, e);
          }
        }
        return out;
      case 'mapAsync': {
        const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = new Array(elements.length);
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < elements.length) {
            const i = next++;
            const el = elements[i]!;
            try {
              results[i] = { ok: true, value: await node.fn(el.value, this.ctxOf(el)) };
            } catch (error) {
              results[i] = { ok: false, error };
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(node.concurrency, elements.length) }, worker));
        elements.forEach((el, i) => {
          const r = results[i]!;
          if (r.ok) out.push({ ...el, value: r.value });
          else this.fail(el, label, r.error);
        });
        return out;
      }
      case 'process':
      case 'aggregate':
        return this.applyProcess(node, elements, label);
      case 'window':
        return this.applyWindow(node, elements, label);
      case 'join':
        return this.applyJoin(node, elements, from, label);
      case 'union':
      case 'sideOutput':
      case 'source':
        return [...elements];
      case 'keyBy':
        this.writeRepartition(node, elements, label);
        return [];
      case 'sink':
        for (const el of elements) {
          try {
            let key: Buffer | null = null;
            if (node.keyFn) key = (node.keySerde ?? jsonKey).serialize(node.keyFn(el.value));
            else if (el.keyBytes) key = node.keySerde ? node.keySerde.serialize(el.key) : el.keyBytes;
            this.outputs.push({ topic: node.topic, partition: undefined, key, value: node.serde.serialize(el.value), timestamp: el.timestamp, origin: el.origin, edge: undefined, headers: [] });
          } catch (e) {
            this.fail(el, label, e);
          }
        }
        return [];
    }
  }

  private writeRepartition(node: Extract<PlanNode, { kind: 'keyBy' }>, elements: readonly Element[], label: string): void {
    const id = node.id;
    const out = this.stage.outputs.find((o) => o.node === id)!;
    const partitions = this.partitionsOf.get(out.topic)!;
    const target = this.topology.stages.find((s) => s.name === out.toStage)!.inputs.find((i) => i.topic === out.topic)!;
    const edge = target.writers.length > 1 ? id : undefined;
    for (const el of elements) {
      try {
        // A repartition in front of a join keeps the record's key: the same key, in the join's key serde.
        if (node.keepKey && el.key === undefined) throw new SluiceError('SLUICE_NULL_KEY', 'a record without a key reached the repartition in front of a join', { stage: this.stage.name });
        const key = node.keySerde.serialize(node.keepKey ? el.key : node.keyFn(el.value));
        if (key === null) throw new SluiceError('SLUICE_NULL_KEY', 'keyBy produced a null key', { stage: this.stage.name });
        // A table's tombstone stays a tombstone (a null value), whatever the serde would make of null.
        const value = node.changelog && (el.value === null || el.value === undefined) ? null : node.serde.serialize(el.value);
        this.outputs.push({ topic: out.topic, partition: partitionForKey(key, partitions), key, value, timestamp: el.timestamp, origin: el.origin, edge, headers: [eventTimeHeader(el.timestamp)] });
      } catch (e) {
        this.fail(el, label, e);
      }
    }
  }

  private async applyProcess(node: Extract<PlanNode, { kind: 'process' | 'aggregate' }>, elements: readonly Element[], label: string): Promise<Element[]> {
    const out: Element[] = [];
    const side = new Map<string, Element[]>();
    const state = this.state;
    for (const el of elements) {
      const emitted: Element[] = [];
      const sideEmitted: Array<[string, Element]> = [];
      try {
        const base: ProcessContext<unknown> = {
          timestamp: el.timestamp,
          origin: el.origin,
          emit: (v) => void emitted.push({ ...el, value: v }),
          output: (tag, v) => void sideEmitted.push([tag.id, { ...el, value: v }]),
          metrics: this.metrics,
        };
        if (node.kind === 'aggregate' || node.keyed) {
          if (!state || !el.keyBytes) throw new SluiceError('SLUICE_STATE_UNKEYED', 'keyed operator got a record without a key', { stage: this.stage.name, ...el.origin });
          const access = state.access(el.keyBytes);
          if (node.kind === 'aggregate') {
            const agg = access.state(node.state[0] as Parameters<typeof access.state>[0]) as { add(v: unknown): void; get(): unknown };
            agg.add(el.value);
            emitted.push({ ...el, value: { key: el.key, value: agg.get() } });
          } else {
            const ctx: KeyedProcessContext<unknown, unknown> = { ...base, key: el.key, state: access.state, timers: this.timerService(node.id, el.keyBytes) };
            await node.fn(el.value, ctx);
          }
        } else {
          await node.fn(el.value, base);
        }
      } catch (e) {
        // The record is dead-lettered whole: none of its state or timer changes may stay.
        this.rollbackRecord();
        this.fail(el, label, e);
        continue;
      }
      state?.commitRecord();
      out.push(...emitted);
      for (const [tag, s] of sideEmitted) side.set(tag, [...(side.get(tag) ?? []), s]);
    }
    for (const [tag, els] of side) {
      for (const consumer of this.sideConsumers.get(node.id)?.get(tag) ?? []) await this.deliver(consumer, els);
    }
    return out;
  }

  /** A record too late for its operator: never dropped, it goes to the late topic with where it came from. */
  private writeLate(topic: string, el: Element): void {
    this.outputs.push({
      topic,
      partition: undefined,
      key: el.keyBytes,
      value: jsonKey.serialize(el.value),
      timestamp: el.timestamp,
      origin: el.origin,
      edge: undefined,
      headers: lateHeaders(el, this.time.watermark),
    });
  }

  /** Elements arriving from `from`: the join's left side, its right side, or (a self-join) both. */
  private applyJoin(node: JoinNode, elements: readonly Element[], from: NodeId, label: string): Element[] {
    const sides = [...(from === node.left ? (['left'] as const) : []), ...(from === node.right ? (['right'] as const) : [])];
    const lateTopic = this.stage.outputs.find((o) => o.node === node.id && o.kind === 'late')?.topic;
    const out: Element[] = [];
    for (const el of elements) {
      try {
        if (!this.state || !el.keyBytes) throw new SluiceError('SLUICE_STATE_UNKEYED', 'join got a record without a key', { stage: this.stage.name, ...el.origin });
        const step = joinElement(node, this.state, this.timers, el, sides, this.time.watermark);
        if (step.late && lateTopic) this.writeLate(lateTopic, el);
        out.push(...step.results);
      } catch (e) {
        this.rollbackRecord();
        this.fail(el, label, e);
        continue;
      }
      this.state?.commitRecord();
    }
    return out;
  }

  private applyWindow(node: WindowNode, elements: readonly Element[], label: string): Element[] {
    const out: Element[] = [];
    const lateTopic = this.stage.outputs.find((o) => o.node === node.id && o.kind === 'late')!.topic;
    for (const el of elements) {
      try {
        if (!this.state || !el.keyBytes) throw new SluiceError('SLUICE_STATE_UNKEYED', 'window got a record without a key', { stage: this.stage.name, ...el.origin });
        const access = this.windowState(node, el.keyBytes);
        const res = onElement(node.spec, access.get(), el.value, el.timestamp, this.time.watermark, this.time.processingTime, el.key);
        this.saveWindows(node, el.keyBytes, access, res.state);
        if (res.late) this.writeLate(lateTopic, el);
        out.push(...this.firingElements(el, res.firings));
      } catch (e) {
        this.rollbackRecord();
        this.fail(el, label, e);
        continue;
      }
      this.state?.commitRecord();
    }
    return out;
  }
}

/** The serde of window state: what compile.ts declares for it (a value state with the default serde, JSON). */
const WINDOW_SERDE = json<KeyWindowsState>();

function lateHeaders(el: Element, watermark: number): RecordHeader[] {
  const h = (name: string, v: number | string): RecordHeader => ({ name, value: Buffer.from(String(v)) });
  // Late topics keep the broker's append time (a late record's event time is old by definition, so
  // time-based retention could delete it at once); its event time travels in the event-time header.
  return [h(LATE_HEADERS.topic, el.origin.topic), h(LATE_HEADERS.partition, el.origin.partition), h(LATE_HEADERS.offset, el.origin.offset), h(LATE_HEADERS.watermark, watermark), eventTimeHeader(el.timestamp)];
}

function checkTime(time: number): number {
  if (!Number.isSafeInteger(time)) throw new SluiceError('SLUICE_TIMER_TIME', `timer time ${time} is not an integer of epoch ms`, {}, 'register timers at whole epoch milliseconds');
  return time;
}

/** A record standing for an element that has no input record (a timer's output), for dead-lettering. */
function syntheticRecord(el: Element): KafkaRecord {
  return {
    topic: el.origin.topic,
    partition: el.origin.partition,
    offset: el.origin.offset,
    timestamp: el.timestamp,
    timestampType: 'CREATE_TIME',
    key: el.keyBytes,
    value: el.value === undefined ? null : Buffer.from(JSON.stringify(el.value)),
    headers: [],
  };
}

const jsonKey = { name: 'json-key', serialize: (v: unknown): Buffer => Buffer.from(JSON.stringify(v) ?? 'null') };
