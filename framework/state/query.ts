/**
 * Queryable state: reads a key's committed state from outside the pipeline (dashboards, APIs,
 * tests), honouring the committed/staged rule, so a reader never sees a value whose batch
 * was not (or will never be) committed.
 *
 * Why reading the item and then its task's checkpoint is consistent: a staged value tagged
 * `ss` counts only once the checkpoint says batch `ss` was confirmed; if the checkpoint is read
 * later than the item it can only know more, and a batch it calls confirmed was committed.
 */
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { checkpointKey, decodeCheckpoint, decodeStateItem, keyAttributes, resolveCommitted, stateItemKey } from '../dynamodb/layout.js';

/** Where the state lives. */
export interface StateQueryTarget {
  readonly client: DynamoDBClient;
  readonly table: string;
  readonly app: string;
  readonly stage: string;
  /** Clock for expiry, epoch ms; default Date.now. */
  readonly now?: () => number;
}

/** The committed bytes of one state of one key (strongly consistent reads), or undefined if absent or expired. */
export async function readCommittedState(target: StateQueryTarget, key: Buffer, stateName: string): Promise<Buffer | undefined> {
  const { client, table, app, stage } = target;
  const got = await client.send(
    new GetItemCommand({ TableName: table, Key: keyAttributes(stateItemKey(app, stage, key, stateName)), ConsistentRead: true }),
  );
  if (got.Item === undefined) return undefined;
  const item = decodeStateItem(got.Item);
  // Nothing staged: `v` is committed whatever the checkpoint says; save the second read.
  let checkpoint = { committedSeq: 0, holes: [] as readonly number[] };
  if (item.ss !== undefined && item.p !== undefined) {
    const ckpt = await client.send(
      new GetItemCommand({ TableName: table, Key: keyAttributes(checkpointKey(app, item.p)), ConsistentRead: true }),
    );
    checkpoint = decodeCheckpoint(ckpt.Item);
  }
  return resolveCommitted(item, checkpoint, (target.now ?? Date.now)())?.bytes;
}
