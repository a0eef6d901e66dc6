/**
 * What a processor did in one phase (pure): the difference of its cumulative counters between two
 * stats messages, in all, per 1,000 source events or per minute.
 */
import type { InvocationSample, ProcessorStats } from './processors/protocol.js';
import { READ_OPERATIONS, WRITE_OPERATIONS } from './processors/protocol.js';

/** Operation counts of a phase, in all or scaled (per 1,000 events, per minute). */
export interface PhaseOps {
  readonly dynamoRequests: number;
  /** Estimated (DynamoDB pricing rules) write and read units; DynamoDB Local's own figures beside. */
  readonly writeUnits: number;
  readonly readUnits: number;
  readonly reportedUnits: number;
  /** Kafka requests of every client the deployment runs (Sluice: functions + triggers + ticker). */
  readonly kafkaRequests: number;
  readonly kafkaRequestsByClient: Record<string, number>;
  readonly transactions: number;
  readonly invocations: number;
  /** Sluice: control invocations (marks, ticks), and those of them that carried ticks. */
  readonly controlInvocations?: number;
  readonly tickInvocations?: number;
  /** Sluice: ticker passes, ticker writes (each ticks every partition due) and the tick records in them. */
  readonly tickerPasses?: number;
  readonly tickWrites?: number;
  readonly tickRecords?: number;
  /** CPU time of the processor's process (out of process: the emulated pollers, not the functions). */
  readonly cpuMs: number;
  /** Sluice with the functions out of process: CPU time of their containers' processes (start-up and time between invocations included, which Lambda freezes and does not bill). */
  readonly functionCpuMs?: number;
  /** The same, within invocations only (each container measures its handler's CPU time). */
  readonly invocationCpuMs?: number;
  /** Sluice: time its functions waited on DynamoDB and on Kafka (per operation; concurrent waits add up). */
  readonly waitMs?: { readonly dynamodb: Record<string, number>; readonly kafka: Record<string, number> };
}

/** Operation counts per 1,000 source events, and the events they are over. */
export interface OpsPer1k extends PhaseOps {
  readonly events: number;
}

/** The counters' change from `before` (undefined: the start) to `after`; `cpu` is the processor's CPU ms over the phase. */
export function phaseOps(before: ProcessorStats | undefined, after: ProcessorStats, cpu: number): PhaseOps {
  const sum = (rec: Record<string, number> | undefined, keys?: readonly string[]): number =>
    Object.entries(rec ?? {}).reduce((n, [key, v]) => (keys === undefined || keys.includes(key) ? n + v : n), 0);
  const diff = (f: (x: ProcessorStats) => number): number => f(after) - (before ? f(before) : 0);
  const byClient: Record<string, number> = {};
  for (const [client, n] of Object.entries(after.kafka.requestsByClient)) {
    if (client === 'admin') continue;
    byClient[client] = n - (before?.kafka.requestsByClient[client] ?? 0);
  }
  const invocations: readonly InvocationSample[] = after.invocations ?? [];
  const control = invocations.filter((x) => x.kind === 'control');
  const waits = (now: Record<string, number> | undefined, then: Record<string, number> | undefined): Record<string, number> =>
    Object.fromEntries(Object.entries(now ?? {}).map(([op, ms]) => [op, ms - (then?.[op] ?? 0)]));
  return {
    ...(after.dynamo?.waitMs ? { waitMs: { dynamodb: waits(after.dynamo.waitMs, before?.dynamo?.waitMs), kafka: waits(after.kafka.waitMs, before?.kafka.waitMs) } } : {}),
    dynamoRequests: diff((x) => sum(x.dynamo?.requests)),
    writeUnits: diff((x) => sum(x.dynamo?.estimatedUnits, WRITE_OPERATIONS)),
    readUnits: diff((x) => sum(x.dynamo?.estimatedUnits, READ_OPERATIONS)),
    reportedUnits: diff((x) => sum(x.dynamo?.reportedUnits)),
    kafkaRequests: Object.values(byClient).reduce((a, b) => a + b, 0),
    kafkaRequestsByClient: byClient,
    transactions: diff((x) => x.kafka.transactions),
    invocations: invocations.length,
    ...(after.invocations ? { controlInvocations: control.length, tickInvocations: control.filter((x) => (x.ticks ?? 0) > 0).length } : {}),
    ...(after.ticker
      ? { tickerPasses: diff((x) => x.ticker?.passes ?? 0), tickWrites: diff((x) => x.ticker?.sends ?? 0), tickRecords: diff((x) => x.ticker?.records ?? 0) }
      : {}),
    cpuMs: cpu,
    ...(after.functions ? { functionCpuMs: diff((x) => x.functions?.cpuMs ?? 0), invocationCpuMs: invocations.reduce((n, x) => n + (x.cpuMs ?? 0), 0) } : {}),
  };
}

/** Every count of `ops` times `k` (per 1,000 events: 1000 / events; per minute: 60 / seconds). */
export function scaleOps(ops: PhaseOps, k: number): PhaseOps {
  const scaled = (rec: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(rec).map(([key, v]) => [key, v * k]));
  const opt = (v: number | undefined): number | undefined => (v === undefined ? undefined : v * k);
  const out: { -readonly [K in keyof PhaseOps]: PhaseOps[K] } = {
    dynamoRequests: ops.dynamoRequests * k,
    writeUnits: ops.writeUnits * k,
    readUnits: ops.readUnits * k,
    reportedUnits: ops.reportedUnits * k,
    kafkaRequests: ops.kafkaRequests * k,
    kafkaRequestsByClient: scaled(ops.kafkaRequestsByClient),
    transactions: ops.transactions * k,
    invocations: ops.invocations * k,
    cpuMs: ops.cpuMs * k,
  };
  for (const key of ['controlInvocations', 'tickInvocations', 'tickerPasses', 'tickWrites', 'tickRecords', 'functionCpuMs', 'invocationCpuMs'] as const) {
    const v = opt(ops[key]);
    if (v !== undefined) out[key] = v;
  }
  if (ops.waitMs) out.waitMs = { dynamodb: scaled(ops.waitMs.dynamodb), kafka: scaled(ops.waitMs.kafka) };
  return out;
}

/** Operation counts per 1,000 of `events` source events. */
export function per1k(ops: PhaseOps, events: number): OpsPer1k {
  return { ...scaleOps(ops, 1000 / Math.max(1, events)), events };
}
