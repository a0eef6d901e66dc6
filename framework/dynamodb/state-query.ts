/**
 * Queryable state: a key's committed state read from outside the pipeline (dashboards, APIs,
 * tools), as the task that owns the key would load it (state/committed.ts): the task's snapshot
 * and its committed batch records, strongly consistent (commit: 'changelog': the snapshot and the
 * changelog records after it, read_committed). A batch that is prepared but not yet
 * committed is never seen. The read loads the owning task's whole state: fine for lookups and
 * tools, not for a serving path with many reads per second (serve those from the pipeline's
 * own output topic or a table it maintains).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoTaskStore } from './task-store.js';
import { ConfigError } from '../errors.js';
import { partitionForKey } from '../record/partitioner.js';
import { changelogOf, taskIdOf } from '../topology/names.js';
import { readLogTask } from '../commit/changelog-protocol.js';
import type { TaskLog } from '../commit/ports.js';
import type { StateEntry } from '../state/codec.js';
import type { Topology } from '../topology/topology.js';
import { stateMapKey } from '../state/task-state.js';

/** Where the state lives. */
export interface StateQueryTarget {
  readonly client: DynamoDBClient;
  readonly table: string;
  readonly topology: Topology;
  /** Clock for expiry, epoch ms; default Date.now. */
  readonly now?: () => number;
  /** The changelog reader: needed for a pipeline with commit: 'changelog' (its tasks are their snapshot plus the changelog after it). */
  readonly log?: TaskLog;
}

/** The committed bytes of state `name` of `key` in `stage`, or undefined if absent or expired. */
export async function readState(target: StateQueryTarget, stageName: string, key: Buffer, name: string): Promise<Buffer | undefined> {
  const stage = target.topology.stages.find((s) => s.name === stageName);
  if (!stage) throw new ConfigError(`pipeline "${target.topology.app}" has no stage "${stageName}"`, { stage: stageName }, `stages: ${target.topology.stages.map((s) => s.name).join(', ')}`);
  const store = new DynamoTaskStore(target.client, target.table, target.now ? { now: target.now } : {});
  const changelog = target.topology.settings.commit === 'changelog';
  if (changelog && !target.log) {
    throw new ConfigError(`pipeline "${target.topology.app}" commits through a changelog: reading its state needs the changelog reader`, { field: 'log' }, 'pass { log: new KafkajsChangelogReader(kafka) } (sluice state get does)');
  }
  const wanted = stateMapKey(key, name);
  // The key's partition of each input (a keyed stage's inputs are partitioned alike): its task holds it.
  for (const input of stage.inputs) {
    const partition = partitionForKey(key, input.partitions);
    const task = { app: target.topology.app, stage: stage.name, topic: input.topic, partition, id: taskIdOf(stage.name, stage.inputs.length, input.topic, partition) };
    let entries: readonly StateEntry[];
    if (changelog) {
      entries = (await readLogTask(store, target.log!, task, changelogOf(target.topology, task), (target.now ?? Date.now)())).entries;
    } else {
      const { checkpoint } = await store.read(task);
      if (checkpoint.version === 0) continue;
      entries = (await store.load(task, checkpoint)).entries;
    }
    const entry = entries.find((e) => stateMapKey(e.key, e.name) === wanted);
    if (entry?.value) return entry.value.bytes;
  }
  return undefined;
}
