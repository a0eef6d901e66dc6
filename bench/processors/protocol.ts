/**
 * What the benchmark and a processor it runs in a child process say to each other (Node's IPC
 * channel; the Kafka Streams program speaks the same shapes as JSON lines on stdio).
 *
 *   child  → parent: ready (consuming), first (first input record taken, epoch ms), warm (the
 *                    input taken before this moment reached the warm-up size), stats, settled, fatal
 *   parent → child:  stats (send counters now), stop (send final counters, then exit),
 *                    settle (answer `settled` once every trigger has caught up with its topic)
 *
 * Counters are cumulative since the processor started; the parent takes differences between
 * phases. Invocation samples are sent once (each stats message carries those since the last).
 */
import type { DynamoOperation } from '../../framework/dynamodb/metrics.js';

/** One stage invocation as the emulated trigger made it. */
export interface InvocationSample {
  readonly stage: string;
  /** `data` for a batch of the stage's input topic, `control` for marks and ticks. */
  readonly kind: 'data' | 'control';
  readonly records: number;
  /** Duration of the invocation, ms: the handler's own time out of process, the call's wall time in process. */
  readonly ms: number;
  /** Out of process: the CPU time the container spent on it, ms. */
  readonly cpuMs?: number;
  readonly ok: boolean;
  /** When it ended, epoch ms. */
  readonly at: number;
  /** DynamoDB requests, estimated write and read units of this invocation. */
  readonly ddbRequests: number;
  readonly wru: number;
  readonly rru: number;
  /** Control invocations: how many of its records were ticks (the rest: watermark marks and anything else). */
  readonly ticks?: number;
}

/** DynamoDB work, per operation. */
export interface DynamoCounters {
  readonly requests: Record<DynamoOperation, number>;
  /** Units by DynamoDB's pricing rules from item sizes (DynamoDB Local reports flat numbers). */
  readonly estimatedUnits: Record<DynamoOperation, number>;
  /** Units DynamoDB Local reported. */
  readonly reportedUnits: Record<DynamoOperation, number>;
  /** Time spent waiting for DynamoDB, ms per operation (overlapping calls add up). */
  readonly waitMs?: Record<string, number>;
}

/** Kafka work. */
export interface KafkaCounters {
  /** Protocol requests by client role (e.g. `function` = the stage's producers, `trigger` = the emulated pollers). */
  readonly requestsByClient: Record<string, number>;
  /** Requests by Kafka API, where known. */
  readonly requestsByApi: Record<string, number>;
  readonly transactions: number;
  readonly aborts: number;
  /** Sluice: handler instances (Lambda containers) created per stage. */
  readonly containers?: Record<string, number>;
  /** Time spent in Kafka requests, ms per `role:API` (overlapping requests add up). */
  readonly waitMs?: Record<string, number>;
}

/** The stage functions' processes (out-of-process invoker): what their containers used. */
export interface FunctionProcesses {
  /** CPU time of every container since it started (user + system), ms. */
  readonly cpuMs: number;
  /** The largest peak RSS of any one container, bytes. */
  readonly maxRssBytes: number;
  readonly containers: number;
  /** Mean Init Duration (start until the handler module was loaded), ms. */
  readonly meanInitMs: number;
}

/** What the ticker did so far: its passes, the checkpoints they read, and what it wrote (each send ticks every partition due). */
export interface TickerCounters {
  /** Passes (LocalRun's ticker stats), failed ones, and task checkpoints read. */
  readonly passes: number;
  readonly failedPasses: number;
  readonly tasksRead: number;
  /** Its DynamoDB requests, estimated read units, and ms waited on them. */
  readonly dynamoRequests: number;
  readonly readUnits: number;
  readonly readMs: number;
  readonly sends: number;
  readonly records: number;
  /** Producer connects: one per ticker run if each run connects anew (a looping run connects once). */
  readonly connects: number;
  /** Time spent in sends and in connects, ms. */
  readonly sendMs: number;
  readonly connectMs: number;
}

/** A processor's counters. */
export interface ProcessorStats {
  readonly kafka: KafkaCounters;
  readonly dynamo?: DynamoCounters;
  /** Sluice, functions out of process: their containers' CPU and memory. */
  readonly functions?: FunctionProcesses;
  /** Sluice: the ticker's writes. */
  readonly ticker?: TickerCounters;
  /** Invocations since the previous stats message (Sluice only). */
  readonly invocations?: readonly InvocationSample[];
  /** Failed invocations or batches so far, and the latest error messages. */
  readonly failures: number;
  readonly errors: readonly string[];
}

