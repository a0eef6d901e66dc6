/**
 * The operations tools' access to a stage's items in the app's table (layout in
 * dynamodb/layout.ts): checkpoints read and written whole, state and timer items listed,
 * put and deleted. Every checkpoint write is conditional on the version read and bumps it,
 * like the runtime's, so a tool never overwrites a batch it did not see, and a warm container
 * that cached state before the tool ran drops its cache (its version no longer matches).
 */
import {
  BatchWriteItemCommand,
  GetItemCommand,
  QueryCommand,
  ScanCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type AttributeValue,
  type DynamoDBClient,
  type TransactWriteItem,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Checkpoint, TaskRef } from '../commit/ports.js';
import { checkpointKey, decodeCheckpoint, keyAttributes, stateItemKey, timerPartitionKey, type Item, type ItemKey } from '../dynamodb/layout.js';
import { OpsError } from './errors.js';
import { describe } from './target.js';

/** The table a tool reads and writes. */
export interface TableRef {
  readonly client: DynamoDBClient;
  readonly table: string;
}

/** A task's checkpoint as stored. */
export interface StoredCheckpoint {
  readonly task: TaskRef;
  /** false: the task never wrote a checkpoint (version 0). */
  readonly exists: boolean;
  readonly checkpoint: Checkpoint;
  /**
   * When the pending batch was prepared, epoch ms: the `since` attribute of `pending`, which
   * the runtime records once wired (docs/operations.md); undefined when absent.
   */
  readonly pendingSince: number | undefined;
}

const PARALLEL = 8;
const MAX_TRANSACT_ITEMS = 100;
const MAX_BATCH_WRITE = 25;
const MAX_ATTEMPTS = 8;

/** Reads the checkpoints of `tasks` (strongly consistent), in the same order. */
export async function readCheckpoints(t: TableRef, tasks: readonly TaskRef[]): Promise<StoredCheckpoint[]> {
  const out: StoredCheckpoint[] = [];
  for (let i = 0; i < tasks.length; i += PARALLEL) {
    const wave = tasks.slice(i, i + PARALLEL);
    out.push(
      ...(await Promise.all(
        wave.map(async (task) => {
          const got = await call('GetItem', () =>
            t.client.send(new GetItemCommand({ TableName: t.table, Key: keyAttributes(checkpointKey(task.app, task.id)), ConsistentRead: true })),
          );
          return { task, exists: got.Item !== undefined, checkpoint: decodeCheckpoint(got.Item), pendingSince: pendingSinceOf(got.Item) };
        }),
      )),
    );
  }
  return out;
}

/** `pending.since` of a raw checkpoint item, epoch ms (pure). */
export function pendingSinceOf(item: Item | undefined): number | undefined {
  const since = item?.['pending']?.M?.['since']?.N;
  return since === undefined ? undefined : Number(since);
}

/** Throws OpsError naming every task with a pending (in-doubt) batch. */
export function assertNoPending(stored: readonly StoredCheckpoint[], stage: string, doing: string): void {
  const pending = stored.filter((s) => s.checkpoint.pending !== undefined);
  if (pending.length === 0) return;
  const first = pending[0]!;
  throw new OpsError(
    'SLUICE_OPS_PENDING',
    `cannot ${doing}: ${pending.map((s) => `task ${s.task.id} has pending batch ${s.checkpoint.pending!.seq}`).join(', ')}`,
    { stage, topic: first.task.topic, partition: first.task.partition },
    'a pending batch is resolved by the next invocation of its task (recovery); let the stage run until `sluice status` shows no pending batch, then retry',
  );
}

/** Partition-key prefix of every state item of a stage. */
export function stateKeyPrefix(app: string, stage: string): string {
  // The key function with an empty key is exactly the prefix every key of the stage extends.
  return stateItemKey(app, stage, Buffer.alloc(0), 'prefix').pk;
}

