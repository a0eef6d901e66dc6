/**
 * The DynamoDB CheckpointStore: checkpoints and staged state in the app's single table
 * (layout.ts). Invariant kept: every checkpoint write is conditional on the version the writer
 * read and bumps it by one; every state write is in a transaction with that condition (or, for
 * a prepare too large for one transaction, with a ConditionCheck on the version its claim set),
 * so an invocation that lost the task can never change what the winner reads as committed.
 */
import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  GetItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type ConsumedCapacity,
  type DynamoDBClient,
  type KeysAndAttributes,
  type TransactWriteItem,
  type Update,
} from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError } from '../errors.js';
import {
  CheckpointConflict,
  type Checkpoint,
  type CheckpointStore,
  type Pending,
  type StateKey,
  type StateValue,
  type StateWrite,
  type TaskRef,
  type TimerEntry,
  type TimerRef,
} from '../commit/ports.js';
import {
  checkpointKey,
  decodeCheckpoint,
  decodeStateItem,
  encodePending,
  encodeStateItem,
  itemSize,
  keyAttributes,
  resolveCommitted,
  stateItemKey,
  writeItemKey,
  timerPartitionKey,
  timerKindPrefix,
  timerUpperBound,
  parseTimerSortKey,
  stateMapKey,
  type Item,
  type WriteMode,
} from './layout.js';

export { stateMapKey } from './layout.js';

/** The DynamoDB operations the store issues. */
export type DynamoOperation = 'GetItem' | 'BatchGetItem' | 'Query' | 'UpdateItem' | 'TransactWriteItems';

const OPERATIONS: readonly DynamoOperation[] = ['GetItem', 'BatchGetItem', 'Query', 'UpdateItem', 'TransactWriteItems'];

/** Counts DynamoDB requests and consumed capacity units per operation (for benchmarks and tests). */
export class DynamoMetrics {
  /** Requests sent, per operation (each of our own retries counts; the SDK's internal retries do not). */
  readonly requests: Record<DynamoOperation, number> = zeroes();
  /** Capacity units DynamoDB reported consumed, per operation (DynamoDB Local reports a flat 4 per transaction). */
  readonly capacityUnits: Record<DynamoOperation, number> = zeroes();
  /** Capacity units by DynamoDB's pricing rules from the item sizes we sent or got (1 KB writes, 4 KB reads, ×2 in transactions). */
  readonly estimatedCapacityUnits: Record<DynamoOperation, number> = zeroes();

  /** Records one request, the capacity DynamoDB reported and our estimate of it. */
  record(op: DynamoOperation, consumed: ConsumedCapacity | ConsumedCapacity[] | undefined, estimated = 0): void {
    this.requests[op] += 1;
    const list = consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed];
    for (const c of list) this.capacityUnits[op] += c.CapacityUnits ?? 0;
    this.estimatedCapacityUnits[op] += estimated;
  }

  /** Requests over all operations. */
  totalRequests(): number {
    return OPERATIONS.reduce((sum, op) => sum + this.requests[op], 0);
  }

  /** Reported capacity units over all operations. */
  totalCapacityUnits(): number {
    return OPERATIONS.reduce((sum, op) => sum + this.capacityUnits[op], 0);
  }

  /** Estimated capacity units over all operations. */
  totalEstimatedCapacityUnits(): number {
    return OPERATIONS.reduce((sum, op) => sum + this.estimatedCapacityUnits[op], 0);
  }

  /** Sets every counter back to zero. */
  reset(): void {
    for (const op of OPERATIONS) {
      this.requests[op] = 0;
      this.capacityUnits[op] = 0;
      this.estimatedCapacityUnits[op] = 0;
    }
  }
}

/** A DynamoDB call failed after the SDK's retries (throttling, network, missing table, limits). */
export class DynamoStoreError extends SluiceError {
  constructor(message: string, task: TaskRef | undefined, hint: string, cause?: unknown) {
    super(
      'SLUICE_DYNAMODB',
      message,
      task === undefined ? {} : { stage: task.stage, topic: task.topic, partition: task.partition },
      hint,
      cause === undefined ? undefined : { cause },
    );
  }
}

