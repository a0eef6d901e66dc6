/**
 * What the benchmark counts of the stage functions' own work, with the real adapters built here
 * (instead of by lambdaPorts) so their requests are seen:
 *
 *  - DynamoDB: a DynamoMetrics shared by every store the meter builds, and the time spent waiting
 *    per operation. Each request is also charged to the invocation that made it
 *    (AsyncLocalStorage), so the cost model can tell a data batch from a control batch.
 *  - Kafka: the sink counters (the functions' producers: KafkaTxnSink, or PlatformaticTxnSink
 *    when the config says kafkaClient: 'platformatic'), and the time spent per request.
 *
 * In-process, one meter serves every stage (bench/processors/sluice.ts). Out of process, each
 * container has its own (bench/processors/function.ts) and reports the change of its counters
 * with every invocation; the processor adds them up.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { ConsumedCapacity, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Kafka } from 'kafkajs';
import type { StagePorts, Topology } from '../../framework/index.js';
import { createDynamoClient } from '../../framework/dynamodb/client.js';
import { DynamoMetrics, DynamoTaskStore, type DynamoOperation } from '../../framework/dynamodb/task-store.js';
import { createKafka } from '../../framework/kafka/client.js';
import { createPlatformaticTxnSink } from '../../framework/kafka/client-choice.js';
import { KafkaTxnSink } from '../../framework/kafka/txn-sink.js';
import { KafkajsChangelogReader } from '../../framework/kafka/changelog-reader.js';
import { KafkaBacklogProbe } from '../../framework/kafka/backlog-probe.js';
import { newKafkaSinkCounters } from '../../framework/kafka/sink-counters.js';
import type { SluiceProcessorConfig } from './protocol.js';
import { WRITE_OPERATIONS, zeroOps } from './protocol.js';

/** DynamoDB work of one invocation. */
export interface InvocationCost {
  ddbRequests: number;
  wru: number;
  rru: number;
}

/** Cumulative counters of the stage functions' work. */
export interface FunctionCounters {
  readonly dynamo: {
    readonly requests: Record<DynamoOperation, number>;
    /** Units by DynamoDB's pricing rules from item sizes (DynamoDB Local reports flat numbers). */
    readonly estimatedUnits: Record<DynamoOperation, number>;
    readonly reportedUnits: Record<DynamoOperation, number>;
    /** ms waited per operation (overlapping calls add up). */
    readonly waitMs: Record<string, number>;
  };
  readonly kafka: {
    /** Requests of the functions' producers, in all and per API. */
    readonly requests: number;
    readonly requestsByApi: Record<string, number>;
    readonly transactions: number;
    readonly aborts: number;
    /** ms waited per `function:<API>` (kafkajs only; overlapping requests add up). */
    readonly waitMs: Record<string, number>;
  };
}

/** Counters at zero. */
export function zeroCounters(): FunctionCounters {
  return {
    dynamo: { requests: zeroOps(), estimatedUnits: zeroOps(), reportedUnits: zeroOps(), waitMs: {} },
    kafka: { requests: 0, requestsByApi: {}, transactions: 0, aborts: 0, waitMs: {} },
  };
}

/** `a + sign · b`, field by field. */
export function combineCounters(a: FunctionCounters, b: FunctionCounters, sign: 1 | -1 = 1): FunctionCounters {
  const rec = <K extends string>(x: Record<K, number>, y: Record<K, number>): Record<K, number> => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y) as Array<[K, number]>) out[k] = (out[k] ?? 0) + sign * v;
    return out;
  };
  return {
    dynamo: {
      requests: rec(a.dynamo.requests, b.dynamo.requests),
      estimatedUnits: rec(a.dynamo.estimatedUnits, b.dynamo.estimatedUnits),
      reportedUnits: rec(a.dynamo.reportedUnits, b.dynamo.reportedUnits),
      waitMs: rec(a.dynamo.waitMs, b.dynamo.waitMs),
    },
    kafka: {
      requests: a.kafka.requests + sign * b.kafka.requests,
      requestsByApi: rec(a.kafka.requestsByApi, b.kafka.requestsByApi),
      transactions: a.kafka.transactions + sign * b.kafka.transactions,
      aborts: a.kafka.aborts + sign * b.kafka.aborts,
      waitMs: rec(a.kafka.waitMs, b.kafka.waitMs),
    },
  };
}