/** Every state item of a stage (a filtered, strongly consistent Scan of the table, paged). */
export function scanStateItems(t: TableRef, app: string, stage: string): Promise<Item[]> {
  return allPages('Scan', (start) =>
    t.client.send(
      new ScanCommand({
        TableName: t.table,
        FilterExpression: 'begins_with(pk, :prefix)',
        ExpressionAttributeValues: { ':prefix': { S: stateKeyPrefix(app, stage) } },
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    ),
  );
}

/** Every timer item of a task (one Query on its timer partition, paged). */
export function queryTimerItems(t: TableRef, app: string, taskId: string): Promise<Item[]> {
  return allPages('Query', (start) =>
    t.client.send(
      new QueryCommand({
        TableName: t.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: timerPartitionKey(app, taskId) } },
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    ),
  );
}

/** Follows LastEvaluatedKey until a Scan or Query has returned every page. */
async function allPages(
  op: string,
  page: (start: Record<string, AttributeValue> | undefined) => Promise<{ Items?: Item[]; LastEvaluatedKey?: Record<string, AttributeValue> }>,
): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const out = await call(op, () => page(start));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/** The key of a raw item. */
export function itemKeyOf(item: Item): ItemKey {
  return { pk: item['pk']?.S ?? '', sk: item['sk']?.S ?? '' };
}

/** Deletes items (BatchWriteItem, 25 at a time, unprocessed ones retried). Returns how many. */
export async function deleteItems(t: TableRef, keys: readonly ItemKey[], onProgress?: ItemProgress): Promise<number> {
  await batchWrite(t, keys.map((k) => ({ DeleteRequest: { Key: keyAttributes(k) } })), onProgress);
  return keys.length;
}

/** Puts items (BatchWriteItem, 25 at a time, unprocessed ones retried). Returns how many. */
export async function putItems(t: TableRef, items: readonly Item[], onProgress?: ItemProgress): Promise<number> {
  await batchWrite(t, items.map((Item) => ({ PutRequest: { Item } })), onProgress);
  return items.length;
}

/** A whole checkpoint a tool writes (never with a pending batch). */
export interface CheckpointWrite {
  readonly task: TaskRef;
  /** The version read; the write fails if the checkpoint moved since (0 = must not exist). */
  readonly expectedVersion: number;
  readonly committedSeq: number;
  readonly holes: readonly number[];
  readonly nextOffset: number;
  readonly extra: Readonly<Record<string, unknown>>;
}

/**
 * Writes checkpoints, each conditional on its expected version and bumping it, in transactions
 * of up to 100 (all-or-nothing within one). A moved checkpoint is OpsError SLUICE_OPS_CONFLICT.
 */
export async function writeCheckpoints(t: TableRef, writes: readonly CheckpointWrite[], stage: string): Promise<void> {
  for (let i = 0; i < writes.length; i += MAX_TRANSACT_ITEMS) {
    const part = writes.slice(i, i + MAX_TRANSACT_ITEMS);
    const items: TransactWriteItem[] = part.map((w) => ({ Update: checkpointUpdate(t.table, w) }));
    try {
      await t.client.send(new TransactWriteItemsCommand({ TransactItems: items, ClientRequestToken: randomUUID() }));
    } catch (err) {
      if (err instanceof TransactionCanceledException) {
        const moved = (err.CancellationReasons ?? []).flatMap((r, j) => (r.Code === 'ConditionalCheckFailed' ? [part[j]!.task.id] : []));
        if (moved.length > 0) {
          throw new OpsError(
            'SLUICE_OPS_CONFLICT',
            `the checkpoint of ${moved.join(', ')} changed while the command ran${i > 0 ? ` (the first ${i} checkpoints were already written)` : ''}`,
            { stage },
            'the stage is running: disable its triggers (event-source mappings) and run the command again',
            { cause: err },
          );
        }
      }
      throw dynamoError('TransactWriteItems', err);
    }
  }
}

function checkpointUpdate(table: string, w: CheckpointWrite): NonNullable<TransactWriteItem['Update']> {
  const values: Record<string, AttributeValue> = {
    ':version': { N: String(w.expectedVersion + 1) },
    ':committedSeq': { N: String(w.committedSeq) },
    ':holes': { L: w.holes.map((h) => ({ N: String(h) })) },
    ':nextOffset': { N: String(w.nextOffset) },
    ':extra': { S: JSON.stringify(w.extra) },
    ':w': { S: `ops-${randomUUID()}` },
  };
  const names: Record<string, string> = {
    '#version': 'version',
    '#committedSeq': 'committedSeq',
    '#holes': 'holes',
    '#nextOffset': 'nextOffset',
    '#extra': 'extra',
    '#w': 'w',
    '#pk': 'pk',
  };
  let condition = 'attribute_not_exists(#pk)';
  if (w.expectedVersion > 0) {
    condition = '#version = :expected';
    values[':expected'] = { N: String(w.expectedVersion) };
    delete names['#pk'];
  }
  return {
    TableName: table,
    Key: keyAttributes(checkpointKey(w.task.app, w.task.id)),
    UpdateExpression: 'SET #version = :version, #committedSeq = :committedSeq, #holes = :holes, #nextOffset = :nextOffset, #extra = :extra, #w = :w',
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** Reports how many of a long write's items are done. */
export type ItemProgress = (done: number, total: number) => void;

async function batchWrite(t: TableRef, requests: readonly WriteRequest[], onProgress?: ItemProgress): Promise<void> {
  for (let i = 0; i < requests.length; i += MAX_BATCH_WRITE) {
    onProgress?.(i, requests.length);
    let pending: WriteRequest[] = requests.slice(i, i + MAX_BATCH_WRITE);
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > MAX_ATTEMPTS) {
        throw new OpsError('SLUICE_OPS_STATE', `DynamoDB left ${pending.length} items unwritten after ${MAX_ATTEMPTS} attempts`, {}, 'the table is throttled: retry the command later (it is safe to repeat)');
      }
      if (attempt > 1) await sleep(Math.min(2_000, 25 * 2 ** attempt));
      const batch = pending;
      const out = await call('BatchWriteItem', () => t.client.send(new BatchWriteItemCommand({ RequestItems: { [t.table]: batch } })));
      pending = out.UnprocessedItems?.[t.table] ?? [];
    }
  }
  onProgress?.(requests.length, requests.length);
}

async function call<T>(op: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw dynamoError(op, err);
  }
}

function dynamoError(op: string, err: unknown): OpsError {
  if (err instanceof OpsError) return err;
  return new OpsError('SLUICE_OPS_STATE', `DynamoDB ${op} failed: ${describe(err)}`, {}, 'check the table and endpoint (`sluice status` checks both); the command is safe to repeat', { cause: err });
}