/** Child → parent. */
export type ChildMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'first'; readonly at: number }
  /** `records` input records had been taken before `at` (the timed part of the drain starts here). */
  | { readonly type: 'warm'; readonly at: number; readonly records: number }
  | { readonly type: 'stats'; readonly stats: ProcessorStats }
  | { readonly type: 'settled' }
  | { readonly type: 'fatal'; readonly message: string };

/** Parent → child. */
export type ParentMessage = { readonly type: 'stats' } | { readonly type: 'stop' } | { readonly type: 'settle' };

/** Settings of a Sluice processor (LocalRun of a benchmark pipeline). */
export interface SluiceProcessorConfig {
  readonly kind: 'sluice';
  readonly variant: 'stateless' | 'ysb';
  /** Source record encoding (default JSON). */
  readonly encoding?: 'json' | 'avro';
  readonly mode: 'exactly-once' | 'at-least-once';
  readonly app: string;
  readonly sourceTopic: string;
  readonly sinkTopic: string;
  readonly sourcePartitions: number;
  readonly partitions: number;
  readonly brokers: readonly string[];
  readonly dynamodbEndpoint: string;
  readonly table: string;
  readonly batchSize: number;
  readonly batchingWindowMs: number;
  readonly internalBatchingWindowMs: number;
  readonly tickIntervalMs: number;
  /** Input records to take before the timed part of the drain starts. */
  readonly warmupRecords: number;
  /** The stage functions' Kafka client (default kafkajs). */
  readonly kafkaClient?: 'kafkajs' | 'platformatic';
  /** Where the stage functions run: in child processes, one per container (default), or in the processor itself. */
  readonly invoker?: 'process' | 'in-process';
  /** Out of process: the bundled function script (bench/processors/function-bundle.ts); without it the containers load function.ts under tsx. */
  readonly functionScript?: string;
}

/** Settings of the raw kafkajs consume → transform → produce loop. */
export interface RawProcessorConfig {
  readonly kind: 'raw';
  readonly app: string;
  readonly sourceTopic: string;
  readonly sinkTopic: string;
  readonly sourcePartitions: number;
  readonly brokers: readonly string[];
  readonly batchSize: number;
  readonly batchingWindowMs: number;
  readonly transactionTimeoutMs: number;
  readonly warmupRecords: number;
}

/** Settings of any Node processor. */
export type NodeProcessorConfig = SluiceProcessorConfig | RawProcessorConfig;

/** Tracks how much input a processor has taken (by offset, so retries do not count twice) and says when warm-up is over. */
export class InputMeter {
  private readonly next = new Map<number, number>();
  private firstSent = false;
  private warmSent = false;

  constructor(private readonly warmupRecords: number) {}

  /** Call when records `firstOffset..lastOffset` of `partition` are taken, before processing them. */
  taken(partition: number, firstOffset: number, lastOffset: number): void {
    const now = Date.now();
    if (!this.firstSent) {
      this.firstSent = true;
      void toParent({ type: 'first', at: now });
    }
    let before = Math.min(firstOffset, this.next.get(partition) ?? 0);
    for (const [p, n] of this.next) if (p !== partition) before += n;
    if (!this.warmSent && before >= this.warmupRecords) {
      this.warmSent = true;
      void toParent({ type: 'warm', at: now, records: before });
    }
    this.next.set(partition, Math.max(this.next.get(partition) ?? 0, lastOffset + 1));
  }
}

/** Sends a message to the parent; resolves once it is handed to the channel (no-op without one). */
export function toParent(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

/** Calls `handler` for each parent message. */
export function onParent(handler: (message: ParentMessage) => void): void {
  process.on('message', (m) => handler(m as ParentMessage));
}

/** Runs a processor child's `main`, reporting an unhandled rejection or a failed start to the parent as `fatal`. */
export function runProcessor(main: () => Promise<void>): void {
  const describe = (error: unknown): string => (error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.on('unhandledRejection', (error) => {
    void toParent({ type: 'fatal', message: `unhandled rejection: ${describe(error)}` });
  });
  main().catch(async (error: unknown) => {
    await toParent({ type: 'fatal', message: describe(error) });
    process.exit(1);
  });
}

/** A zeroed per-operation record. */
export function zeroOps(): Record<DynamoOperation, number> {
  return { GetItem: 0, BatchGetItem: 0, Query: 0, PutItem: 0, UpdateItem: 0, DeleteItem: 0, TransactWriteItems: 0 };
}

/** DynamoDB operations that write (their units are write units). */
export const WRITE_OPERATIONS: readonly DynamoOperation[] = ['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems'];
/** DynamoDB operations that read. */
export const READ_OPERATIONS: readonly DynamoOperation[] = ['GetItem', 'BatchGetItem', 'Query'];
