/**
 * The one place a kafkajs `Kafka` is built, so every part of Sluice talks to brokers with
 * the same logging, timeouts and partitioner behaviour.
 */
import type { ConnectionOptions } from 'node:tls';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { fixKafkajsReadCommitted } from './read-committed.js';
import { fixKafkajsProduceEncoding } from './produce-encoding.js';
import { fixKafkajsRequestQueue } from './request-queue.js';
import { fixKafkajsEndTxn } from './txn-retries.js';

/** How loud kafkajs may be; it logs every retried connection error at `error`. */
export type LogLevelName = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

/** What Sluice needs to reach a cluster. */
export interface KafkaClientConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl?: boolean | ConnectionOptions;
  readonly sasl?: SASLOptions;
  /** Default `error`. */
  readonly logLevel?: LogLevelName;
  /** TCP connect timeout, default 3 s (kafkajs: 1 s, too tight for a cold JVM broker). */
  readonly connectionTimeoutMs?: number;
  /** Per-request timeout, default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Retries of retriable errors, default 5 (kafkajs's default). */
  readonly retries?: number;
}

const LEVELS: Record<LogLevelName, logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};

/** Builds a kafkajs client. */
export function createKafka(config: KafkaClientConfig): Kafka {
  fixKafkajsReadCommitted();
  fixKafkajsEndTxn();
  fixKafkajsRequestQueue();
  fixKafkajsProduceEncoding();
  // kafkajs 2 warns once per process that its default partitioner changed in v2. Sluice wants
  // exactly that default (Java-compatible murmur2), so the warning is noise; callers that pass
  // `createPartitioner` explicitly never see it either.
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  return new Kafka({
    clientId: config.clientId,
    brokers: [...config.brokers],
    ...(config.ssl !== undefined ? { ssl: config.ssl } : {}),
    ...(config.sasl !== undefined ? { sasl: config.sasl } : {}),
    logLevel: LEVELS[config.logLevel ?? 'error'],
    connectionTimeout: config.connectionTimeoutMs ?? 3_000,
    requestTimeout: config.requestTimeoutMs ?? 30_000,
    retry: { retries: config.retries ?? 5 },
  });
}
