/**
 * A left-to-right layered drawing of a topology for the live local view (pure): stages are boxes,
 * the topics between them labelled edges. Source topics start at a small "source" node on the
 * left, sink and late topics end at a "sink"/"late" node after their writer. A stage's layer is
 * the longest path to it from a source; within a layer nodes are ordered by where their
 * predecessors are (barycentre), which keeps small pipelines free of crossings.
 */
import type { TopologyDescription } from '../../topology/describe.js';

/** What a node stands for. */
export type NodeKind = 'stage' | 'source' | 'sink' | 'late';

/** A placed node; `x`, `y` is its top-left corner. */
export interface LayoutNode {
  readonly id: string;
  readonly kind: NodeKind;
  /** Stage name, or "source"/"sink"/"late" for the ends of external topics. */
  readonly label: string;
  /** The stage this node draws (stage nodes only). */
  readonly stage?: string;
  /** Rows of per-partition figures drawn in the box (stage nodes only). */
  readonly rows: number;
  readonly layer: number;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** A placed edge: one topic from one node to another. */
export interface LayoutEdge {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly topic: string;
  readonly kind: 'source' | 'internal' | 'sink' | 'late';
  /** SVG path data (a cubic Bézier from the source's right side to the target's left side). */
  readonly path: string;
  /** Centre of the label. */
  readonly labelX: number;
  readonly labelY: number;
  readonly labelWidth: number;
}

/** The whole drawing. */
export interface GraphLayout {
  readonly width: number;
  readonly height: number;
  readonly nodes: readonly LayoutNode[];
  readonly edges: readonly LayoutEdge[];
}

/** Sizes the drawing uses (px); the page draws with the same numbers. */
export const LAYOUT = {
  margin: 24,
  /** Width of one character of the 12 px monospace font the page uses, rounded up. */
  charWidth: 7.4,
  /** Wide enough for a partition row: `p0   in 12,345 123.4/s  lag 1,234  wm 12:00:00  dlq 0  idle` at 11 px. */
  stageMinWidth: 420,
  stageHeaderHeight: 70,
  rowHeight: 15,
  /** Partition rows drawn per stage at most; the rest is summarised in one more row. */
  maxRows: 8,
  endWidth: 64,
  endHeight: 28,
  nodeGap: 28,
  minLayerGap: 90,
  labelPadding: 14,
} as const;

interface Draft {
  id: string;
  kind: NodeKind;
  label: string;
  stage?: string;
  rows: number;
  layer: number;
  width: number;
  height: number;
}

interface DraftEdge {
  id: string;
  from: string;
  to: string;
  topic: string;
  kind: LayoutEdge['kind'];
}

/** Lays out the topology `describeJson` returned. */
export function layoutTopology(d: TopologyDescription): GraphLayout {
  const nodes = new Map<string, Draft>();
  const edges: DraftEdge[] = [];
  const addEdge = (from: string, to: string, topic: string, kind: DraftEdge['kind']): void => {
    const id = `${from}->${to}:${topic}`;
    if (!edges.some((e) => e.id === id)) edges.push({ id, from, to, topic, kind });
  };

  // Stage layers: longest path over the repartition edges (the compiled graph is acyclic; the
  // bound keeps a malformed description from looping).
  const layer = new Map(d.stages.map((s) => [s.name, 1]));
  for (let round = 0; round < d.stages.length; round += 1) {
    let changed = false;
    for (const s of d.stages) {
      for (const o of s.outputs) {
        if (o.kind !== 'repartition' || o.toStage === undefined || !layer.has(o.toStage)) continue;
        const want = layer.get(s.name)! + 1;
        if (layer.get(o.toStage)! < want) {
          layer.set(o.toStage, want);
          changed = true;
        }
      }
    }
    if (!changed) break;
  }

  for (const s of d.stages) {
    const partitions = s.inputs.reduce((a, i) => a + i.partitions, 0);
    const rows = Math.min(partitions, LAYOUT.maxRows) + (partitions > LAYOUT.maxRows ? 1 : 0);
    const width = Math.max(LAYOUT.stageMinWidth, Math.ceil((s.name.length + 8) * LAYOUT.charWidth * 1.2) + 24);
    nodes.set(stageId(s.name), { id: stageId(s.name), kind: 'stage', label: s.name, stage: s.name, rows, layer: layer.get(s.name)!, width, height: LAYOUT.stageHeaderHeight + rows * LAYOUT.rowHeight + 10 });
  }
  for (const s of d.stages) {
    for (const i of s.inputs) {
      if (i.kind !== 'source') continue;
      const id = `source:${i.topic}`;
      if (!nodes.has(id)) nodes.set(id, endNode(id, 'source', 0));
      addEdge(id, stageId(s.name), i.topic, 'source');
    }
    for (const o of s.outputs) {
      if (o.kind === 'repartition' && o.toStage !== undefined && nodes.has(stageId(o.toStage))) {
        addEdge(stageId(s.name), stageId(o.toStage), o.topic, 'internal');
      } else if (o.kind === 'sink' || o.kind === 'late') {
        const id = `${o.kind}:${o.topic}`;
        const at = layer.get(s.name)! + 1;
        const existing = nodes.get(id);
        if (!existing) nodes.set(id, endNode(id, o.kind, at));
        else existing.layer = Math.max(existing.layer, at);
        addEdge(stageId(s.name), id, o.topic, o.kind);
      }
    }
  }

  // Order within layers: sources by the first stage they feed; the rest by the mean position of
  // their predecessors, stages before the ends of external topics.
  const layers = new Map<number, Draft[]>();
  for (const n of nodes.values()) layers.set(n.layer, [...(layers.get(n.layer) ?? []), n]);
  const order = new Map<string, number>();
  const stageIndex = new Map(d.stages.map((s, i) => [stageId(s.name), i]));
  const maxLayer = Math.max(0, ...layers.keys());
  for (let l = 0; l <= maxLayer; l += 1) {
    const here = layers.get(l) ?? [];
    const key = (n: Draft): number => {
      if (n.kind === 'source') {
        const firstReader = edges.filter((e) => e.from === n.id).map((e) => stageIndex.get(e.to) ?? 0);
        return Math.min(...firstReader, Number.MAX_SAFE_INTEGER);
      }
      const preds = edges.filter((e) => e.to === n.id).map((e) => order.get(e.from) ?? 0);
      return preds.length > 0 ? preds.reduce((a, b) => a + b, 0) / preds.length : (stageIndex.get(n.id) ?? 0);
    };
    const rank = (n: Draft): number => (n.kind === 'stage' ? 0 : 1);
    here.sort((a, b) => rank(a) - rank(b) || key(a) - key(b) || (stageIndex.get(a.id) ?? 0) - (stageIndex.get(b.id) ?? 0) || a.id.localeCompare(b.id));
    here.forEach((n, i) => order.set(n.id, i));
    layers.set(l, here);
  }

  // Columns: each as wide as its widest node, followed by a gap wide enough for the labels of
  // the edges that leave it.
  const labelWidth = (topic: string): number => Math.ceil(topic.length * LAYOUT.charWidth) + 2 * LAYOUT.labelPadding;
  const columnX: number[] = [];
  let x = LAYOUT.margin;
  for (let l = 0; l <= maxLayer; l += 1) {
    columnX[l] = x;
    const width = Math.max(0, ...(layers.get(l) ?? []).map((n) => n.width));
    const leaving = edges.filter((e) => nodes.get(e.from)!.layer === l).map((e) => labelWidth(e.topic));
    x += width + Math.max(LAYOUT.minLayerGap, ...leaving.map((w) => w + 40));
  }
  const columnHeight = (l: number): number => {
    const here = layers.get(l) ?? [];
    return here.reduce((a, n) => a + n.height, 0) + Math.max(0, here.length - 1) * LAYOUT.nodeGap;
  };
  const innerHeight = Math.max(...Array.from({ length: maxLayer + 1 }, (_, l) => columnHeight(l)), LAYOUT.endHeight);

  const placed = new Map<string, LayoutNode>();
  for (let l = 0; l <= maxLayer; l += 1) {
    const here = layers.get(l) ?? [];
    const colWidth = Math.max(0, ...here.map((n) => n.width));
    let y = LAYOUT.margin + (innerHeight - columnHeight(l)) / 2;
    for (const n of here) {
      // Ends of external topics sit at the column's edge nearest to the stage they attach to.
      const nx = n.kind === 'source' ? columnX[l]! + colWidth - n.width : columnX[l]!;
      placed.set(n.id, { id: n.id, kind: n.kind, label: n.label, ...(n.stage !== undefined ? { stage: n.stage } : {}), rows: n.rows, layer: n.layer, x: round(nx), y: round(y), width: n.width, height: n.height });
      y += n.height + LAYOUT.nodeGap;
    }
  }

  // Ports: a node's outgoing (incoming) edges leave (enter) spread over its right (left) side,
  // in the order of the nodes at their other end.
  const portY = (node: LayoutNode, index: number, count: number): number => node.y + (node.height * (index + 1)) / (count + 1);
  const outs = new Map<string, DraftEdge[]>();
  const ins = new Map<string, DraftEdge[]>();
  for (const e of edges) {
    outs.set(e.from, [...(outs.get(e.from) ?? []), e]);
    ins.set(e.to, [...(ins.get(e.to) ?? []), e]);
  }
  const centreY = (id: string): number => placed.get(id)!.y + placed.get(id)!.height / 2;
  for (const list of outs.values()) list.sort((a, b) => centreY(a.to) - centreY(b.to));
  for (const list of ins.values()) list.sort((a, b) => centreY(a.from) - centreY(b.from));

  const laid = edges.map((e): LayoutEdge => {
    const from = placed.get(e.from)!;
    const to = placed.get(e.to)!;
    const fromList = outs.get(e.from)!;
    const toList = ins.get(e.to)!;
    const x1 = from.x + from.width;
    const y1 = portY(from, fromList.indexOf(e), fromList.length);
    const x2 = to.x;
    const y2 = portY(to, toList.indexOf(e), toList.length);
    const dx = Math.max(40, (x2 - x1) / 2);
    return {
      id: e.id,
      from: e.from,
      to: e.to,
      topic: e.topic,
      kind: e.kind,
      path: `M ${round(x1)} ${round(y1)} C ${round(x1 + dx)} ${round(y1)}, ${round(x2 - dx)} ${round(y2)}, ${round(x2)} ${round(y2)}`,
      labelX: round((x1 + x2) / 2),
      labelY: round((y1 + y2) / 2),
      labelWidth: labelWidth(e.topic),
    };
  });

  const width = Math.max(...[...placed.values()].map((n) => n.x + n.width)) + LAYOUT.margin;
  return { width: Math.ceil(width), height: Math.ceil(innerHeight + 2 * LAYOUT.margin), nodes: [...placed.values()], edges: laid };
}

function stageId(name: string): string {
  return `stage:${name}`;
}

function endNode(id: string, kind: 'source' | 'sink' | 'late', layer: number): Draft {
  return { id, kind, label: kind, rows: 0, layer, width: LAYOUT.endWidth, height: LAYOUT.endHeight };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
