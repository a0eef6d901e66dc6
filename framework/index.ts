/** `sluice`: the public entry. Re-exports only; every concept lives in its own folder. */
export { pipeline, Pipeline } from './dsl/pipeline.js';
export type { KeyedSourceOptions, PipelineOptions, SourceOptions, TableSourceOptions } from './dsl/pipeline.js';
export { Table } from './dsl/table.js';
export type { TableOptions } from './dsl/table.js';
export type { IntervalJoinOptions, JoinResult, JoinType, LeftOf, RightOf, SignedDuration, TableJoinOptions, WindowJoinOptions, WindowJoinResult } from './dsl/join.js';
export { Stream, KeyedStream } from './dsl/stream.js';
export type { KeyByOptions, KeyedProcessOptions, KeyedResult, ProcessOptions, SinkOptions, WindowOptions, WindowResult } from './dsl/stream.js';
export { WindowedStream } from './dsl/stream.js';
export { globalWindow, session, sliding, tumbling } from './time/windows.js';
export type { TimeWindow, WindowAssigner } from './time/windows.js';
export { countTrigger, eventTimeTrigger } from './time/triggers.js';
export type { TriggerSpec } from './time/triggers.js';
export { tickerHandler } from './runtime/ticker-handler.js';
export { SimulatedCrash } from './commit/ports.js';
export type { KeyedProcessContext, KeyedProcessFunction, MetricUnitName, OnTimerContext, Origin, ProcessContext, ProcessFunction, RecordContext, StateAccess, TimerService, UserMetrics } from './dsl/context.js';
export { UserMetricError } from './ops/user-metrics.js';
export { outputTag } from './dsl/output-tag.js';
export type { OutputTag } from './dsl/output-tag.js';
export { avg, count, max, min, sum } from './dsl/aggregate.js';
export type { AggregateFunction } from './dsl/aggregate.js';
export { aggregatingState, listState, mapState, reducingState, valueState } from './state/descriptors.js';
export type {
  AggregatingState,
  ListState,
  MapState,
  ReducingState,
  StateDescriptor,
  StateOptions,
  ValueState,
} from './state/descriptors.js';
export { avro, bytes, confluentRegistry, glueRegistry, json, jsonSchema, memoryRegistry, protobuf, RegistryUnavailableError, SCHEMA_ERROR, SerdeError, string } from './serde/index.js';
export type {
  AvroOptions,
  AvroSchema,
  ConfluentAuth,
  ConfluentRegistryOptions,
  GlueRegistryOptions,
  GlueSchemaApi,
  JsonOptions,
  JsonSchemaDocument,
  JsonSchemaOptions,
  MemorySchemaRegistry,
  ProtobufOptions,
  SchemaMetadata,
  SchemaRegistry,
  SchemaSerdeOptions,
  Serde,
  SerdeContext,
  StandardSchemaV1,
  SubjectNaming,
} from './serde/index.js';
export { compile, describe, describeJson, findStage } from './topology/index.js';
export type { Stage, StageInput, StageOutput, TopicSpec, Topology, TopologyDescription } from './topology/index.js';
export { stageHandler, InvocationFailedError } from './runtime/handler.js';
export type { InvocationReport, KafkaHandler, StageHandlerOptions, StagePorts } from './runtime/handler.js';
export type { BacklogProbe } from './time/backlog.js';
export type { TaskRef } from './commit/ports.js';
export type { TaskReport } from './runtime/task.js';
export { RecordFailedError } from './runtime/record-failed.js';
export { UndeclaredStateError } from './state/task-state.js';
export { readState } from './dynamodb/state-query.js';
export type { StateQueryTarget } from './dynamodb/state-query.js';
export { lambdaPorts } from './runtime/lambda-ports.js';
export type { LambdaPortsOptions } from './runtime/lambda-ports.js';
export { decodeEvent, encodeEvent } from './lambda/decode.js';
export type { DecodedEvent } from './lambda/decode.js';
export type { Duration } from './time/duration.js';
export { ConfigError, EventShapeError, SluiceError } from './errors.js';
export type { ErrorPlace } from './errors.js';
