/** Human- and tool-readable views of a topology: `describe()` text and `describeJson()`. */
import { describeNode } from './compile.js';
import type { Topology } from './topology.js';

/** JSON-safe summary of a topology (no functions), for tooling. */
export interface TopologyDescription {
  readonly app: string;
  readonly mode: string;
  readonly stages: ReadonlyArray<{
    readonly name: string;
    readonly keyed: boolean;
    readonly inputs: ReadonlyArray<{ readonly topic: string; readonly partitions: number; readonly kind: string }>;
    readonly operators: readonly string[];
    readonly outputs: ReadonlyArray<{ readonly kind: string; readonly topic: string; readonly toStage?: string }>;
    readonly state: readonly string[];
    readonly controlTopic: string;
    readonly deadLetterTopic: string;
  }>;
  readonly topics: ReadonlyArray<{ readonly name: string; readonly partitions: number; readonly role: string; readonly managed: boolean }>;
}

/** The topology as plain data. */
export function describeJson(topology: Topology): TopologyDescription {
  return {
    app: topology.app,
    mode: topology.settings.mode,
    stages: topology.stages.map((s) => ({
      name: s.name,
      keyed: s.keyed,
      inputs: s.inputs.map((i) => ({ topic: i.topic, partitions: i.partitions, kind: i.kind })),
      operators: s.nodes.map((id) => describeNode(topology.nodes.get(id)!)),
      outputs: s.outputs.map((o) => (o.toStage ? { kind: o.kind, topic: o.topic, toStage: o.toStage } : { kind: o.kind, topic: o.topic })),
      state: s.state.map((d) => `${d.name}:${d.kind}`),
      controlTopic: s.controlTopic,
      deadLetterTopic: s.deadLetterTopic,
    })),
    topics: topology.topics.map((t) => ({ name: t.name, partitions: t.partitions, role: t.role, managed: t.managed })),
  };
}

/** The topology as text, one block per stage. */
export function describe(topology: Topology): string {
  const d = describeJson(topology);
  const lines = [`pipeline ${d.app} (${d.mode}), ${d.stages.length} stage(s)`];
  for (const s of d.stages) {
    lines.push('');
    lines.push(`stage ${s.name}${s.keyed ? ' [keyed]' : ''}`);
    lines.push(`  reads    ${s.inputs.map((i) => `${i.topic} ×${i.partitions}`).join(', ')}`);
    lines.push(`  runs     ${s.operators.join(' → ')}`);
    lines.push(`  writes   ${s.outputs.map((o) => (o.toStage ? `${o.topic} (→ ${o.toStage})` : o.topic)).join(', ')}`);
    if (s.state.length > 0) lines.push(`  state    ${s.state.join(', ')}`);
    lines.push(`  control  ${s.controlTopic}`);
    lines.push(`  dlq      ${s.deadLetterTopic}`);
  }
  lines.push('');
  lines.push('topics');
  for (const t of d.topics) lines.push(`  ${t.name.padEnd(40)} ×${String(t.partitions).padEnd(4)} ${t.role}${t.managed ? '' : ' (external)'}`);
  return lines.join('\n');
}
