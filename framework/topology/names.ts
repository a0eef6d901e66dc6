/** Topic and stage naming: deterministic, so redeploys keep their topics and state. */
import type { PlanNode } from '../dsl/plan.js';
import type { Topology } from './topology.js';

/** Internal topic a stage reads (written by upstream keyBy nodes). */
export const inputTopicName = (app: string, stage: string): string => `${app}.${stage}.in`;
/** Control topic of a stage (watermarks, ticks). */
export const controlTopicName = (app: string, stage: string): string => `${app}.${stage}.control`;
/** Dead-letter topic of a stage. */
export const deadLetterTopicName = (app: string, stage: string): string => `${app}.${stage}.dlq`;
/** Markers of dead letters replayed from a stage's dead-letter topic (so a replay never repeats). */
export const replayTopicName = (app: string, stage: string): string => `${app}.${stage}.dlq-replays`;
/** The app's progress topic (one progress record per committed batch). */
export const progressTopicName = (app: string): string => `${app}.progress`;

/** Stage names become Lambda function names and topic parts. */
export const STAGE_NAME = /^[a-z][a-z0-9-]{0,39}$/;

/** A stage name derived from a topic name: lowercase, other characters become dashes. */
export function stageNameFromTopic(topic: string): string {
  const cleaned = topic
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return cleaned.length > 0 ? cleaned : 'source';
}

/** Late-record topic of a stage's windows, unless the window names one. */
export const lateTopicName = (app: string, stage: string): string => `${app}.${stage}.late`;

/** Keyed state item holding a window node's open windows per key. */
export const windowStateName = (node: number): string => `window-${node}`;

/** Keyed state item of a join: the table's row (stream-table joins, named by the table), or both sides' buffers or windows. */
export function joinStateName(node: { readonly id: number; readonly spec: { readonly kind: string; readonly state?: string } }): string {
  return node.spec.kind === 'table' && node.spec.state !== undefined ? node.spec.state : `join-${node.id}`;
}

/**
 * Whether `stage` takes part in the event time of `downstream`: it writes it some records other than
 * a table's changes. A stage that only feeds tables (whose rows are joined in processing order)
 * would hold the downstream watermark back for nothing, so it is left out of its minimum.
 */
export function feedsEventTime(topology: Pick<Topology, 'nodes' | 'stages'>, stage: string, downstream: string): boolean {
  const s = topology.stages.find((x) => x.name === stage);
  return !!s && s.outputs.some((o) => o.kind === 'repartition' && o.toStage === downstream && !isChangelogWriter(topology.nodes.get(o.node)));
}

/** The stages right after `stage` that its watermark marks must reach: they need event time, and it takes part in theirs. */
export function eventTimeDownstream(topology: Pick<Topology, 'nodes' | 'stages'>, stage: string): string[] {
  const s = topology.stages.find((x) => x.name === stage);
  return (s?.downstream ?? []).filter((d) => needsEventTime(topology, d) && feedsEventTime(topology, stage, d));
}

function isChangelogWriter(node: PlanNode | undefined): boolean {
  return node?.kind === 'keyBy' && node.changelog === true;
}

/** Id of the task of `stage` reading `partition` of `topic` (the topic is part of it only for stages with several inputs). */
export function taskIdOf(stage: string, inputCount: number, topic: string, partition: number): string {
  return inputCount > 1 ? `${stage}.${topic}.${partition}` : `${stage}.${partition}`;
}

/**
 * The changelog topic of a stage's input (commit protocol `changelog`): one partition per task,
 * the task of input partition p writes partition p. Stages with several inputs have one per input.
 */
export function changelogTopicName(app: string, stage: string, inputCount: number, topic: string): string {
  return inputCount > 1 ? `${app}.${stage}.${topic}.changelog` : `${app}.${stage}.changelog`;
}

/** The changelog partition of a task (commit protocol `changelog`): its stage's changelog topic of the task's input, the task's partition. */
export function changelogOf(topology: { readonly app: string; readonly stages: ReadonlyArray<{ readonly name: string; readonly inputs: readonly unknown[] }> }, task: { readonly stage: string; readonly topic: string; readonly partition: number }): { topic: string; partition: number } {
  const stage = topology.stages.find((s) => s.name === task.stage);
  if (!stage) throw new Error(`pipeline ${topology.app} has no stage ${task.stage}`);
  return { topic: changelogTopicName(topology.app, stage.name, stage.inputs.length, task.topic), partition: task.partition };
}

/** Whether a stage, or any stage downstream of it, needs event time (so watermarks must reach it). */
export function needsEventTime(topology: { readonly stages: ReadonlyArray<{ readonly name: string; readonly eventTime: boolean; readonly downstream: readonly string[] }> }, stage: string): boolean {
  const s = topology.stages.find((x) => x.name === stage);
  return !!s && (s.eventTime || s.downstream.some((d) => needsEventTime(topology, d)));
}

/**
 * Configs Sluice creates a managed topic with: every topic Sluice owns takes the broker's append
 * time as record timestamp. Kafka's time-based retention deletes a segment once its newest
 * record timestamp is older than retention.ms; with event times as timestamps, internal records
 * of replayed old data, dead letters and late records (late by definition) could be deleted at
 * the broker's next retention check, before anyone read them. Their event time travels in a
 * header instead (EVENT_TIME_HEADER; dead letters: the dlq timestamp header). A changelog keeps
 * its records until Sluice no longer needs them (retention.ms -1): a task idle for longer than any
 * retention would otherwise lose the batches after its snapshot.
 */
export function managedTopicConfigs(role: string): Readonly<Record<string, string>> {
  return role === 'changelog' ? { 'message.timestamp.type': 'LogAppendTime', 'retention.ms': '-1' } : { 'message.timestamp.type': 'LogAppendTime' };
}
