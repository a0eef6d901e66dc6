/**
 * A benchmark stage function as it runs out of process (processInvoker): the module a container
 * loads, like a deployed stage's handler module, configured by its environment as Lambda
 * configures a function:
 *
 *   SLUICE_STAGE            the stage this function is
 *   SLUICE_BENCH_FUNCTION   the processor's config (JSON): topics, table, brokers, mode, client
 *
 * It answers every invocation with the stage's report and the change of its counters since its
 * previous answer (DynamoDB requests and units, the producers' Kafka requests and transactions),
 * which the processor adds up. A container serves one invocation at a time, so the change is the
 * invocation's own — except after a failed invocation, whose work shows in the next answer.
 */
import { performance } from 'node:perf_hooks';
import { stageHandler } from '../../framework/index.js';
import { benchTopology } from '../variants.js';
import { combineCounters, FunctionMeter, zeroCounters, type FunctionCounters } from './meter.js';
import type { SluiceProcessorConfig } from './protocol.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** What a bench function answers. */
export interface BenchFunctionResult {
  readonly result: unknown;
  /** Counters since this container's previous answer. */
  readonly counters: FunctionCounters;
  /** Handler time of this invocation, and the CPU time the container spent in it, ms. */
  readonly ms: number;
  readonly cpuMs: number;
}

const cfg = JSON.parse(process.env.SLUICE_BENCH_FUNCTION ?? '{}') as SluiceProcessorConfig;
const stage = process.env.SLUICE_STAGE ?? '';
const topology = benchTopology(cfg);
const meter = new FunctionMeter(cfg, topology);
const run = stageHandler(topology, stage, { connect: meter.connect });
let reported = zeroCounters();

/** The function's handler. */
export async function handler(event: unknown): Promise<BenchFunctionResult> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const result = await run(event);
  const spent = process.cpuUsage(cpu);
  const now = meter.counters();
  const counters = combineCounters(now, reported, -1);
  reported = now;
  return { result, counters, ms: performance.now() - started, cpuMs: (spent.user + spent.system) / 1000 };
}
