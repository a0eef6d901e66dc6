/**
 * Runs one stage's fused operators over one batch of input elements. Pure apart from
 * user functions: no Kafka, no DynamoDB. Batches flow through the operator graph
 * vectorised (one array per edge), so mapAsync can run records concurrently while
 * keeping their order, and a failing record is dead-lettered without stopping the rest.
 */
import type { KeyedProcessContext, ProcessContext, RecordContext } from '../dsl/context.js';
import type { NodeId, PlanNode } from '../dsl/plan.js';
import { SluiceError } from '../errors.js';
import { partitionForKey } from '../kafka/partitioner.js';
import type { KafkaRecord } from '../kafka/record.js';
import type { KeyedStateCache } from '../state/keyed-state.js';
import type { Stage, Topology } from '../topology/topology.js';
import { describeNode } from '../topology/compile.js';
import type { DeadLetter, Element, StageOutputRecord } from './element.js';

/** A user function failed on a record and the pipeline says `onError: 'fail'`. */
export class RecordFailedError extends SluiceError {
  constructor(stage: string, operator: string, origin: { topic: string; partition: number; offset: number }, cause: unknown) {
    super(
      'SLUICE_RECORD_FAILED',
      `${operator} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { stage, topic: origin.topic, partition: origin.partition, offset: origin.offset },
      'fix the function or the record; with onError: "dead-letter" the record would go to the dead-letter topic instead',
      { cause },
    );
  }
}

/** What one batch produced. */
export interface OperatorResult {
  readonly outputs: StageOutputRecord[];
  readonly deadLetters: DeadLetter[];
}

/** Runs the stage's operators on `inputs` (elements of the input whose entry node is `entry`). */
export async function runOperators(
  topology: Topology,
  stage: Stage,
  entry: NodeId,
  inputs: readonly Element[],
  rawOf: (origin: Element['origin']) => KafkaRecord,
  state: KeyedStateCache | undefined,
): Promise<OperatorResult> {
  const outputs: StageOutputRecord[] = [];
  const deadLetters: DeadLetter[] = [];
  const onError = topology.settings.onError;
  const partitionsOf = new Map(topology.topics.map((t) => [t.name, t.partitions]));
  const nodeOf = (id: NodeId): PlanNode => topology.nodes.get(id)!;
  // Side outputs are delivered to the sideOutput nodes that select them.
  const sideConsumers = new Map<NodeId, Map<string, NodeId[]>>();
  for (const id of stage.nodes) {
    const n = nodeOf(id);
    if (n.kind === 'sideOutput') {
      const byTag = sideConsumers.get(n.input) ?? new Map<string, NodeId[]>();
      byTag.set(n.tag, [...(byTag.get(n.tag) ?? []), id]);
      sideConsumers.set(n.input, byTag);
    }
  }

  const fail = (el: Element, operator: string, error: unknown): void => {
    if (onError === 'fail') throw new RecordFailedError(stage.name, operator, el.origin, error);
    deadLetters.push({ record: rawOf(el.origin), error: error instanceof Error ? error : new Error(String(error)), operator });
  };
  const ctxOf = (el: Element): RecordContext => ({ timestamp: el.timestamp, origin: el.origin });

  const deliver = async (from: NodeId, elements: readonly Element[]): Promise<void> => {
    if (elements.length === 0) return;
    for (const consumer of stage.consumers.get(from) ?? []) {
      const node = nodeOf(consumer);
      if (node.kind === 'sideOutput') continue; // fed through `side` below
      await deliver(consumer, await apply(node, elements));
    }
  };

  const apply = async (node: PlanNode, elements: readonly Element[]): Promise<Element[]> => {
    const label = describeNode(node);
    const out: Element[] = [];
    switch (node.kind) {
      case 'map':
        for (const el of elements) {
          try {
            out.push({ ...el, value: node.fn(el.value, ctxOf(el)) });
          } catch (e) {
            fail(el, label, e);
          }
        }
        return out;
      case 'filter':
        for (const el of elements) {
          try {
            if (node.fn(el.value, ctxOf(el))) out.push(el);
          } catch (e) {
            fail(el, label, e);
          }
        }
        return out;
      case 'flatMap':
        for (const el of elements) {
          try {
            for (const v of node.fn(el.value, ctxOf(el))) out.push({ ...el, value: v });
          } catch (e) {
            fail(el, label, e);
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
              results[i] = { ok: true, value: await node.fn(el.value, ctxOf(el)) };
            } catch (error) {
              results[i] = { ok: false, error };
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(node.concurrency, elements.length) }, worker));
        elements.forEach((el, i) => {
          const r = results[i]!;
          if (r.ok) out.push({ ...el, value: r.value });
          else fail(el, label, r.error);
        });
        return out;
      }
      case 'process':
      case 'aggregate': {
        const side = new Map<string, Element[]>();
        for (const el of elements) {
          const emitted: Element[] = [];
          const sideEmitted: Array<[string, Element]> = [];
          try {
            const base: ProcessContext<unknown> = {
              timestamp: el.timestamp,
              origin: el.origin,
              emit: (v) => void emitted.push({ ...el, value: v }),
              output: (tag, v) => void sideEmitted.push([tag.id, { ...el, value: v }]),
            };
            if (node.kind === 'aggregate' || node.keyed) {
              if (!state || !el.keyBytes) throw new SluiceError('SLUICE_STATE_UNKEYED', 'keyed operator got a record without a key', { stage: stage.name, ...el.origin });
              const access = state.access(el.keyBytes);
              if (node.kind === 'aggregate') {
                const agg = access.state(node.state[0] as Parameters<typeof access.state>[0]) as { add(v: unknown): void; get(): unknown };
                agg.add(el.value);
                emitted.push({ ...el, value: { key: el.key, value: agg.get() } });
              } else {
                const ctx: KeyedProcessContext<unknown, unknown> = { ...base, key: el.key, state: access.state };
                await node.fn(el.value, ctx);
              }
            } else {
              await node.fn(el.value, base);
            }
          } catch (e) {
            // The record is dead-lettered whole: none of its state changes may stay.
            state?.rollbackRecord();
            fail(el, label, e);
            continue;
          }
          state?.commitRecord();
          out.push(...emitted);
          for (const [tag, s] of sideEmitted) side.set(tag, [...(side.get(tag) ?? []), s]);
        }
        for (const [tag, els] of side) {
          for (const consumer of sideConsumers.get(node.id)?.get(tag) ?? []) await deliver(consumer, els);
        }
        return out;
      }
      case 'union':
        return [...elements];
      case 'keyBy': {
        const out = stage.outputs.find((o) => o.node === node.id)!;
        const topic = out.topic;
        const partitions = partitionsOf.get(topic)!;
        const target = topology.stages.find((s) => s.name === out.toStage)!.inputs.find((i) => i.topic === topic)!;
        const edge = target.writers.length > 1 ? node.id : undefined;
        for (const el of elements) {
          try {
            const key = node.keySerde.serialize(node.keyFn(el.value));
            if (key === null) throw new SluiceError('SLUICE_NULL_KEY', 'keyBy produced a null key', { stage: stage.name });
            outputs.push({
              topic,
              partition: partitionForKey(key, partitions),
              key,
              value: node.serde.serialize(el.value),
              timestamp: el.timestamp,
              origin: el.origin,
              edge,
            });
          } catch (e) {
            fail(el, label, e);
          }
        }
        return [];
      }
      case 'sink':
        for (const el of elements) {
          try {
            let key: Buffer | null = null;
            if (node.keyFn) key = (node.keySerde ?? jsonKey).serialize(node.keyFn(el.value));
            else if (el.keyBytes) key = node.keySerde ? node.keySerde.serialize(el.key) : el.keyBytes;
            outputs.push({ topic: node.topic, partition: undefined, key, value: node.serde.serialize(el.value), timestamp: el.timestamp, origin: el.origin, edge: undefined });
          } catch (e) {
            fail(el, label, e);
          }
        }
        return [];
      case 'sideOutput':
        return [...elements];
      case 'source':
        return [...elements];
    }
  };

  await deliver(entry, inputs);
  return { outputs, deadLetters };
}

const jsonKey = { name: 'json-key', serialize: (v: unknown): Buffer => Buffer.from(JSON.stringify(v)) };
