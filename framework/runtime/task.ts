/**
 * One task (stage × input partition) processing one batch: data flows one way —
 * checkpoint → dedupe → decode → prefetch state → operators → commit.
 * Warm containers keep a task's state cache between invocations while the
 * checkpoint version shows nobody else wrote in between.
 */
import type { Checkpoint, TaskRef } from '../commit/ports.js';
import type { CommitDeps, Recovery } from '../commit/protocol.js';
import { commitBatch, freshRecords, recover } from '../commit/protocol.js';
import type { KafkaRecord } from '../kafka/record.js';
import { KeyedStateCache } from '../state/keyed-state.js';
import type { Stage, StageInput, Topology } from '../topology/topology.js';
import type { DeadLetter, StageOutputRecord } from './element.js';
import { readInput } from './input.js';
import { runOperators } from './operators.js';

/** The task of `stage` reading `topic`/`partition`. */
export function taskRef(topology: Topology, stage: Stage, topic: string, partition: number): TaskRef {
  const id = stage.inputs.length > 1 ? `${stage.name}.${topic}.${partition}` : `${stage.name}.${partition}`;
  return { app: topology.app, stage: stage.name, topic, partition, id };
}

/** What a task did with one batch, for logs, metrics and tests. */
export interface TaskReport {
  readonly task: string;
  readonly received: number;
  /** Records skipped because the checkpoint had already passed them (redelivery). */
  readonly duplicates: number;
  readonly processed: number;
  readonly outputs: number;
  readonly deadLetters: number;
  /** Batch sequence number committed, undefined when nothing new arrived. */
  readonly seq: number | undefined;
  readonly recovery: Recovery | undefined;
}

/** A warm container's memory of a task: the checkpoint version it last wrote and the state cache then. */
export interface WarmTask {
  version: number;
  cache: KeyedStateCache | undefined;
}

/** Runs one batch of one task through decode, operators and the commit protocol. */
export async function runTask(
  topology: Topology,
  stage: Stage,
  input: StageInput,
  partition: number,
  records: readonly KafkaRecord[],
  deps: CommitDeps & { readonly now: () => number; readonly warm: Map<string, WarmTask> },
): Promise<TaskReport> {
  const task = taskRef(topology, stage, input.topic, partition);
  let ckpt: Checkpoint = await deps.store.read(task);
  const recovery = await recover(deps, task, ckpt);
  if (recovery) ckpt = await deps.store.read(task);

  const fresh = freshRecords(ckpt, records);
  const base = { task: task.id, received: records.length, duplicates: records.length - fresh.length, recovery };
  if (fresh.length === 0) return { ...base, processed: 0, outputs: 0, deadLetters: 0, seq: undefined };

  const warm = deps.warm.get(task.id);
  let cache: KeyedStateCache | undefined;
  if (stage.keyed) {
    // Every keyed stage gets a cache, even without declared state: it hands keyed operators
    // their state accessor, which reports undeclared state as UndeclaredStateError.
    // Reuse the warm cache only if nobody wrote the checkpoint since we did.
    cache = warm && warm.version === ckpt.version && warm.cache ? warm.cache : new KeyedStateCache(stage.name, stage.state, deps.now);
  }
  deps.warm.delete(task.id);

  const decoded = readInput(topology, stage.name, input, fresh);
  if (cache) {
    const keys = new Map<string, Buffer>();
    for (const els of decoded.byEntry.values()) for (const el of els) if (el.keyBytes) keys.set(el.keyBytes.toString('base64'), el.keyBytes);
    const missing = cache.missing(keys.values());
    if (missing.length > 0) cache.load(missing, await deps.store.loadState(task, missing, ckpt));
  }
  const byOffset = new Map(fresh.map((r) => [r.offset, r]));
  const outputs: StageOutputRecord[] = [];
  const deadLetters: DeadLetter[] = [...decoded.deadLetters];
  for (const [entry, elements] of decoded.byEntry) {
    const result = await runOperators(topology, stage, entry, elements, (o) => byOffset.get(o.offset)!, cache);
    outputs.push(...result.outputs);
    deadLetters.push(...result.deadLetters);
  }
  const nextOffset = fresh[fresh.length - 1]!.offset + 1;
  const committed = await commitBatch(deps, task, ckpt, {
    outputs,
    deadLetters,
    deadLetterTopic: stage.deadLetterTopic,
    stage: stage.name,
    nextOffset,
    state: cache ? cache.changes() : [],
    extra: ckpt.extra,
  });
  if (cache) cache.markCommitted();
  deps.warm.set(task.id, { version: committed.version, cache });
  return { ...base, processed: fresh.length, outputs: outputs.length, deadLetters: deadLetters.length, seq: committed.seq };
}