/** Options of DynamoCheckpointStore. */
export interface DynamoCheckpointStoreOptions {
  /** Clock for state expiry, epoch ms; default Date.now. */
  readonly now?: () => number;
  /** Where requests and consumed capacity are counted. */
  readonly metrics?: DynamoMetrics;
}

/** Items per TransactWriteItems: DynamoDB allows 100; one slot goes to the checkpoint. */
export const MAX_TRANSACT_STATE_ITEMS = 99;
// DynamoDB allows 4 MB per transaction; keep a margin for our size estimate.
const MAX_TRANSACT_BYTES = 4 * 1024 * 1024 - 64 * 1024;
const MAX_BATCH_GET_KEYS = 100;
// Our own retries (unprocessed keys/items, transaction conflicts), on top of the SDK's.
const MAX_ATTEMPTS = 8;
const PARALLEL_REQUESTS = 4;

/** The CheckpointStore on a DynamoDB table laid out as in layout.ts. */
export class DynamoCheckpointStore implements CheckpointStore {
  private readonly now: () => number;
  private readonly metrics: DynamoMetrics | undefined;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    options: DynamoCheckpointStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics;
  }

  /** Reads the task's checkpoint (strongly consistent); version 0 if none. */
  async read(task: TaskRef): Promise<Checkpoint> {
    return decodeCheckpoint(await this.getCheckpointItem(task));
  }

  /** Committed timers due at or before `upTo`: one consistent Query on the task's timer index (paged). */
  async dueTimers(task: TaskRef, kind: TimerRef['kind'], upTo: number, checkpoint: Checkpoint): Promise<TimerEntry[]> {
    if (upTo < 0) return [];
    const out: TimerEntry[] = [];
    const now = this.now();
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.counted('Query', () =>
        this.client.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
            ExpressionAttributeValues: {
              ':pk': { S: timerPartitionKey(task.app, task.id) },
              ':lo': { S: timerKindPrefix(kind) },
              ':hi': { S: timerUpperBound(kind, upTo) },
            },
            ConsistentRead: true,
            ReturnConsumedCapacity: 'TOTAL',
            ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          }),
        ),
        // A consistent Query costs 1 RCU per 4 KB read, summed over the items.
        (got) => Math.max(1, Math.ceil((got.Items ?? []).reduce((n, i) => n + itemSize(i), 0) / 4096)),
      ).catch((err: unknown) => {
        throw this.storeError('Query', task, err);
      });
      for (const item of page.Items ?? []) {
        if (resolveCommitted(decodeStateItem(item), checkpoint, now) !== undefined) out.push(parseTimerSortKey(item['sk']!.S!));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return out;
  }

  /** Reads committed state values (BatchGetItem, consistent) resolved through the committed/staged rule. */
  async loadState(task: TaskRef, keys: readonly StateKey[], checkpoint: Checkpoint): Promise<Map<string, StateValue>> {
    const wanted = new Map<string, StateKey>();
    for (const k of keys) {
      const itemKey = stateItemKey(task.app, task.stage, k.key, k.name);
      wanted.set(itemId(itemKey.pk, itemKey.sk), k);
    }
    const requests = chunk([...wanted.keys()], MAX_BATCH_GET_KEYS);
    const items: Item[] = [];
    for (const wave of chunk(requests, PARALLEL_REQUESTS)) {
      const results = await Promise.all(wave.map((ids) => this.batchGet(task, ids)));
      for (const r of results) items.push(...r);
    }
    const now = this.now();
    const values = new Map<string, StateValue>();
    for (const item of items) {
      const k = wanted.get(itemId(item['pk']?.S ?? '', item['sk']?.S ?? ''));
      if (k === undefined) continue;
      const value = resolveCommitted(decodeStateItem(item), checkpoint, now);
      if (value !== undefined) values.set(stateMapKey(k.key, k.name), value);
    }
    return values;
  }

  /** Stages `writes` under `pending.seq` and sets `pending`, conditional on `expectedVersion`; returns the new version. */
  async prepare(task: TaskRef, expectedVersion: number, pending: Pending, writes: readonly StateWrite[]): Promise<number> {
    const ops = this.stateOps(task, writes, { staged: pending.seq });
    const change: CheckpointChange = { set: { pending: encodePending(pending) } };
    if (await this.writeInOneStep(task, expectedVersion, change, ops)) return expectedVersion + 1;
    // Too large for one transaction: the claim itself sets `pending`; what is staged after it
    // stays invisible unless that batch commits.
    return this.claimThenWrite(task, expectedVersion, change, ops);
  }

  /** Confirms `pending`: committedSeq, nextOffset and extra move forward, pending is cleared. */
  async confirm(task: TaskRef, expectedVersion: number, pending: Pending): Promise<number> {
    await this.updateCheckpoint(task, expectedVersion, {
      set: {
        committedSeq: { N: String(pending.seq) },
        nextOffset: { N: String(pending.nextOffset) },
        extra: { S: JSON.stringify(pending.extra) },
      },
      remove: ['pending'],
    });
    return expectedVersion + 1;
  }

  /** Discards `pending`: its seq becomes a hole, pending is cleared, the input position stays. */
  async abandon(task: TaskRef, expectedVersion: number, pending: Pending): Promise<number> {
    await this.updateCheckpoint(task, expectedVersion, { set: {}, remove: ['pending'], hole: pending.seq });
    return expectedVersion + 1;
  }

  /**
   * At-least-once: writes committed values directly and moves the input position. One
   * transaction when it fits; otherwise claim, fenced chunks, then move (see state-layout.md).
   */
  async commitDirect(
    task: TaskRef,
    expectedVersion: number,
    seq: number,
    nextOffset: number,
    writes: readonly StateWrite[],
    extra: Readonly<Record<string, unknown>>,
  ): Promise<number> {
    const ops = this.stateOps(task, writes, 'direct');
    const change: CheckpointChange = {
      set: { committedSeq: { N: String(seq) }, nextOffset: { N: String(nextOffset) }, extra: { S: JSON.stringify(extra) } },
    };
    if (await this.writeInOneStep(task, expectedVersion, change, ops)) return expectedVersion + 1;
    // Too large for one transaction. Unfenced writes would let a losing invocation overwrite
    // values a newer batch already committed (a lost update), so: claim the checkpoint (the
    // version moves, the position does not), write in fenced chunks, then move the position. A
    // crash in between leaves some of the batch's values applied and the position where it was:
    // the batch is processed again, which at-least-once allows.
    const claimed = await this.claimThenWrite(task, expectedVersion, { set: {} }, ops);
    await this.updateCheckpoint(task, claimed, change);
    return claimed + 1;
  }

  /**
   * The checkpoint change and the state writes in one request when they fit: a conditional
   * UpdateItem without writes (1 unit instead of a transaction's 2), else one TransactWriteItems.
   * Returns false, having written nothing, when the writes need several transactions.
   */
  private async writeInOneStep(task: TaskRef, expectedVersion: number, change: CheckpointChange, ops: TransactWriteItem[]): Promise<boolean> {
    if (ops.length === 0) {
      await this.updateCheckpoint(task, expectedVersion, change);
      return true;
    }
    if (!fitsOneTransaction(ops)) return false;
    await this.transact(task, expectedVersion, [{ Update: this.checkpointUpdate(task, expectedVersion, change, randomUUID()) }, ...ops]);
    return true;
  }

  /**
   * Claims the checkpoint (`claim` applied, version + 1), then writes `ops` in transactions that
   * each re-check the claimed version: once another invocation claims or commits, a loser's
   * remaining chunks fail and write nothing. Returns the claimed version.
   */
  private async claimThenWrite(task: TaskRef, expectedVersion: number, claim: CheckpointChange, ops: TransactWriteItem[]): Promise<number> {
    await this.updateCheckpoint(task, expectedVersion, claim);
    const claimed = expectedVersion + 1;
    const fence: TransactWriteItem = {
      ConditionCheck: { TableName: this.table, Key: keyAttributes(checkpointKey(task.app, task.id)), ...versionCondition(claimed) },
    };
    await this.inParallel(chunkTransaction(ops), (part) => this.transact(task, claimed, [fence, ...part]));
    return claimed;
  }

  // -------------------------------------------------------------------------------------------
  // Checkpoint writes

  private checkpointUpdate(task: TaskRef, expectedVersion: number, change: CheckpointChange, token: string): Update {
    const names: Record<string, string> = { '#version': 'version', '#w': 'w' };
    const values: Record<string, AttributeValue> = { ':version': { N: String(expectedVersion + 1) }, ':w': { S: token } };
    const set = ['#version = :version', '#w = :w'];
    const fields: Record<string, AttributeValue> = { ...change.set };
    if (expectedVersion === 0) {
      // A new checkpoint gets every field, so tools reading the raw item see a complete one.
      fields['committedSeq'] ??= { N: '0' };
      fields['nextOffset'] ??= { N: '-1' };
      fields['extra'] ??= { S: '{}' };
      if (change.hole === undefined) fields['holes'] ??= { L: [] };
    }
    for (const [name, value] of Object.entries(fields)) {
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      set.push(`#${name} = :${name}`);
    }
    if (change.hole !== undefined) {
      names['#holes'] = 'holes';
      values[':hole'] = { L: [{ N: String(change.hole) }] };
      values[':noHoles'] = { L: [] };
      set.push('#holes = list_append(if_not_exists(#holes, :noHoles), :hole)');
    }
    let expression = `SET ${set.join(', ')}`;
    if (change.remove !== undefined && change.remove.length > 0) {
      for (const name of change.remove) names[`#${name}`] = name;
      expression += ` REMOVE ${change.remove.map((n) => `#${n}`).join(', ')}`;
    }
    const condition = versionCondition(expectedVersion);
    return {
      TableName: this.table,
      Key: keyAttributes(checkpointKey(task.app, task.id)),
      UpdateExpression: expression,
      ConditionExpression: condition.ConditionExpression,
      ExpressionAttributeNames: { ...names, ...condition.ExpressionAttributeNames },
      ExpressionAttributeValues: { ...values, ...(condition.ExpressionAttributeValues ?? {}) },
    };
  }

  /** One conditional UpdateItem on the checkpoint; a lost response whose write landed counts as success. */
  private async updateCheckpoint(task: TaskRef, expectedVersion: number, change: CheckpointChange): Promise<void> {
    const token = randomUUID();
    const update = this.checkpointUpdate(task, expectedVersion, change, token);
    try {
      await this.counted(
        'UpdateItem',
        () => this.client.send(new UpdateItemCommand({ ...update, ReturnConsumedCapacity: 'TOTAL' })),
        () => 1,
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw this.storeError('UpdateItem', task, err);
      // The SDK may have retried a request whose first attempt did land: then the item carries our token.
      const current = await this.getCheckpointItem(task);
      if (current?.['w']?.S === token && current['version']?.N === String(expectedVersion + 1)) return;
      throw new CheckpointConflict(task.id, expectedVersion);
    }
  }

  private async getCheckpointItem(task: TaskRef): Promise<Item | undefined> {
    try {
      const out = await this.counted('GetItem', () =>
        this.client.send(
          new GetItemCommand({
            TableName: this.table,
            Key: keyAttributes(checkpointKey(task.app, task.id)),
            ConsistentRead: true,
            ReturnConsumedCapacity: 'TOTAL',
          }),
        ),
        (got) => readUnits(got.Item),
      );
      return out.Item;
    } catch (err) {
      throw this.storeError('GetItem', task, err);
    }
  }

  // -------------------------------------------------------------------------------------------
  // State writes and reads

  private stateOps(task: TaskRef, writes: readonly StateWrite[], mode: WriteMode): TransactWriteItem[] {
    const seen = new Set<string>();
    const writer = { app: task.app, stage: task.stage, taskId: task.id };
    return writes.map((write) => {
      const key = writeItemKey(writer, write);
      const id = itemId(key.pk, key.sk);
      if (seen.has(id)) {
        throw new DynamoStoreError(
          `two writes of state "${write.name}" of one key in one batch of task ${task.id}`,
          task,
          'the runtime must merge a batch\'s writes per key and state name before committing',
        );
      }
      seen.add(id);
      const item = encodeStateItem(writer, write, mode);
      return item === undefined
        ? { Delete: { TableName: this.table, Key: keyAttributes(key) } }
        : { Put: { TableName: this.table, Item: item } };
    });
  }

  /** One TransactWriteItems whose first item is the checkpoint condition; conflicts on it are CheckpointConflict. */
  private async transact(task: TaskRef, checkedVersion: number, items: TransactWriteItem[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.counted('TransactWriteItems', () =>
          this.client.send(
            new TransactWriteItemsCommand({ TransactItems: items, ClientRequestToken: randomUUID(), ReturnConsumedCapacity: 'TOTAL' }),
          ),
          () => items.reduce((sum, op) => sum + 2 * (op.Put?.Item !== undefined ? writeUnits(op.Put.Item) : 1), 0),
        );
        return;
      } catch (err) {
        if (!(err instanceof TransactionCanceledException)) throw this.storeError('TransactWriteItems', task, err);
        const codes = (err.CancellationReasons ?? []).map((r) => r.Code ?? 'None');
        if (codes[0] === 'ConditionalCheckFailed') throw new CheckpointConflict(task.id, checkedVersion);
        // A cancelled transaction applied nothing, so retrying it (with a fresh token) is safe.
        const transient = codes.some((c) => c === 'TransactionConflict' || c === 'ThrottlingError' || c === 'ProvisionedThroughputExceeded');
        if (!transient || attempt >= MAX_ATTEMPTS) throw this.storeError('TransactWriteItems', task, err, codes);
        await backoff(attempt);
      }
    }
  }

  private async batchGet(task: TaskRef, ids: readonly string[]): Promise<Item[]> {
    let keys: Item[] = ids.map((id) => {
      const [pk = '', sk = ''] = id.split('\u0000');
      return { pk: { S: pk }, sk: { S: sk } };
    });
    const items: Item[] = [];
    for (let attempt = 1; keys.length > 0; attempt++) {
      if (attempt > MAX_ATTEMPTS) {
        throw new DynamoStoreError(
          `BatchGetItem left ${keys.length} state keys unread after ${MAX_ATTEMPTS} attempts (task ${task.id})`,
          task,
          'the table is throttled: raise its capacity or lower the batch size',
        );
      }
      if (attempt > 1) await backoff(attempt - 1);
      const request: KeysAndAttributes = { Keys: keys, ConsistentRead: true };
      const out = await this.counted('BatchGetItem', () =>
        this.client.send(new BatchGetItemCommand({ RequestItems: { [this.table]: request }, ReturnConsumedCapacity: 'TOTAL' })),
        (got) => {
          const found = got.Responses?.[this.table] ?? [];
          const left = got.UnprocessedKeys?.[this.table]?.Keys?.length ?? 0;
          // A key not found still costs the minimum read.
          return found.reduce((sum, item) => sum + readUnits(item), 0) + (request.Keys?.length ?? 0) - found.length - left;
        },
      ).catch((err: unknown) => {
        throw this.storeError('BatchGetItem', task, err);
      });
      items.push(...(out.Responses?.[this.table] ?? []));
      keys = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
    }
    return items;
  }

  // -------------------------------------------------------------------------------------------
  // Plumbing

  private async counted<T extends { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] | undefined }>(
    op: DynamoOperation,
    call: () => Promise<T>,
    estimate: (out: T) => number,
  ): Promise<T> {
    try {
      const out = await call();
      this.metrics?.record(op, out.ConsumedCapacity, estimate(out));
      return out;
    } catch (err) {
      this.metrics?.record(op, undefined);
      throw err;
    }
  }

  private async inParallel<T>(parts: readonly T[], run: (part: T) => Promise<void>): Promise<void> {
    for (const wave of chunk(parts, PARALLEL_REQUESTS)) await Promise.all(wave.map(run));
  }

  private storeError(op: DynamoOperation, task: TaskRef, err: unknown, reasons?: readonly string[]): Error {
    if (err instanceof SluiceError || err instanceof CheckpointConflict) return err;
    const name = err instanceof Error ? err.name : 'Error';
    const message = err instanceof Error ? err.message : String(err);
    const why = reasons === undefined ? '' : ` (reasons: ${reasons.join(', ')})`;
    return new DynamoStoreError(
      `DynamoDB ${op} on table ${this.table} failed for task ${task.id}: ${name}: ${message}${why}`,
      task,
      hintFor(name, this.table),
      err,
    );
  }
}

