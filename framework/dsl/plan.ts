/**
 * The plan: what the DSL builds and the topology compiler reads. Untyped on purpose —
 * the builder's generics carry record types for users; here every value is `unknown`
 * and the compiler only cares about shape and boundaries.
 */
import type { Serde } from '../serde/serde.js';
import type { StateDescriptor } from '../state/descriptors.js';
import type { AggregateFunction } from './aggregate.js';
import type { KeyedProcessContext, OnTimerContext, ProcessContext, RecordContext } from './context.js';
import type { WindowSpec } from '../time/window-operator.js';
import type { JoinSpec } from '../join/spec.js';

/** Identifies a node within one pipeline's plan. */
export type NodeId = number;

/** Reads a topic outside the pipeline. */
export interface SourceNode {
  readonly kind: 'source';
  readonly id: NodeId;
  readonly topic: string;
  readonly serde: Serde<unknown>;
  /** Declared when the topic is already keyed the way the stream is used. */
  readonly keySerde: Serde<unknown> | undefined;
  readonly partitions: number | undefined;
  readonly eventTime: ((value: unknown) => number) | undefined;
  readonly maxOutOfOrdernessMs: number;
  /** Custom watermark from the max event time seen (default: max − maxOutOfOrderness). */
  readonly watermark: ((maxEventTime: number) => number) | undefined;
  /** A table's topic (`pipeline.table`): a null value is a tombstone (the key's row is deleted), not a record to deserialise. */
  readonly table?: boolean;
}

/** A stateless one-to-one function. */
export interface MapNode {
  readonly kind: 'map';
  readonly id: NodeId;
  readonly input: NodeId;
  readonly fn: (value: unknown, ctx: RecordContext) => unknown;
}
/** A stateless predicate. */
export interface FilterNode {
  readonly kind: 'filter';
  readonly id: NodeId;
  readonly input: NodeId;
  readonly fn: (value: unknown, ctx: RecordContext) => boolean;
}
/** A stateless one-to-many function. */
export interface FlatMapNode {
  readonly kind: 'flatMap';
  readonly id: NodeId;
  readonly input: NodeId;
  readonly fn: (value: unknown, ctx: RecordContext) => Iterable<unknown>;
}
/** An asynchronous one-to-one function run with bounded concurrency, order kept. */
export interface MapAsyncNode {
  readonly kind: 'mapAsync';
  readonly id: NodeId;
  readonly input: NodeId;
  readonly fn: (value: unknown, ctx: RecordContext) => Promise<unknown>;
  readonly concurrency: number;
}
/** Repartitions by key: ends the stage it is in and starts a keyed one. */
export interface KeyByNode {
  readonly kind: 'keyBy';
  readonly id: NodeId;
  readonly input: NodeId;
  readonly keyFn: (value: unknown) => unknown;
  readonly keySerde: Serde<unknown>;
  /** The record serde on the internal topic. */
  readonly serde: Serde<unknown>;
  readonly partitions: number | undefined;
  readonly name: string | undefined;
  /**
   * Set on the repartition the compiler inserts in front of a join (co-partition.ts): `keyFn` is not
   * called; each record keeps its key, re-serialised with `keySerde` so both sides agree byte for byte.
   */
  readonly keepKey?: boolean;
  /** The records are a table's changes: a null value is written as a Kafka tombstone and read back as null. */
  readonly changelog?: boolean;
}
/** A per-record function with a context (keyed when its input is keyed). */
export interface ProcessNode {
  readonly kind: 'process';
  readonly id: NodeId;
  readonly input: NodeId;
  readonly keyed: boolean;
  readonly fn: (value: unknown, ctx: ProcessContext<unknown> | KeyedProcessContext<unknown, unknown>) => void | Promise<void>;
  readonly state: readonly StateDescriptor[];
  /** Called when a timer the function registered fires (keyed only). */
  readonly onTimer: ((timestamp: number, ctx: OnTimerContext<unknown, unknown>) => void | Promise<void>) | undefined;
}
/** Event-time windows per key, aggregated incrementally or processed whole. */
export interface WindowNode {
  readonly kind: 'window';
  readonly id: NodeId;
  readonly input: NodeId;
  readonly spec: WindowSpec<unknown, unknown, unknown>;
  /** Topic late records go to (never dropped). */
  readonly lateTopic: string | undefined;
  readonly state: readonly StateDescriptor[];
}
/** A running aggregate per key: emits the updated result after every record. */
export interface AggregateNode {
  readonly kind: 'aggregate';
  readonly id: NodeId;
  readonly input: NodeId;
  readonly aggregate: AggregateFunction<unknown, unknown, unknown>;
  readonly state: readonly StateDescriptor[];
}
/**
 * Joins two keyed streams, or a keyed stream (left) with a table (right). Both reach the stage the
 * join runs in, keyed alike: the compiler checks that, and inserts a repartition where it is needed.
 */
