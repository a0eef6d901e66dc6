/** The stages and tasks an operations command names, checked against the topology. */
import type { TaskRef } from '../commit/ports.js';
import { taskRef } from '../runtime/task.js';
import type { Stage, Topology } from '../topology/topology.js';
import { OpsError } from './errors.js';

/** The stage called `name`; OpsError listing the stages otherwise. */
export function requireStage(topology: Topology, name: string): Stage {
  const stage = topology.stages.find((s) => s.name === name);
  if (!stage) {
    throw new OpsError(
      'SLUICE_OPS_UNKNOWN_STAGE',
      `pipeline "${topology.app}" has no stage "${name}"`,
      { stage: name },
      `stages: ${topology.stages.map((s) => s.name).join(', ')}`,
    );
  }
  return stage;
}

/** Every task of a stage: each input topic × each of its partitions, in that order. */
export function stageTasks(topology: Topology, stage: Stage): TaskRef[] {
  return stage.inputs.flatMap((input) => Array.from({ length: input.partitions }, (_, p) => taskRef(topology, stage, input.topic, p)));
}