/** A change to the checkpoint item besides the version bump. */
interface CheckpointChange {
  readonly set: Record<string, AttributeValue>;
  readonly remove?: readonly string[];
  /** A seq to append to `holes`. */
  readonly hole?: number;
}

/** The condition "the checkpoint has this version" (0 = it does not exist yet). */
function versionCondition(version: number): {
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, AttributeValue>;
} {
  return version === 0
    ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': 'pk' } }
    : {
        ConditionExpression: '#version = :expected',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':expected': { N: String(version) } },
      };
}

function hintFor(errorName: string, table: string): string {
  switch (errorName) {
    case 'ResourceNotFoundException':
      return `table ${table} does not exist: deploy the app or create it with createTable()`;
    case 'ThrottlingException':
    case 'ProvisionedThroughputExceededException':
    case 'RequestLimitExceeded':
      return 'DynamoDB kept throttling after the SDK\'s retries: raise the client\'s maxAttempts or the table\'s capacity; the invocation will be retried';
    case 'ValidationException':
      return 'a request broke a DynamoDB limit (item ≤ 400 KB, transaction ≤ 4 MB): make the state smaller';
    default:
      return 'a transient DynamoDB or network failure: the invocation fails and the event source mapping retries it';
  }
}

function fitsOneTransaction(ops: readonly TransactWriteItem[]): boolean {
  return ops.length <= MAX_TRANSACT_STATE_ITEMS && ops.reduce((s, op) => s + opSize(op), 0) <= MAX_TRANSACT_BYTES;
}

