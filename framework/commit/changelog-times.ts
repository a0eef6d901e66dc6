/**
 * The ticker's reader of task event times (time/ticker.ts TaskTimesReader) for pipelines that
 * commit through a changelog: a task's DynamoDB checkpoint holds its event time only as of its last
 * snapshot, so each task's view is its checkpoint folded with the changelog records after it (the
 * same fold a cold start does, without the state's changes being decoded into a state). A pass
 * reads each ticked task's checkpoint (one GetItem) and its changelog since the snapshot (a few
 * fetches at most: a snapshot follows at the latest every `everyBatches` batches).
 */
import type { TaskTimesReader } from '../time/ticker.js';
import type { TimeState } from '../time/watermark.js';
import { changelogOf } from '../topology/names.js';
import type { Topology } from '../topology/topology.js';
import { readFromCheckpoint } from './changelog-protocol.js';
import type { TaskLog, TaskRef, TaskStore } from './ports.js';

/** Event times of tasks from their snapshots and changelogs. */
export class ChangelogTimesReader implements TaskTimesReader {
  constructor(
    private readonly store: Pick<TaskStore, 'readCheckpoint'>,
    private readonly log: TaskLog,
    private readonly topology: Topology,
  ) {}

  async readTimes(tasks: readonly TaskRef[]): Promise<ReadonlyMap<string, TimeState>> {
    const out = new Map<string, TimeState>();
    await Promise.all(
      tasks.map(async (task) => {
        // Only the header of each record is needed; folding decodes the changes too, which a tick pass can afford.
        const { read } = await readFromCheckpoint(this.store, this.log, task, changelogOf(this.topology, task));
        if (read.view.committedSeq > 0) out.set(task.id, read.view.time);
      }),
    );
    return out;
  }
}

/** The ticker's reader for `topology`: the checkpoints' times, or (changelog protocol) the changelogs'. */
export function taskTimesReader(topology: Topology, store: TaskStore & TaskTimesReader, log: () => TaskLog): TaskTimesReader {
  return topology.settings.commit === 'changelog' ? new ChangelogTimesReader(store, log(), topology) : store;
}
