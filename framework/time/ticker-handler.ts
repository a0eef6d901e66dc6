/**
 * The ticker's Lambda handler, run by a one-minute schedule: ticks every
 * SLUICE_TICK_INTERVAL_MS (default 5 s) for just under a minute, so sub-minute ticks
 * reach the source stages although EventBridge fires at most once a minute.
 */
import type { Pipeline } from '../dsl/pipeline.js';
import { createKafka } from '../kafka/client.js';
import { kafkaAuthFromEnv } from '../kafka/auth.js';
import { ConfigError } from '../errors.js';
import { compile } from '../topology/compile.js';
import type { Topology } from '../topology/topology.js';
import { runTicker } from './ticker.js';

/** Builds the ticker handler of a pipeline. */
export function tickerHandler(source: Pipeline | Topology, env: NodeJS.ProcessEnv = process.env): () => Promise<{ ticks: number }> {
  const topology = 'stages' in source ? source : compile(source.plan());
  return async () => {
    const brokers = env.SLUICE_KAFKA_BROKERS?.split(',').filter(Boolean) ?? [];
    if (brokers.length === 0) throw new ConfigError('the ticker needs SLUICE_KAFKA_BROKERS', { field: 'SLUICE_KAFKA_BROKERS' }, 'the deploy plugin sets it from custom.sluice.kafka');
    const kafka = createKafka({ brokers, clientId: `sluice-${topology.app}-ticker`, ...(await kafkaAuthFromEnv(env)) });
    const intervalMs = Number(env.SLUICE_TICK_INTERVAL_MS ?? 5_000);
    const ticks = await runTicker(kafka, topology, { intervalMs, durationMs: Number(env.SLUICE_TICK_DURATION_MS ?? 55_000) });
    return { ticks };
  };
}
