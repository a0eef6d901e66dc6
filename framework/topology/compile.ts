/**
 * The topology compiler: a pure function from a plan to stages and topics.
 *
 * Stages are the connected components of the dataflow graph once every keyBy edge is
 * cut: a keyBy node belongs to the stage that computes its input (it writes the
 * internal topic), and the nodes consuming it belong to the next stage (they read it).
 * Everything else is fused into the stage of its input — Flink's operator chaining.
 * All validation happens here, so a bad pipeline fails at build time, naming the stage.
 */
import { ConfigError } from '../errors.js';
import type { KeyByNode, NodeId, Plan, PlanNode, SourceNode } from '../dsl/plan.js';
import { inputsOf } from '../dsl/plan.js';
import type { StateDescriptor } from '../state/descriptors.js';
import { replayTopicName, changelogTopicName, controlTopicName, deadLetterTopicName, feedsEventTime, inputTopicName, joinStateName, lateTopicName, progressTopicName, STAGE_NAME, stageNameFromTopic, taskIdOf, windowStateName } from './names.js';
import { coPartition } from './co-partition.js';
import { joinSpecName, validateJoinSpec } from '../join/spec.js';
import { valueState } from '../state/descriptors.js';
import { validateWindowSpec, windowSpecName } from '../time/window-operator.js';
import type { Stage, StageInput, StageOutput, TopicSpec, Topology } from './topology.js';
import { checkSchemaSerdes } from '../serde/prefetch.js';

/** Lambda's maximum function timeout for Kafka event-source mappings. */
const MAX_FUNCTION_TIMEOUT_MS = 14 * 60_000;