export interface JoinNode {
  readonly kind: 'join';
  readonly id: NodeId;
  readonly left: NodeId;
  readonly right: NodeId;
  readonly spec: JoinSpec;
  /** Topic late records of event-time joins go to (never dropped). */
  readonly lateTopic: string | undefined;
}
/** Merges streams of one record type. */
export interface UnionNode {
  readonly kind: 'union';
  readonly id: NodeId;
  readonly inputs: readonly NodeId[];
}
/** Selects a side output of a process node. */
export interface SideOutputNode {
  readonly kind: 'sideOutput';
  readonly id: NodeId;
  readonly input: NodeId;
  readonly tag: string;
}
/** Writes to a topic outside the pipeline. */
export interface SinkNode {
  readonly kind: 'sink';
  readonly id: NodeId;
  readonly input: NodeId;
  readonly topic: string;
  readonly serde: Serde<unknown>;
  readonly keyFn: ((value: unknown) => unknown) | undefined;
  readonly keySerde: Serde<unknown> | undefined;
}

/** Any node of a plan. */
export type PlanNode =
  | SourceNode
  | MapNode
  | FilterNode
  | FlatMapNode
  | MapAsyncNode
  | KeyByNode
  | ProcessNode
  | AggregateNode
  | WindowNode
  | JoinNode
  | UnionNode
  | SideOutputNode
  | SinkNode;

/** Options of a pipeline as a whole. */
export interface PipelineSettings {
  readonly name: string;
  /** Partitions of internal topics when a keyBy does not say. */
  readonly partitions: number | undefined;
  readonly mode: 'exactly-once' | 'at-least-once';
  /** Lambda function timeout, ms. */
  readonly functionTimeoutMs: number;
  /** Kafka transaction timeout, ms; must exceed the function timeout. */
  readonly transactionTimeoutMs: number;
  /** What to do with a record whose deserialisation or user function fails. */
  readonly onError: 'dead-letter' | 'fail';
  /** A source partition without data for this long is idle (left out of downstream watermarks). */
  readonly idleTimeoutMs: number;
  /** Least time between two watermark marks a source task sends downstream. */
  readonly watermarkIntervalMs: number;
  /** When tasks send marks: on crossing a point where a downstream window can act (default), or every interval. */
  readonly marks: 'boundaries' | 'interval';
  /** Where a batch commits position, event time and state changes: DynamoDB checkpoints, or a Kafka changelog (exactly-once only). */
  readonly commit: 'checkpoint' | 'changelog';
}

/** The whole plan: settings, nodes in creation order, and explicit stage names. */
export interface Plan {
  readonly settings: PipelineSettings;
  readonly nodes: readonly PlanNode[];
  /** Explicit stage names, set by `.stage(name)` on a stream, keyed by the node it was set on. */
  readonly stageNames: ReadonlyMap<NodeId, string>;
}

/** Inputs of a node, in order. */
export function inputsOf(node: PlanNode): readonly NodeId[] {
  switch (node.kind) {
    case 'source':
      return [];
    case 'union':
      return node.inputs;
    case 'join':
      return [node.left, node.right];
    default:
      return [node.input];
  }
}
