/**
 * The compiled form of a pipeline: stages (one Lambda function each), the operators
 * fused into each, and every topic between them. Produced by `compile()`, read by the
 * runtime, the deploy plugin, the local emulator and the CLI.
 */
import type { NodeId, PipelineSettings, PlanNode } from '../dsl/plan.js';
import type { Serde } from '../serde/serde.js';
import type { StateDescriptor } from '../state/descriptors.js';

/** A topic a stage reads. */
export interface StageInput {
  readonly topic: string;
  readonly partitions: number;
  /** `source`: an external topic; `internal`: written by upstream keyBy nodes. */
  readonly kind: 'source' | 'internal';
  /** The node that turns input records into stream elements (a source or the keyBy feeding this stage). */
  readonly entry: NodeId;
  /** Every keyBy node writing this internal topic (empty for sources). */
  readonly writers: readonly NodeId[];
  readonly serde: Serde<unknown>;
  /** Present when records arrive keyed. */
  readonly keySerde: Serde<unknown> | undefined;
}

/** Where a stage's records go. */
export interface StageOutput {
  readonly kind: 'sink' | 'repartition' | 'late';
  readonly node: NodeId;
  readonly topic: string;
  /** The stage reading it, for repartitions. */
  readonly toStage: string | undefined;
}

/** One stage: one Lambda function, one task per input partition. */
export interface Stage {
  readonly name: string;
  /** Records arrive keyed and state/timers are available. */
  readonly keyed: boolean;
  readonly inputs: readonly StageInput[];
  /** Nodes computed in this stage, in dataflow order. */
  readonly nodes: readonly NodeId[];
  /** For each node of this stage, the nodes of this stage that consume its output. */
  readonly consumers: ReadonlyMap<NodeId, readonly NodeId[]>;
  readonly outputs: readonly StageOutput[];
  readonly controlTopic: string;
  readonly deadLetterTopic: string;
  /** State declared by this stage's operators. */
  readonly state: readonly StateDescriptor[];
  /** Stages whose keyBy nodes write this stage's input. */
  readonly upstream: readonly string[];
  readonly downstream: readonly string[];
  /** Ids of every task of the upstream stages: this stage's event time is the minimum over them. */
  readonly upstreamTasks: readonly string[];
  /** Whether any operator of the stage needs event time (windows, timers). */
  readonly eventTime: boolean;
}

/** What a topic is to the pipeline. */
export type TopicRole = 'source' | 'internal' | 'control' | 'progress' | 'changelog' | 'dead-letter' | 'late' | 'sink';

/** A topic the pipeline needs, with its partition count. */
export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly role: TopicRole;
  /** Whether Sluice creates it (internal topics) or expects it to exist (sources, sinks). */
  readonly managed: boolean;
}

/** The compiled pipeline. */
export interface Topology {
  readonly app: string;
  readonly settings: PipelineSettings;
  readonly nodes: ReadonlyMap<NodeId, PlanNode>;
  readonly stages: readonly Stage[];
  readonly topics: readonly TopicSpec[];
  readonly progressTopic: string;
}

/** Finds a stage by name or returns undefined. */
export function findStage(topology: Topology, name: string): Stage | undefined {
  return topology.stages.find((s) => s.name === name);
}
