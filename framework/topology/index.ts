/** Topology compiler public surface. */
export { compile, describeNode } from './compile.js';
export { describe, describeJson } from './describe.js';
export type { TopologyDescription } from './describe.js';
export type { Stage, StageInput, StageOutput, TopicSpec, Topology } from './topology.js';
export { findStage } from './topology.js';
export { controlTopicName, deadLetterTopicName, inputTopicName, progressTopicName } from './names.js';
