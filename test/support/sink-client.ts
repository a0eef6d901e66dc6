/**
 * The TxnSink adapter integration tests run against: kafkajs's KafkaTxnSink by default,
 * @platformatic/kafka's PlatformaticTxnSink with SLUICE_KAFKA_CLIENT=platformatic (Node ≥ 22:
 * run vitest with the binary `bash .ci/node22.sh` prints). The library is imported only then.
 */
import type { Kafka } from 'kafkajs';
import { expect } from 'vitest';
import type { TxnSink } from '../../framework/commit/ports.js';
import { kafkaClientName, type KafkaClientName } from '../../framework/kafka/client-choice.js';
import { protocolErrorIds } from '../../framework/kafka/platformatic/errors.js';
import { KafkaTxnSink, type KafkaTxnSinkOptions } from '../../framework/kafka/txn-sink.js';
import { type KafkaSinkCounters } from '../../framework/kafka/sink-counters.js';
import { testBrokers } from './infra.js';

/** The client under test (SLUICE_KAFKA_CLIENT). */
export const SINK_CLIENT: KafkaClientName = kafkaClientName(process.env.SLUICE_KAFKA_CLIENT);

const platformatic = SINK_CLIENT === 'platformatic' ? await import('../../framework/kafka/platformatic/txn-sink.js') : undefined;

/** A sink as the tests use it: the port plus close() and its counters. */
export type TestSink = TxnSink & { close(): Promise<void>; readonly metrics: Readonly<KafkaSinkCounters> };

/** A sink of the client under test; `kafka` is the kafkajs client (its client id is kept for the other client). */
export function testSink(kafka: Kafka, options: KafkaTxnSinkOptions): TestSink {
  if (!platformatic) return new KafkaTxnSink(kafka, options);
  const { producerRetry: _kafkajsOnly, ...rest } = options;
  return new platformatic.PlatformaticTxnSink({ brokers: testBrokers(), clientId: 'sluice-test-platformatic' }, rest);
}

/** EndTxn requests the client under test sent again after an undecided answer (kafkajs: txn-retries.ts). */
export async function endTxnResends(): Promise<number> {
  if (platformatic) return platformatic.platformaticEndTxnResendCount();
  const { endTxnRetryCount } = await import('../../framework/kafka/txn-retries.js');
  return endTxnRetryCount();
}

/**
 * Checks the `cause` of a ProducerFencedError: kafkajs's old request versions get
 * INVALID_PRODUCER_EPOCH (47); the platformatic client's get PRODUCER_FENCED (90), inside the
 * library's ResponseError (or its MultipleErrors, when retriable answers came first).
 */
export function expectFencedCause(cause: unknown): void {
  if (SINK_CLIENT === 'kafkajs') expect(cause).toMatchObject({ name: 'KafkaJSProtocolError', type: 'INVALID_PRODUCER_EPOCH', code: 47 });
  else expect(protocolErrorIds(cause)).toContain('PRODUCER_FENCED');
}