/** Splits state writes into transactions of ≤ 99 items and ≤ 4 MB (one slot stays for the fence). */
function chunkTransaction(ops: readonly TransactWriteItem[]): TransactWriteItem[][] {
  const parts: TransactWriteItem[][] = [];
  let current: TransactWriteItem[] = [];
  let bytes = 0;
  for (const op of ops) {
    const size = opSize(op);
    if (current.length > 0 && (current.length >= MAX_TRANSACT_STATE_ITEMS || bytes + size > MAX_TRANSACT_BYTES)) {
      parts.push(current);
      current = [];
      bytes = 0;
    }
    current.push(op);
    bytes += size;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}

function opSize(op: TransactWriteItem): number {
  return op.Put?.Item !== undefined ? itemSize(op.Put.Item) : 1024;
}

/** Write units of putting an item: 1 per started KB. */
function writeUnits(item: Item): number {
  return Math.max(1, Math.ceil(itemSize(item) / 1024));
}


/** Read units of a strongly consistent read of an item: 1 per started 4 KB (1 for a missing item). */
function readUnits(item: Item | undefined): number {
  return item === undefined ? 1 : Math.max(1, Math.ceil(itemSize(item) / 4096));
}

function itemId(pk: string, sk: string): string {
  return `${pk}\u0000${sk}`;
}

function chunk<T>(list: readonly T[], size: number): T[][] {
  const parts: T[][] = [];
  for (let i = 0; i < list.length; i += size) parts.push(list.slice(i, i + size));
  return parts;
}

function backoff(attempt: number): Promise<void> {
  const cap = Math.min(2_000, 25 * 2 ** attempt);
  return sleep(cap / 2 + Math.random() * (cap / 2));
}

function zeroes(): Record<DynamoOperation, number> {
  return { GetItem: 0, BatchGetItem: 0, Query: 0, UpdateItem: 0, TransactWriteItems: 0 };
}
