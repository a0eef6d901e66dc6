/**
 * How a stage's @platformatic/kafka clients reach the cluster: the same brokers, TLS and SASL
 * settings as its kafkajs client (kafka/auth.ts builds them in kafkajs's shape; this translates).
 * Pure, so it is tested on any Node version.
 */
import type { ConnectionOptions } from 'node:tls';
import type { KafkaAuth } from '../auth.js';
import { ConfigError } from '../../errors.js';

/** The SASL settings @platformatic/kafka takes (credentials may be providers, called at every authentication). */
export interface PlatformaticSasl {
  readonly mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512' | 'OAUTHBEARER';
  readonly username?: string;
  readonly password?: string;
  readonly token?: () => Promise<string>;
}

/** What every client of a PlatformaticTxnSink is built with. */
export interface PlatformaticConnection {
  readonly clientId: string;
  readonly bootstrapBrokers: string[];
  readonly tls?: ConnectionOptions;
  readonly sasl?: PlatformaticSasl;
  /** TCP connect timeout, ms. */
  readonly connectTimeout: number;
  /** How long a request may wait for its response, ms. */
  readonly requestTimeout: number;
}

/** The options every client of a PlatformaticTxnSink gets: its connection plus retries, metadata age and the counters to count requests into. */
export interface PlatformaticClientOptions extends PlatformaticConnection {
  readonly retries: number;
  readonly retryDelay: (client: unknown, operationId: string, attempt: number) => number;
  readonly metadataMaxAge: number;
  readonly context: unknown;
}

/** Where a PlatformaticTxnSink connects: brokers, client id and the auth kafkaAuthFromEnv built. */
export interface PlatformaticClientConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly auth?: KafkaAuth;
  /** Default 3 s, as kafka/client.ts (a cold JVM broker answers slowly). */
  readonly connectionTimeoutMs?: number;
  /** Default 30 s, as kafka/client.ts. */
  readonly requestTimeoutMs?: number;
}

/** The connection settings of `config` in @platformatic/kafka's shape; ConfigError for a SASL mechanism it lacks. */
export function platformaticConnection(config: PlatformaticClientConfig): PlatformaticConnection {
  if (config.brokers.length === 0) throw new ConfigError('no Kafka brokers given', { field: 'brokers' });
  const { ssl, sasl } = config.auth ?? {};
  const tls = ssl === true ? {} : typeof ssl === 'object' ? ssl : undefined;
  return {
    clientId: config.clientId,
    bootstrapBrokers: [...config.brokers],
    connectTimeout: config.connectionTimeoutMs ?? 3_000,
    requestTimeout: config.requestTimeoutMs ?? 30_000,
    ...(tls ? { tls } : {}),
    ...(sasl ? { sasl: platformaticSasl(sasl) } : {}),
  };
}

function platformaticSasl(sasl: NonNullable<KafkaAuth['sasl']>): PlatformaticSasl {
  switch (sasl.mechanism) {
    case 'plain':
      return { mechanism: 'PLAIN', username: sasl.username, password: sasl.password };
    case 'scram-sha-256':
      return { mechanism: 'SCRAM-SHA-256', username: sasl.username, password: sasl.password };
    case 'scram-sha-512':
      return { mechanism: 'SCRAM-SHA-512', username: sasl.username, password: sasl.password };
    case 'oauthbearer': {
      const provider = sasl.oauthBearerProvider;
      return { mechanism: 'OAUTHBEARER', token: async () => (await provider()).value };
    }
    default:
      throw new ConfigError(`SASL mechanism ${String((sasl as { mechanism?: unknown }).mechanism)} is not supported with SLUICE_KAFKA_CLIENT=platformatic`, { field: 'SLUICE_KAFKA_AUTH' }, 'use kafkajs (the default) for this mechanism');
  }
}