/** The invocation cost a change of counters amounts to (out of process a container serves one invocation at a time, so its change is the invocation's). */
export function costOf(c: FunctionCounters): InvocationCost {
  let wru = 0;
  let rru = 0;
  let ddbRequests = 0;
  for (const [op, n] of Object.entries(c.dynamo.estimatedUnits) as Array<[DynamoOperation, number]>) {
    if (WRITE_OPERATIONS.includes(op)) wru += n;
    else rru += n;
  }
  for (const n of Object.values(c.dynamo.requests)) ddbRequests += n;
  return { ddbRequests, wru, rru };
}

const charged = new AsyncLocalStorage<InvocationCost>();

/** DynamoMetrics that also charges each request to the invocation it was made in. */
class ChargedDynamoMetrics extends DynamoMetrics {
  override record(op: DynamoOperation, consumed: ConsumedCapacity | ConsumedCapacity[] | undefined, estimated = 0): void {
    super.record(op, consumed, estimated);
    const cost = charged.getStore();
    if (!cost) return;
    cost.ddbRequests += 1;
    if (WRITE_OPERATIONS.includes(op)) cost.wru += estimated;
    else cost.rru += estimated;
  }
}

/** Called for each Kafka request a counted client makes: its role, API and how long it took. */
export type RequestCounter = (role: string, api: string, ms: number) => void;

/** What a counted client's producers wrote (the ticker's, for LocalRun's client). */
export interface ProducerWrites {
  /** send/sendBatch calls, records in them, and producer connects (one per ticker run if each run connects anew). */
  sends: number;
  records: number;
  connects: number;
  /** ms spent in sends and in connects. */
  sendMs: number;
  connectMs: number;
}

/**
 * A kafkajs client whose consumers, producers and admins report each request to `count`
 * (consumers as `trigger`: on AWS, Lambda's pollers; producers as `producerRole`), and whose
 * producers count what they write into `writes`.
 */
export function countedKafka(kafka: Kafka, count: RequestCounter, producerRole: string, writes?: ProducerWrites): Kafka {
  const counted = Object.create(kafka) as Kafka;
  counted.consumer = (config) => {
    const c = kafka.consumer(config);
    c.on(c.events.REQUEST, (e) => count('trigger', e.payload.apiName, e.payload.duration));
    return c;
  };
  counted.producer = (config) => {
    const p = kafka.producer(config);
    p.on(p.events.REQUEST, (e) => count(producerRole, e.payload.apiName, e.payload.duration));
    if (!writes) return p;
    const { connect, send, sendBatch } = p;
    const timed = async <T>(f: () => Promise<T>, add: (ms: number) => void): Promise<T> => {
      const started = performance.now();
      try {
        return await f();
      } finally {
        add(performance.now() - started);
      }
    };
    p.connect = () => {
      writes.connects += 1;
      return timed(connect, (ms) => (writes.connectMs += ms));
    };
    p.send = (record) => {
      writes.sends += 1;
      writes.records += record.messages.length;
      return timed(() => send(record), (ms) => (writes.sendMs += ms));
    };
    p.sendBatch = (batch) => {
      writes.sends += 1;
      writes.records += (batch.topicMessages ?? []).reduce((n, t) => n + t.messages.length, 0);
      return timed(() => sendBatch(batch), (ms) => (writes.sendMs += ms));
    };
    return p;
  };
  counted.admin = (config) => {
    const a = kafka.admin(config);
    a.on(a.events.REQUEST, (e) => count('admin', e.payload.apiName, e.payload.duration));
    return a;
  };
  return counted;
}

