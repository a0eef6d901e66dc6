/**
 * The DynamoDB TaskStore: a task's checkpoint, ring of batch records and snapshot chunks in the
 * app's single table (layout.ts). Which state is committed is decided by state/committed.ts; this
 * file only fetches and writes items. Invariants kept:
 * - a batch record is written only if its slot holds no record of this seq or a later one (so at
 *   most one invocation ever prepares a batch, and a late zombie write cannot replace a newer
 *   record); a snapshot chunk likewise only over an older snapshot's;
 * - every checkpoint write is conditional on the version its writer read and bumps it by one.
 * No transactions: every write is one item, billed at 1 unit per started KB.
 */
import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  type AttributeValue,
  type ConsumedCapacity,
  type DynamoDBClient,
  type KeysAndAttributes,
} from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError } from '../errors.js';
import { CheckpointConflict, type BatchRecord, type Checkpoint, type SnapshotRef, type SnapshotWrite, type StateLoad, type TaskRef, type TaskStore, type TaskView } from '../commit/ports.js';
import { abandoned, committedSeqsAfter, compacted, confirmed, nextBank, nextSeq, rebased, rebaseSeq } from '../commit/checkpoint.js';
import { encodeEntries, type StateEntry } from '../state/codec.js';
import { buildSnapshot, committedState, type SnapshotChunk } from '../state/committed.js';
import type { TimeState } from '../time/watermark.js';
import {
  checkpointKey,
  chunkKey,
  decodeCheckpoint,
  decodeChunk,
  decodeRecord,
  encodeCheckpoint,
  encodeChunk,
  encodeRecord,
  keyAttributes,
  readUnits,
  recordKey,
  writeUnits,
  type Item,
  type ItemKey,
} from './layout.js';
import type { DynamoMetrics} from './metrics.js';
import { type DynamoOperation } from './metrics.js';

export { DynamoMetrics, type DynamoOperation } from './metrics.js';

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

/** Options of DynamoTaskStore. */
export interface DynamoTaskStoreOptions {
  /** Clock for state expiry, epoch ms; default Date.now. */
  readonly now?: () => number;
  /** Where requests and consumed capacity are counted. */
  readonly metrics?: DynamoMetrics;
}

const MAX_BATCH_GET_KEYS = 100;
// Our own retries of unprocessed BatchGet keys, on top of the SDK's.
const MAX_ATTEMPTS = 8;
const PARALLEL_REQUESTS = 4;