/** Compiles a plan into a validated topology; throws ConfigError naming the stage and field. */
export function compile(userPlan: Plan): Topology {
  // Joins first get the repartitions co-partitioning needs (appended nodes; user node ids stay).
  const plan = coPartition(userPlan);
  const { settings } = plan;
  const nodes = new Map<NodeId, PlanNode>(plan.nodes.map((n) => [n.id, n]));
  checkSettings(plan);
  if (plan.nodes.length === 0) throw new ConfigError(`pipeline "${settings.name}" has no source`, { field: 'source' });

  // Union-find over nodes (ids 0..n-1) and keyBy "ports" (n + keyBy id): the reading side of a keyBy.
  const n = plan.nodes.length;
  const parent = Array.from({ length: 2 * n }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  const join = (a: number, b: number): void => {
    parent[find(a)] = find(b);
  };
  const port = (keyBy: NodeId): number => n + keyBy;

  for (const node of plan.nodes) {
    for (const input of inputsOf(node)) {
      const upstream = nodes.get(input);
      if (!upstream) throw new ConfigError(`node ${describeNode(node)} reads unknown node ${input}`);
      if (node.kind === 'sideOutput' && upstream.kind !== 'process') {
        throw new ConfigError(`sideOutput("${node.tag}") must follow a process() step, not ${upstream.kind}`);
      }
      join(node.id, upstream.kind === 'keyBy' ? port(upstream.id) : upstream.id);
    }
  }

  // Group nodes by component, in creation (= dataflow) order.
  const members = new Map<number, NodeId[]>();
  const ports = new Map<number, NodeId[]>();
  for (const node of plan.nodes) {
    const root = find(node.id);
    members.set(root, [...(members.get(root) ?? []), node.id]);
    if (node.kind === 'keyBy') {
      const pr = find(port(node.id));
      ports.set(pr, [...(ports.get(pr) ?? []), node.id]);
    }
  }
  for (const [pr, keyBys] of ports) {
    if (!members.has(pr)) {
      throw new ConfigError(`${describeNode(nodes.get(keyBys[0]!)!)} leads nowhere`, { field: 'keyBy' }, 'consume the keyed stream (process, aggregate, sink) or remove the keyBy');
    }
  }

  // Name the components.
  const roots = [...members.keys()].sort((a, b) => members.get(a)![0]! - members.get(b)![0]!);
  const stageOf = new Map<number, string>();
  const used = new Set<string>();
  // Explicit names are reserved before any name is derived, so a derived one never takes them.
  const reserved = new Set(plan.stageNames.values());
  let keyedCount = 0;
  for (const root of roots) {
    const ids = members.get(root)!;
    const explicit = new Set<string>();
    for (const id of ids) {
      // A name set on a keyBy node (KeyedStream.stage()) names the keyed stage, handled below.
      const name = nodes.get(id)!.kind === 'keyBy' ? undefined : plan.stageNames.get(id);
      if (name !== undefined) explicit.add(name);
    }
    // .stage() on a KeyedStream right after keyBy names the keyed stage: the keyBy node is in the upstream component.
    for (const keyBy of ports.get(root) ?? []) {
      const name = plan.stageNames.get(keyBy);
      if (name !== undefined) explicit.add(name);
    }
    let name: string;
    if (explicit.size > 1) {
      throw new ConfigError(`one stage was given two names: ${[...explicit].map((s) => `"${s}"`).join(' and ')}`, { stage: [...explicit][0] }, 'call .stage() once per stage');
    } else if (explicit.size === 1) {
      name = [...explicit][0]!;
      if (!STAGE_NAME.test(name)) {
        throw new ConfigError(`stage name "${name}" is not valid`, { stage: name, field: 'stage' }, 'use 1-40 lowercase letters, digits and dashes, starting with a letter');
      }
      if (used.has(name)) throw new ConfigError(`two stages are named "${name}"`, { stage: name, field: 'stage' }, 'stage names must be unique');
    } else {
      const keyBys = ports.get(root);
      if (keyBys) {
        keyedCount += 1;
        const keyName = (nodes.get(keyBys[0]!) as KeyByNode).name;
        name = keyName ? `by-${stageNameFromTopic(keyName)}` : `keyed-${keyedCount}`;
      } else {
        const source = ids.map((id) => nodes.get(id)!).find((x): x is SourceNode => x.kind === 'source');
        name = stageNameFromTopic(source?.topic ?? 'source');
      }
      let unique = name;
      for (let i = 2; used.has(unique) || reserved.has(unique); i += 1) unique = `${name}-${i}`;
      name = unique;
    }
    used.add(name);
    stageOf.set(root, name);
  }
  const stageNameOfNode = (id: NodeId): string => stageOf.get(find(id))!;

  // Build stages.
  const stages: Stage[] = [];
  const topics: TopicSpec[] = [];
  const addTopic = (t: TopicSpec): void => {
    const existing = topics.find((x) => x.name === t.name);
    if (!existing) topics.push(t);
    else if (existing.partitions !== t.partitions) {
      throw new ConfigError(`topic "${t.name}" is used with ${existing.partitions} and ${t.partitions} partitions`, { topic: t.name, field: 'partitions' });
    }
  };

  for (const root of roots) {
    const name = stageOf.get(root)!;
    const ids = members.get(root)!;
    const keyBys = ports.get(root) ?? [];
    const sources = ids.map((id) => nodes.get(id)!).filter((x): x is SourceNode => x.kind === 'source');
    const inputs: StageInput[] = [];
    if (keyBys.length > 0 && sources.length > 0) {
      throw new ConfigError(
        `stage "${name}" mixes source topic(s) ${sources.map((s) => `"${s.topic}"`).join(', ')} with a keyBy input`,
        { stage: name },
        'keyBy the source stream too, then union the keyed streams',
      );
    }
    if (keyBys.length > 0) {
      const first = nodes.get(keyBys[0]!) as KeyByNode;
      const partitions = keyBys.map((k) => (nodes.get(k) as KeyByNode).partitions ?? settings.partitions);
      if (partitions.some((p) => p === undefined)) {
        throw new ConfigError(`partition count missing for the input topic of stage "${name}"`, { stage: name, field: 'partitions' }, 'set keyBy(..., { partitions }) or pipeline(name, { partitions })');
      }
      if (new Set(partitions).size > 1) {
        throw new ConfigError(
          `keyBy nodes feeding stage "${name}" disagree on partitions (${partitions.join(', ')})`,
          { stage: name, field: 'partitions' },
          ids.some((id) => nodes.get(id)!.kind === 'join') ? 'the sides of a join must be written with one partition count: set the same keyBy(..., { partitions }) on both sides' : undefined,
        );
      }
      checkPartitions(partitions[0]!, name);
      const joins = ids.map((id) => nodes.get(id)!).filter((x) => x.kind === 'join');
      for (const k of keyBys.slice(1)) {
        const other = nodes.get(k) as KeyByNode;
        // Co-partitioning: a key must be the same bytes whoever writes it, or murmur2 sends its records
        // to different tasks. Values may differ: each record names its writer (edge header), read with its serde.
        if (other.keySerde.name !== first.keySerde.name) {
          throw new ConfigError(
            `keyBy nodes feeding stage "${name}" write keys with different serdes (${first.keySerde.name} vs ${other.keySerde.name})${joins.length > 0 ? `, so the sides of ${joins.map(describeNode).join(', ')} are not co-partitioned` : ''}`,
            { stage: name, field: 'keySerde' },
            joins.length > 0 ? 'give both sides of the join the same keySerde in their keyBy (one key, one byte form)' : 'use the same keySerde in every keyBy of a keyed union',
          );
        }
      }
      inputs.push({
        topic: inputTopicName(settings.name, name),
        partitions: partitions[0]!,
        kind: 'internal',
        entry: first.id,
        writers: keyBys,
        serde: first.serde,
        keySerde: first.keySerde,
      });
    }
    for (const source of sources) {
      const partitions = source.partitions ?? settings.partitions;
      if (partitions === undefined) {
        throw new ConfigError(`partition count missing for source topic "${source.topic}"`, { stage: name, topic: source.topic, field: 'partitions' }, 'set source(topic, { partitions }) or pipeline(name, { partitions })');
      }
      checkPartitions(partitions, name);
      if (inputs.some((i) => i.topic === source.topic)) {
        throw new ConfigError(`stage "${name}" reads topic "${source.topic}" twice`, { stage: name, topic: source.topic }, 'read it once and fan out from the stream');
      }
      inputs.push({ topic: source.topic, partitions, kind: 'source', entry: source.id, writers: [], serde: source.serde, keySerde: source.keySerde });
      addTopic({ name: source.topic, partitions, role: 'source', managed: false });
    }
    const keyed = inputs.every((i) => i.keySerde !== undefined) && inputs.length > 0 && (keyBys.length > 0 || sources.every((s) => s.keySerde !== undefined));

    const consumers = new Map<NodeId, NodeId[]>();
    const state: StateDescriptor[] = [];
    const outputs: StageOutput[] = [];
    for (const id of ids) {
      const node = nodes.get(id)!;
      consumers.set(id, consumers.get(id) ?? []);
      for (const input of inputsOf(node)) {
        const upstream = nodes.get(input)!;
        const from = upstream.kind === 'keyBy' ? upstream.id : input;
        // Consumers of a keyBy that sit in this stage hang off the keyBy's reading side (the stage input).
        // A self-join reads one node twice: it is delivered each element once and sees it as both sides.
        const list = consumers.get(from) ?? [];
        if (!list.includes(id)) consumers.set(from, [...list, id]);
      }
      if (node.kind === 'window') {
        if (!keyed) throw new ConfigError(`window used in stage "${name}", which is not keyed`, { stage: name }, 'keyBy the stream before window()');
        validateWindowSpec(node.spec, name);
        state.push(valueState(windowStateName(id)));
        outputs.push({ kind: 'late', node: id, topic: node.lateTopic ?? lateTopicName(settings.name, name), toStage: undefined });
      }
      if (node.kind === 'join') {
        if (!keyed) throw new ConfigError(`${describeNode(node)} used in stage "${name}", which is not keyed`, { stage: name }, 'join keyed streams (keyBy both sides) or a keyed stream with a table');
        if (inputs.length !== 1) {
          throw new ConfigError(`${describeNode(node)} in stage "${name}" would read ${inputs.length} topics, so its two sides would be in different tasks`, { stage: name, field: 'join' }, 'keyBy both sides of the join');
        }
        validateJoinSpec(node.spec, name);
        if (node.spec.kind === 'window') validateWindowSpec({ assigner: node.spec.assigner, allowedLatenessMs: node.spec.allowedLatenessMs, fn: { kind: 'process', process: () => [] } }, name);
        const stateName = joinStateName(node);
        if (state.some((d) => d.name === stateName)) {
          throw new ConfigError(`state "${stateName}" is declared twice in stage "${name}"`, { stage: name, field: stateName }, node.spec.kind === 'table' ? 'a table joined twice in one stage needs a second name: table(topic, { name }) or toTable({ name })' : undefined);
        }
        state.push(valueState(stateName));
        if (node.spec.kind !== 'table') outputs.push({ kind: 'late', node: id, topic: node.lateTopic ?? lateTopicName(settings.name, name), toStage: undefined });
      }
      if ((node.kind === 'process' && node.keyed) || node.kind === 'aggregate') {
        if (!keyed) {
          throw new ConfigError(`keyed state used in stage "${name}", which is not keyed`, { stage: name }, 'keyBy the stream before process/aggregate with state');
        }
        for (const d of node.state) {
          if (state.some((s) => s.name === d.name)) {
            throw new ConfigError(`state "${d.name}" is declared twice in stage "${name}"`, { stage: name, field: d.name }, 'state names must be unique within a stage');
          }
          state.push(d);
        }
      }
      if (node.kind === 'sink') {
        outputs.push({ kind: 'sink', node: id, topic: node.topic, toStage: undefined });
      }
      if (node.kind === 'keyBy') {
        const to = stageOf.get(find(port(id)))!;
        if (to === name) {
          throw new ConfigError(
            `stage "${name}" would write its own input: both sides of a join are computed in it and one is repartitioned back into it`,
            { stage: name, field: 'keyBy' },
            'join the keyed streams right after their keyBy (map after the join instead of before it)',
          );
        }
        outputs.push({ kind: 'repartition', node: id, topic: inputTopicName(settings.name, to), toStage: to });
      }
    }
    if (outputs.every((o) => o.kind === 'late')) {
      throw new ConfigError(`stage "${name}" writes nothing`, { stage: name }, 'end every branch with sink() or keyBy()');
    }
    stages.push({
      name,
      keyed,
      inputs,
      nodes: ids,
      consumers,
      outputs,
      controlTopic: controlTopicName(settings.name, name),
      deadLetterTopic: deadLetterTopicName(settings.name, name),
      state,
      upstream: [...new Set(keyBys.map((k) => stageNameOfNode(k)))],
      downstream: [...new Set(outputs.filter((o) => o.toStage).map((o) => o.toStage!))],
      upstreamTasks: [],
      eventTime: ids.some((id) => {
        const n = nodes.get(id)!;
        return n.kind === 'window' || (n.kind === 'process' && n.onTimer !== undefined) || (n.kind === 'join' && n.spec.kind !== 'table');
      }),
    });
  }
  // Upstream tasks need every stage's inputs, so they are filled in once all stages exist. A stage
  // that only writes a table's changes here takes no part in this stage's event time.
  for (const [i, stage] of stages.entries()) {
    const upstreamTasks = stage.upstream.filter((u) => feedsEventTime({ nodes, stages }, u, stage.name)).flatMap((u) => {
      const up = stages.find((s) => s.name === u)!;
      return up.inputs.flatMap((input) => Array.from({ length: input.partitions }, (_, p) => taskIdOf(up.name, up.inputs.length, input.topic, p)));
    });
    stages[i] = { ...stage, upstreamTasks };
  }

  for (const stage of stages) {
    const partitions = Math.max(...stage.inputs.map((i) => i.partitions));
    for (const input of stage.inputs) if (input.kind === 'internal') addTopic({ name: input.topic, partitions: input.partitions, role: 'internal', managed: true });
    addTopic({ name: stage.controlTopic, partitions, role: 'control', managed: true });
    addTopic({ name: stage.deadLetterTopic, partitions: 1, role: 'dead-letter', managed: true });
    addTopic({ name: replayTopicName(settings.name, stage.name), partitions: 1, role: 'dead-letter', managed: true });
    for (const out of stage.outputs) if (out.kind === 'late') addTopic({ name: out.topic, partitions: 1, role: 'late', managed: out.topic === lateTopicName(settings.name, stage.name) });
    if (settings.commit === 'changelog') {
      for (const input of stage.inputs) addTopic({ name: changelogTopicName(settings.name, stage.name, stage.inputs.length, input.topic), partitions: input.partitions, role: 'changelog', managed: true });
    }
  }
  const progressTopic = progressTopicName(settings.name);
  for (const stage of stages) {
    for (const out of stage.outputs) {
      if (out.kind !== 'sink') continue;
      // The progress topic is listed last, but a sink must not write into it either.
      const clash = out.topic === progressTopic ? { role: 'progress' } : topics.find((t) => t.name === out.topic && t.role !== 'sink');
      if (clash) {
        throw new ConfigError(`stage "${stage.name}" sinks to "${out.topic}", which is ${/^[aeiou]/.test(clash.role) ? 'an' : 'a'} ${clash.role} topic of this pipeline`, { stage: stage.name, topic: out.topic }, 'sink to a topic the pipeline does not read or manage');
      }
      if (!topics.some((t) => t.name === out.topic)) topics.push({ name: out.topic, partitions: settings.partitions ?? 1, role: 'sink', managed: false });
    }
  }
  const progressPartitions = Math.max(1, ...stages.flatMap((s) => s.inputs.map((i) => i.partitions)));
  addTopic({ name: progressTopic, partitions: progressPartitions, role: 'progress', managed: true });

  checkSchemaSerdes(stages, nodes);
  return { app: settings.name, settings, nodes, stages, topics, progressTopic };
}

function checkSettings(plan: Plan): void {
  const s = plan.settings;
  if (s.partitions !== undefined) checkPartitions(s.partitions, undefined);
  if (s.functionTimeoutMs <= 0 || s.functionTimeoutMs > MAX_FUNCTION_TIMEOUT_MS) {
    throw new ConfigError(`functionTimeout ${s.functionTimeoutMs} ms is out of range`, { field: 'functionTimeout' }, 'Lambda allows at most 14 minutes for Kafka triggers');
  }
  if (s.mode === 'exactly-once' && s.transactionTimeoutMs <= s.functionTimeoutMs) {
    throw new ConfigError(
      `transactionTimeout (${s.transactionTimeoutMs} ms) must exceed functionTimeout (${s.functionTimeoutMs} ms)`,
      { field: 'transactionTimeout' },
      'a Kafka transaction must outlive the invocation that opened it, or the broker aborts it mid-commit',
    );
  }
  if (s.transactionTimeoutMs > 15 * 60_000) {
    throw new ConfigError(`transactionTimeout ${s.transactionTimeoutMs} ms exceeds the broker default transaction.max.timeout.ms (15 minutes)`, { field: 'transactionTimeout' });
  }
}

function checkPartitions(p: number, stage: string | undefined): void {
  if (!Number.isInteger(p) || p < 1 || p > 10_000) {
    throw new ConfigError(`partition count ${p} is not valid`, { stage, field: 'partitions' }, 'use an integer from 1 to 10000');
  }
}

/** Short label of a node for messages and descriptions. */
export function describeNode(node: PlanNode): string {
  switch (node.kind) {
    case 'source':
      return `source(${node.topic})`;
    case 'keyBy':
      if (node.keepKey) return node.changelog ? 'repartition(table changes)' : 'repartition(same key)';
      return node.name ? `keyBy(${node.name})` : 'keyBy';
    case 'sink':
      return `sink(${node.topic})`;
    case 'sideOutput':
      return `sideOutput(${node.tag})`;
    case 'aggregate':
      return `aggregate(${node.aggregate.name})`;
    case 'window':
      return `window(${windowSpecName(node.spec)})`;
    case 'process':
      return node.state.length > 0 ? `process[${node.state.map((d) => d.name).join(',')}]` : 'process';
    case 'mapAsync':
      return `mapAsync(${node.concurrency})`;
    case 'join':
      return joinSpecName(node.spec);
    default:
      return node.kind;
  }
}