/** Counts the work of the stage functions whose adapters it builds. */
export class FunctionMeter {
  private readonly metrics = new ChargedDynamoMetrics();
  private readonly sinkCounters = newKafkaSinkCounters();
  private readonly dynamoMs: Record<string, number> = {};
  private readonly kafkaMs: Record<string, number> = {};
  private readonly sinks: Array<{ close(): Promise<void> }> = [];
  /** The DynamoDB client every store of this meter uses (as one Lambda container would). */
  readonly dynamo: DynamoDBClient;

  constructor(
    private readonly cfg: SluiceProcessorConfig,
    private readonly topology: Topology,
  ) {
    this.dynamo = createDynamoClient({ endpoint: cfg.dynamodbEndpoint });
    this.dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        const started = performance.now();
        try {
          return await next(args);
        } finally {
          const op = String(context.commandName ?? 'unknown').replace(/Command$/, '');
          this.dynamoMs[op] = (this.dynamoMs[op] ?? 0) + performance.now() - started;
        }
      },
      { step: 'initialize', name: 'benchTiming' },
    );
  }

  /** Builds one container's adapters (StageHandlerOptions.connect). */
  readonly connect = async (): Promise<StagePorts> => {
    const transactionTimeoutMs = this.topology.settings.transactionTimeoutMs;
    const clientId = `sluice-${this.topology.app}`;
    const time: RequestCounter = (_role, api, ms) => {
      // The sink counts its own requests; only the time is taken here.
      const k = `function:${api}`;
      this.kafkaMs[k] = (this.kafkaMs[k] ?? 0) + ms;
    };
    // The platformatic sink counts its own requests (no per-request times: waitMs has kafkajs's only).
    const kafka = countedKafka(createKafka({ brokers: this.cfg.brokers, clientId, logLevel: 'nothing' }), time, 'function');
    const sink =
      this.cfg.kafkaClient === 'platformatic'
        ? await createPlatformaticTxnSink({ brokers: this.cfg.brokers, clientId }, { transactionTimeoutMs, counters: this.sinkCounters })
        : new KafkaTxnSink(kafka, { transactionTimeoutMs, counters: this.sinkCounters });
    this.sinks.push(sink);
    // As lambdaPorts builds them: the backlog probe on kafkajs whichever client commits.
    const backlog = new KafkaBacklogProbe(kafka);
    this.sinks.push(backlog);
    const log = new KafkajsChangelogReader(kafka);
    this.sinks.push(log);
    return { store: new DynamoTaskStore(this.dynamo, this.cfg.table, { metrics: this.metrics }), sink, backlog, log };
  };

  /** A store on the meter's client and metrics, without a sink (the ticker's reader of checkpoints). */
  store(): DynamoTaskStore {
    return new DynamoTaskStore(this.dynamo, this.cfg.table, { metrics: this.metrics });
  }

  /** Runs `f` (one invocation), charging its DynamoDB requests to `cost`. */
  charge<T>(cost: InvocationCost, f: () => Promise<T>): Promise<T> {
    return charged.run(cost, f);
  }

  /** The counters so far. */
  counters(): FunctionCounters {
    return {
      dynamo: {
        requests: { ...zeroOps(), ...this.metrics.requests },
        estimatedUnits: { ...zeroOps(), ...this.metrics.estimatedCapacityUnits },
        reportedUnits: { ...zeroOps(), ...this.metrics.capacityUnits },
        waitMs: { ...this.dynamoMs },
      },
      kafka: {
        requests: this.sinkCounters.requests,
        requestsByApi: { ...this.sinkCounters.requestsByApi },
        transactions: this.sinkCounters.transactions,
        aborts: this.sinkCounters.aborts,
        waitMs: { ...this.kafkaMs },
      },
    };
  }

  /** Closes the producers it built. */
  async close(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close().catch(() => undefined)));
    this.dynamo.destroy();
  }
}