/** The TaskStore on a DynamoDB table laid out as in layout.ts. */
export class DynamoTaskStore implements TaskStore {
  private readonly now: () => number;
  private readonly metrics: DynamoMetrics | undefined;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    options: DynamoTaskStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics;
  }

  /**
   * The checkpoint (one consistent GetItem). A task without one is checked once more for a
   * checkpoint of the layout Sluice 0.1 wrote, so a table from before state v2 is never read as
   * empty (its state would be lost without a word).
   */
  async readCheckpoint(task: TaskRef): Promise<Checkpoint> {
    const item = await this.get(task, checkpointKey(task.app, task.id));
    if (!item && (await this.get(task, legacyCheckpointKey(task.app, task.id)))) {
      throw new DynamoStoreError(
        `task ${task.id} has state in the per-key layout of Sluice 0.1 (table ${this.table}), which this version does not read`,
        task,
        'export a savepoint with Sluice 0.1 (`sluice savepoint export`), then import it with this version into a new table (`sluice savepoint import`): version-1 savepoints import',
      );
    }
    return decodeCheckpoint(item);
  }

  /** The checkpoint, then the record slot of the batch after it (two consistent GetItems). */
  async read(task: TaskRef): Promise<TaskView> {
    const checkpoint = await this.readCheckpoint(task);
    const seq = nextSeq(checkpoint);
    const item = await this.get(task, recordKey(task.app, task.id, seq));
    const record = item ? decodeRecord(item) : undefined;
    return { checkpoint, pending: record?.seq === seq ? record : undefined };
  }

  /** The snapshot's chunks and the committed records after it (or after `after`), in consistent BatchGetItems. */
  async load(task: TaskRef, checkpoint: Checkpoint, after?: number): Promise<StateLoad> {
    const keys: ItemKey[] = committedSeqsAfter(checkpoint, after).map((seq) => recordKey(task.app, task.id, seq));
    const whole = after === undefined || after < checkpoint.snapshot.seq;
    if (whole) for (let i = 0; i < checkpoint.snapshot.chunks; i += 1) keys.push(chunkKey(task.app, task.id, checkpoint.snapshot.bank, i));
    const items = await this.batchGet(task, keys);
    const records = new Map<number, BatchRecord>();
    const chunks: SnapshotChunk[] = [];
    for (const item of items) {
      const sk = item['sk']?.S ?? '';
      if (sk.startsWith('r#')) {
        const r = decodeRecord(item);
        records.set(r.seq, r);
      } else chunks.push(decodeChunk(item));
    }
    return committedState(task.id, checkpoint, chunks, records, this.now(), whole ? undefined : after);
  }

  /** Writes the record unless its slot holds this seq or a later one; a lost response whose write landed counts as success. */
  async prepare(task: TaskRef, record: BatchRecord): Promise<void> {
    const token = randomUUID();
    const changes = record.encoded ?? (record.changes.length > 0 ? encodeEntries(record.changes) : undefined);
    const item = encodeRecord(task.app, task.id, record, changes, token);
    const landed = await this.putIf(task, 'prepare', item, 'attribute_not_exists(#q) OR #q < :q', { '#q': 'q' }, { ':q': { N: String(record.seq) } }, token);
    if (!landed) throw new CheckpointConflict(task.id, -1);
  }

  /** Writes each chunk unless its place holds one written from a later checkpoint version, or another snapshot's from the same (then CheckpointConflict). */
  async writeSnapshot(task: TaskRef, snapshot: SnapshotWrite): Promise<void> {
    const { ref } = snapshot;
    await this.inParallel(
      snapshot.chunks.map((data, index) => ({ data, index })),
      async ({ data, index }) => {
        const item = encodeChunk(task.app, task.id, ref, snapshot.baseVersion, index, data);
        // Our own chunk already there (a retried put) counts as written.
        const landed = await this.putIf(task, 'snapshot', item, 'attribute_not_exists(#bv) OR #bv < :bv OR (#bv = :bv AND #id = :id)', { '#bv': 'bv', '#id': 'id' }, { ':bv': { N: String(snapshot.baseVersion) }, ':id': { S: ref.id } });
        if (!landed) throw new CheckpointConflict(task.id, -1);
      },
    );
  }

  /** Whether every chunk of `snapshot` is in its bank (one consistent BatchGetItem of their ids). */
  async snapshotComplete(task: TaskRef, snapshot: SnapshotRef): Promise<boolean> {
    const keys = Array.from({ length: snapshot.chunks }, (_, i) => chunkKey(task.app, task.id, snapshot.bank, i));
    const items = await this.batchGet(task, keys, { consistent: true, attributes: ['sk', 'id'] });
    return items.length === snapshot.chunks && items.every((item) => item['id']?.S === snapshot.id);
  }

  async confirm(task: TaskRef, from: Checkpoint, record: BatchRecord): Promise<Checkpoint> {
    return this.writeCheckpoint(task, from, confirmed(from, record));
  }

  async abandon(task: TaskRef, from: Checkpoint, record: BatchRecord): Promise<Checkpoint> {
    return this.writeCheckpoint(task, from, abandoned(from, record));
  }

  async compact(task: TaskRef, from: Checkpoint, snapshot: SnapshotRef): Promise<Checkpoint> {
    return this.writeCheckpoint(task, from, compacted(from, snapshot));
  }

  async advance(task: TaskRef, from: Checkpoint, next: Checkpoint): Promise<Checkpoint> {
    if (next.version !== from.version + 1) throw new Error(`advance must bump the version by one (${from.version} → ${next.version})`);
    return this.writeCheckpoint(task, from, next);
  }

  /**
   * For tools (reset, savepoint import): the task's state becomes `entries` and its input
   * position `nextOffset`, from a fresh snapshot a ring above every batch number used, and at
   * least `atLeastSeq` (see rebased). Conditional on `from.version`; CheckpointConflict if the
   * task moved meanwhile.
   */
  async rebase(task: TaskRef, from: Checkpoint, entries: Iterable<StateEntry>, nextOffset: number, time: TimeState, atLeastSeq = 0): Promise<Checkpoint> {
    const snapshot = buildSnapshot(entries, rebaseSeq(from, atLeastSeq), nextBank(from), randomUUID(), from.version);
    await this.writeSnapshot(task, snapshot);
    return this.writeCheckpoint(task, from, rebased(from, snapshot.ref, nextOffset, time));
  }

  // -------------------------------------------------------------------------------------------

  /** Puts the whole checkpoint, conditional on `from`'s version; a lost response whose write landed counts as success. */
  private async writeCheckpoint(task: TaskRef, from: Checkpoint, next: Checkpoint): Promise<Checkpoint> {
    const token = randomUUID();
    const item = encodeCheckpoint(task.app, task.id, task.stage, next, token);
    const landed =
      from.version === 0
        ? await this.putIf(task, 'checkpoint', item, 'attribute_not_exists(#pk)', { '#pk': 'pk' }, {}, token)
        : await this.putIf(task, 'checkpoint', item, '#v = :v', { '#v': 'v' }, { ':v': { N: String(from.version) } }, token);
    if (!landed) throw new CheckpointConflict(task.id, from.version);
    return next;
  }

  /**
   * A conditional PutItem. Returns false when the condition failed, unless the item now carries
   * `token` (the SDK retried a request whose first attempt landed: the write is ours).
   */
  private async putIf(task: TaskRef, what: string, item: Item, condition: string, names: Record<string, string>, values: Record<string, AttributeValue>, token?: string): Promise<boolean> {
    try {
      await this.counted(
        'PutItem',
        () =>
          this.client.send(
            new PutItemCommand({
              TableName: this.table,
              Item: item,
              ConditionExpression: condition,
              ExpressionAttributeNames: names,
              ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
              ReturnConsumedCapacity: 'TOTAL',
            }),
          ),
        () => writeUnits(item),
      );
      return true;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw this.storeError(`PutItem (${what})`, task, err);
      if (token === undefined) return false;
      const current = await this.get(task, { pk: item['pk']!.S!, sk: item['sk']!.S! });
      return current?.['w']?.S === token;
    }
  }

  private async get(task: TaskRef, key: ItemKey): Promise<Item | undefined> {
    try {
      const out = await this.counted(
        'GetItem',
        () => this.client.send(new GetItemCommand({ TableName: this.table, Key: keyAttributes(key), ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' })),
        (got) => readUnits(got.Item),
      );
      return out.Item;
    } catch (err) {
      throw this.storeError('GetItem', task, err);
    }
  }

  /**
   * The event time each task committed last (the ticker's read, time/ticker.ts): eventually
   * consistent BatchGetItems of the checkpoints, half the price of consistent ones; a tick decided
   * on a checkpoint a moment old is at worst one that changes nothing. Tasks without one are left out.
   */
  async readTimes(tasks: readonly TaskRef[]): Promise<ReadonlyMap<string, TimeState>> {
    const out = new Map<string, TimeState>();
    if (tasks.length === 0) return out;
    const byKey = new Map(tasks.map((t) => [checkpointKey(t.app, t.id).pk, t.id]));
    const items = await this.batchGet(tasks[0]!, tasks.map((t) => checkpointKey(t.app, t.id)), { consistent: false, attributes: ['pk', 't'] });
    for (const item of items) {
      const id = byKey.get(item['pk']?.S ?? '');
      if (id !== undefined) out.set(id, decodeCheckpoint(item).time);
    }
    return out;
  }

  private async batchGet(task: TaskRef, keys: readonly ItemKey[], how: { consistent: boolean; attributes?: readonly string[] } = { consistent: true }): Promise<Item[]> {
    const items: Item[] = [];
    const requests: ItemKey[][] = [];
    for (let i = 0; i < keys.length; i += MAX_BATCH_GET_KEYS) requests.push(keys.slice(i, i + MAX_BATCH_GET_KEYS));
    await this.inParallel(requests, async (part) => {
      let pending: Item[] = part.map(keyAttributes);
      for (let attempt = 1; pending.length > 0; attempt++) {
        if (attempt > MAX_ATTEMPTS) {
          throw new DynamoStoreError(`BatchGetItem left ${pending.length} items of task ${task.id} unread after ${MAX_ATTEMPTS} attempts`, task, 'the table is throttled: raise its capacity');
        }
        if (attempt > 1) await backoff(attempt - 1);
        const request: KeysAndAttributes = {
          Keys: pending,
          ConsistentRead: how.consistent,
          ...(how.attributes
            ? { ProjectionExpression: how.attributes.map((_, i) => `#a${i}`).join(', '), ExpressionAttributeNames: Object.fromEntries(how.attributes.map((a, i) => [`#a${i}`, a])) }
            : {}),
        };
        const out = await this.counted(
          'BatchGetItem',
          () => this.client.send(new BatchGetItemCommand({ RequestItems: { [this.table]: request }, ReturnConsumedCapacity: 'TOTAL' })),
          (got) => {
            const found = got.Responses?.[this.table] ?? [];
            const left = got.UnprocessedKeys?.[this.table]?.Keys?.length ?? 0;
            return found.reduce((sum, item) => sum + readUnits(item), 0) + (request.Keys?.length ?? 0) - found.length - left;
          },
        ).catch((err: unknown) => {
          throw this.storeError('BatchGetItem', task, err);
        });
        items.push(...(out.Responses?.[this.table] ?? []));
        pending = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
      }
    });
    return items;
  }

  private async counted<T extends { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] | undefined }>(op: DynamoOperation, call: () => Promise<T>, estimate: (out: T) => number): Promise<T> {
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
    for (let i = 0; i < parts.length; i += PARALLEL_REQUESTS) await Promise.all(parts.slice(i, i + PARALLEL_REQUESTS).map(run));
  }

  private storeError(op: string, task: TaskRef, err: unknown): Error {
    if (err instanceof SluiceError || err instanceof CheckpointConflict) return err;
    const name = err instanceof Error ? err.name : 'Error';
    const message = err instanceof Error ? err.message : String(err);
    return new DynamoStoreError(`DynamoDB ${op} on table ${this.table} failed for task ${task.id}: ${name}: ${message}`, task, hintFor(name, this.table), err);
  }
}

/** Where Sluice 0.1 kept a task's checkpoint (layout v1: per-key staged items). */
function legacyCheckpointKey(app: string, taskId: string): ItemKey {
  return { pk: `ckpt#${app}#${taskId}`, sk: 'ckpt' };
}

function hintFor(errorName: string, table: string): string {
  switch (errorName) {
    case 'ResourceNotFoundException':
      return `table ${table} does not exist: deploy the app or create it with createTable()`;
    case 'ThrottlingException':
    case 'ProvisionedThroughputExceededException':
    case 'RequestLimitExceeded':
      return "DynamoDB kept throttling after the SDK's retries: raise the client's maxAttempts or the table's capacity; the invocation will be retried";
    case 'ValidationException':
      return 'a request broke a DynamoDB limit (item ≤ 400 KB): lower the batch size or keep less state per key';
    default:
      return 'a transient DynamoDB or network failure: the invocation fails and the event source mapping retries it';
  }
}

function backoff(attempt: number): Promise<void> {
  const cap = Math.min(2_000, 25 * 2 ** attempt);
  return sleep(cap / 2 + Math.random() * (cap / 2));
}
