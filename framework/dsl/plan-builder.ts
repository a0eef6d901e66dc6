/** Accumulates plan nodes as the DSL is chained; owned by one Pipeline. */
import type { NodeId, Plan, PipelineSettings, PlanNode } from './plan.js';

/** Mutable collector behind the immutable-looking stream handles. */
export class PlanBuilder {
  private readonly nodes: PlanNode[] = [];
  private readonly stageNames = new Map<NodeId, string>();

  constructor(private readonly settings: PipelineSettings) {}

  /** Appends a node, assigning its id. */
  add(node: PlanNode): NodeId {
    const id = this.nodes.length;
    this.nodes.push({ ...node, id });
    return id;
  }

  /** Records an explicit stage name for the stage that computes `node`. */
  nameStage(node: NodeId, name: string): void {
    this.stageNames.set(node, name);
  }

  /** A snapshot of the plan so far. */
  plan(): Plan {
    return { settings: this.settings, nodes: [...this.nodes], stageNames: new Map(this.stageNames) };
  }
}
