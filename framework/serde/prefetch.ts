/**
 * The asynchronous step before a batch is decoded: every schema-registry serde a stage uses
 * fetches the writer schemas its records name and looks up (or registers) the schema it
 * writes with, so the synchronous operator chain never waits for a registry. Called once per
 * invocation by the stage handler; a registry that cannot answer throws, failing the
 * invocation (Lambda retries it) before anything is processed or committed.
 *
 * Also: the build-time check of every schema serde's use (from compile), and the registries a
 * stage reads or writes through (for IAM).
 */
import type { NodeId, PlanNode } from '../dsl/plan.js';
import type { PartitionBatch } from '../record/record.js';
import type { Stage, Topology } from '../topology/topology.js';
import type { SchemaRegistry, SchemaUse } from './registry/registry.js';
import type { Serde } from './serde.js';

/** One place a stage reads or writes through a serde. */
export interface SerdeUse {
  readonly serde: Serde<unknown>;
  readonly use: SchemaUse;
  readonly direction: 'read' | 'write';
}

/** Every serde a stage reads its inputs or writes its outputs with (sinks and repartitions). */
export function serdeUsesOf(stage: Stage, nodes: ReadonlyMap<NodeId, PlanNode>): SerdeUse[] {
  const out: SerdeUse[] = [];
  const add = (serde: Serde<unknown> | undefined, topic: string, role: 'key' | 'value', direction: 'read' | 'write'): void => {
    if (serde) out.push({ serde, use: { stage: stage.name, topic, role }, direction });
  };
  for (const input of stage.inputs) {
    add(input.serde, input.topic, 'value', 'read');
    add(input.keySerde, input.topic, 'key', 'read');
    // The writers of an internal topic may write values with different serdes (a join's two sides): each is read with its own.
    for (const w of input.writers) {
      const writer = nodes.get(w);
      if (writer?.kind === 'keyBy' && writer.serde !== input.serde) add(writer.serde, input.topic, 'value', 'read');
    }
  }
  for (const id of stage.nodes) {
    const node = nodes.get(id);
    if (node?.kind === 'sink') {
      add(node.serde, node.topic, 'value', 'write');
      add(node.keySerde, node.topic, 'key', 'write');
    } else if (node?.kind === 'keyBy') {
      const output = stage.outputs.find((o) => o.node === id);
      if (output) {
        add(node.serde, output.topic, 'value', 'write');
        add(node.keySerde, output.topic, 'key', 'write');
      }
    }
  }
  return out;
}

/** Checks every schema serde of every stage fits its use; throws ConfigError naming stage, topic and field. */
export function checkSchemaSerdes(stages: readonly Stage[], nodes: ReadonlyMap<NodeId, PlanNode>): void {
  for (const stage of stages) {
    for (const u of serdeUsesOf(stage, nodes)) u.serde.schemas?.check(u.use, u.direction);
  }
}

/** The registries a stage reads through and writes through (for least-privilege IAM). */
export function registriesOf(topology: Topology, stage: Stage): { read: SchemaRegistry[]; write: SchemaRegistry[] } {
  const read = new Set<SchemaRegistry>();
  const write = new Set<SchemaRegistry>();
  for (const u of serdeUsesOf(stage, topology.nodes)) {
    const registry = u.serde.schemas?.registry;
    if (registry) (u.direction === 'read' ? read : write).add(registry);
  }
  return { read: [...read], write: [...write] };
}

const usesByStage = new WeakMap<Stage, SerdeUse[]>();

/** Fetches what the stage's schema serdes need for these batches; a no-op for stages without one. */
export async function prefetchSchemas(topology: Topology, stage: Stage, batches: readonly PartitionBatch[]): Promise<void> {
  let uses = usesByStage.get(stage);
  if (!uses) {
    uses = serdeUsesOf(stage, topology.nodes).filter((u) => u.serde.schemas !== undefined);
    usesByStage.set(stage, uses);
  }
  if (uses.length === 0) return;
  const work: Promise<void>[] = [];
  for (const { serde, use, direction } of uses) {
    const hooks = serde.schemas!;
    if (direction === 'write') {
      work.push(hooks.prepareWrite(use));
      continue;
    }
    for (const batch of batches) {
      if (batch.topic !== use.topic) continue;
      const records = batch.records.map((r) =>
        use.role === 'value' ? { bytes: r.value, metadata: r.valueSchemaMetadata } : { bytes: r.key, metadata: r.keySchemaMetadata },
      );
      work.push(hooks.prefetch(records, use));
    }
  }
  await Promise.all(work);
}
