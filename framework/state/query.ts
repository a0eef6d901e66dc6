/**
 * Queryable state: reads a key's committed state from outside the pipeline (dashboards, APIs,
 * tests), honouring the committed/staged rule, so a reader never sees a value whose batch
 * was not (or will never be) committed.
 *
 * Why reading the item and then its task's checkpoint is consistent: a staged value tagged
 * `ss` counts only once the checkpoint says batch `ss` was confirmed; if the checkpoint is read
 * later than the item it can only know more, and a batch it calls confirmed was committed. Read
 * earlier, it may call a newer staged value uncommitted, and then `v` (the value that batch
 * started from) is a committed value too; so with a known task both reads run in parallel.
 */
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { checkpointKey, decodeCheckpoint, decodeStateItem, keyAttributes, resolveCommitted, stateItemKey, type CommitView } from '../dynamodb/layout.js';

/** Where the state lives. */
export interface StateQueryTarget {
  readonly client: DynamoDBClient;
  readonly table: string;
  readonly app: string;
  readonly stage: string;
  /** The task owning the key (`<stage>.<partition>`), if known; otherwise taken from the item. */
  readonly taskId?: string;
  /** Clock for expiry, epoch ms; default Date.now. */
  readonly now?: () => number;
}

/** The committed bytes of one state of one key (strongly consistent reads), or undefined if absent or expired. */
export async function readCommittedState(target: StateQueryTarget, key: Buffer, stateName: string): Promise<Buffer | undefined> {
  const { client, table, app, stage } = target;
  const readCheckpoint = (taskId: string) =>
    client
      .send(new GetItemCommand({ TableName: table, Key: keyAttributes(checkpointKey(app, taskId)), ConsistentRead: true }))
      .then((out) => decodeCheckpoint(out.Item));
  const [got, known] = await Promise.all([
    client.send(new GetItemCommand({ TableName: table, Key: keyAttributes(stateItemKey(app, stage, key, stateName)), ConsistentRead: true })),
    target.taskId === undefined ? undefined : readCheckpoint(target.taskId),
  ]);
  if (got.Item === undefined) return undefined;
  const item = decodeStateItem(got.Item);
  // Nothing staged: `v` is committed whatever the checkpoint says, so no checkpoint is needed.
  const checkpoint: CommitView = item.ss === undefined ? { committedSeq: 0, holes: [] } : (known ?? (await readCheckpoint(item.p ?? '')));
  return resolveCommitted(item, checkpoint, (target.now ?? Date.now)())?.bytes;
}
