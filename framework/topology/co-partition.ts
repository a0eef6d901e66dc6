/**
 * Co-partitioning for joins: a pure rewrite of the plan that compile() runs before it cuts the plan
 * into stages. A join needs every record of a key, from both sides, in one task, and a task reads
 * one input topic: so both sides must arrive through the same topic, written with the same key
 * bytes, partition count and partitioner (murmur2, as every keyBy writes).
 *
 * A side that is a keyBy writes the join's stage input itself. A side computed in a stage that reads
 * only internal topics is fused with the join (its stage becomes the join's stage, and the other
 * side is written into its input). A side computed in a stage that reads a source topic (a table's
 * topic, a keyed source, or a stream keyed there) can join there only if the other side is in that
 * same stage; otherwise the compiler inserts a repartition: a keyBy that keeps each record's key,
 * re-serialised with the join's key serde, into the join's stage. Whatever still disagrees (two
 * keyBys with different key serdes or partition counts) fails in compile() with a ConfigError.
 */
import type { JoinNode, KeyByNode, NodeId, Plan, PlanNode } from '../dsl/plan.js';
import { inputsOf } from '../dsl/plan.js';
import { json } from '../serde/index.js';
import type { Serde } from '../serde/serde.js';

/** The plan with a repartition inserted in front of every join side that needs one (appended nodes: ids of user nodes do not change). */
export function coPartition(plan: Plan): Plan {
  let nodes = [...plan.nodes];
  for (const join of plan.nodes.filter((n): n is JoinNode => n.kind === 'join')) {
    const current = nodes.find((n) => n.id === join.id) as JoinNode;
    const inserted = insertionsFor(nodes, current, plan.settings.partitions);
    if (inserted.length === 0) continue;
    let rewired: JoinNode = current;
    for (const { side, node } of inserted) {
      nodes.push(node);
      rewired = { ...rewired, [side]: node.id };
    }
    nodes = nodes.map((n) => (n.id === join.id ? rewired : n));
  }
  return nodes.length === plan.nodes.length ? plan : { ...plan, nodes };
}

/** The repartitions a join needs (none, one or two), with ids after the last node; the left side's first. */
function insertionsFor(nodes: readonly PlanNode[], join: JoinNode, defaultPartitions: number | undefined): Array<{ side: 'left' | 'right'; node: KeyByNode }> {
  if (join.left === join.right) return []; // a self-join: both sides are one stream, already in one task
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const parts = components(nodes, join.id);
  const sideComp = (side: NodeId): number => (byId.get(side)!.kind === 'keyBy' ? parts.portOf(side) : parts.of(side));
  const comps = new Set([sideComp(join.left), sideComp(join.right), parts.of(join.id)]);
  const sources = new Set([...comps].flatMap((c) => parts.sources(c)));
  const ports = [...comps].flatMap((c) => parts.ports(c));
  if (sources.size === 0 || (sources.size === 1 && ports.length === 0)) return [];

  // Sides computed in a stage that reads a source topic get a repartition; keyBy sides and sides in internal stages are already fine.
  const needy = (['left', 'right'] as const).filter((side) => byId.get(join[side])!.kind !== 'keyBy' && parts.sources(sideComp(join[side])).length > 0);
  const writer = ports.map((p) => byId.get(p) as KeyByNode)[0];
  const keySerde = writer?.keySerde ?? keySerdeOf(byId, join.left) ?? json();
  let nextId = Math.max(...nodes.map((n) => n.id)) + 1;
  return needy.map((side) => {
    const source = parts.sources(sideComp(join[side])).map((s) => byId.get(s)!).find((n) => n.kind === 'source');
    const partitions = writer?.partitions ?? defaultPartitions ?? (source?.kind === 'source' ? source.partitions : undefined);
    const node: KeyByNode = {
      kind: 'keyBy',
      id: nextId++,
      input: join[side],
      keyFn: (v: unknown) => v,
      keySerde,
      serde: json(),
      partitions,
      name: undefined,
      keepKey: true,
      ...(join.spec.kind === 'table' && side === 'right' ? { changelog: true } : {}),
    };
    return { side, node };
  });
}

/** The key serde a node's records are keyed with: of the keyBy or keyed source it descends from (first inputs first). */
function keySerdeOf(byId: ReadonlyMap<NodeId, PlanNode>, id: NodeId): Serde<unknown> | undefined {
  for (let node = byId.get(id); node; node = byId.get(inputsOf(node)[0] ?? -1)) {
    if (node.kind === 'keyBy') return node.keySerde;
    if (node.kind === 'source') return node.keySerde;
  }
  return undefined;
}

/**
 * Stages as compile() would cut them before `join` and the joins after it merged their sides:
 * union-find over nodes and keyBy ports (the reading side of a keyBy), every node joined with its
 * inputs except those joins (earlier joins are already placed, so they merge their sides as they will).
 */
function components(nodes: readonly PlanNode[], join: NodeId): { of(id: NodeId): number; portOf(keyBy: NodeId): number; sources(c: number): NodeId[]; ports(c: number): NodeId[] } {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const n = nodes.length;
  const parent = Array.from({ length: 2 * n }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) x = parent[x] = parent[parent[x]!]!;
    return x;
  };
  const at = (id: NodeId): number => index.get(id)!;
  const port = (id: NodeId): number => n + at(id);
  for (const node of nodes) {
    if (node.kind === 'join' && node.id >= join) continue;
    for (const input of inputsOf(node)) {
      const upstream = nodes[at(input)]!;
      parent[find(at(node.id))] = find(upstream.kind === 'keyBy' ? port(input) : at(input));
    }
  }
  return {
    of: (id) => find(at(id)),
    portOf: (id) => find(port(id)),
    sources: (c) => nodes.filter((x) => x.kind === 'source' && find(at(x.id)) === c).map((x) => x.id),
    ports: (c) => nodes.filter((x) => x.kind === 'keyBy' && find(port(x.id)) === c).map((x) => x.id),
  };
}
