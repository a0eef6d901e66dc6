/**
 * Counts the Kafka requests of a PlatformaticTxnSink's clients, for "Kafka requests per 1,000
 * events". @platformatic/kafka announces every request on the diagnostics channel
 * `plt:kafka:connections:api` with its connection, and a connection carries its client's
 * `context` option: each sink passes its counters object as that context.
 */
import { subscribe } from 'node:diagnostics_channel';
import { protocolAPIsById } from '@platformatic/kafka';
import type { KafkaSinkCounters } from '../sink-counters.js';

/** The start event of the library's request tracing channel. */
const REQUEST_STARTS = 'tracing:plt:kafka:connections:api:start';

let subscribed = false;

/** Starts counting (once per process): requests of clients whose context is a KafkaSinkCounters go to it. */
export function countRequests(): void {
  if (subscribed) return;
  subscribed = true;
  subscribe(REQUEST_STARTS, (message) => {
    const { connection, apiKey } = message as { connection?: { context?: unknown }; apiKey?: number };
    const counters = connection?.context as Partial<KafkaSinkCounters> | undefined;
    if (!counters || typeof counters.requestsByApi !== 'object' || typeof counters.requests !== 'number' || apiKey === undefined) return;
    counters.requests++;
    const api = protocolAPIsById[apiKey] ?? `api${apiKey}`;
    counters.requestsByApi[api] = (counters.requestsByApi[api] ?? 0) + 1;
  });
}
