/**
 * A table: the latest value per key of a stream of upserts and tombstones (Kafka Streams' KTable).
 * `pipeline.table(topic)` reads one from a (compacted) topic, `keyed.toTable()` and
 * `keyed.aggregate(fn).toTable()` make one from a stream. A table is not kept where it is defined
 * but where it is joined: the join's stage keeps each key's row as keyed state (`table-<name>`),
 * committed with its batches and readable with `sluice state get`. Its changes reach that stage
 * through the stage's input topic, like a keyed stream's records.
 */
import type { NodeId } from './plan.js';
import type { PlanBuilder } from './plan-builder.js';

/** A keyed table of rows V by key K. */
export class Table<K, V> {
  /** Phantom fields carrying the key and row types; never set. */
  declare readonly __key?: K;
  declare readonly __row?: V;

  /** @internal */
  constructor(
    /** @internal The pipeline it belongs to. */
    readonly builder: PlanBuilder,
    /** @internal The node whose records are the table's changes (value: the new row, or null to delete). */
    readonly nodeId: NodeId,
    /** Names the table's state in the stage that joins it: `table-<name>`. */
    readonly name: string,
  ) {}

  /** Names the stage the table's changes come from (for `pipeline.table`: the stage reading its topic). */
  stage(name: string): this {
    this.builder.nameStage(this.nodeId, name);
    return this;
  }
}

/** Options of a table. */
export interface TableOptions {
  /** Names the table's state (`table-<name>`) where it is joined; default: derived from the topic or the node. */
  readonly name?: string;
}
