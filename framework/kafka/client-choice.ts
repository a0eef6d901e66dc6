/**
 * Which Kafka client a stage's commit protocol uses (the TxnSink adapter). kafkajs is the default;
 * @platformatic/kafka is the measured alternative (docs/kafka-clients.md). The alternative needs
 * Node ≥ 22 and is loaded only when chosen, so nothing imports it on Node 20.
 *
 *   SLUICE_KAFKA_CLIENT   kafkajs | platformatic (default kafkajs)
 */
import type { TxnSink } from '../commit/ports.js';
import { ConfigError } from '../errors.js';
import type { PlatformaticClientConfig } from './platformatic/connection.js';
import type * as PlatformaticSinkModule from './platformatic/txn-sink.js';
import type { PlatformaticTxnSinkOptions } from './platformatic/txn-sink.js';

/** The Kafka clients a TxnSink can be built on. */
export const KAFKA_CLIENTS = ['kafkajs', 'platformatic'] as const;
/** One of KAFKA_CLIENTS. */
export type KafkaClientName = (typeof KAFKA_CLIENTS)[number];

/** The module of PlatformaticTxnSink, relative to this one. */
const PLATFORMATIC_SINK_MODULE = './platformatic/txn-sink.js';

/** The lowest Node major version @platformatic/kafka runs on. */
export const PLATFORMATIC_MIN_NODE_MAJOR = 22;

/** The client named by `value` (an option or SLUICE_KAFKA_CLIENT); kafkajs when unset; ConfigError otherwise. */
export function kafkaClientName(value: string | undefined, nodeVersion: string = process.versions.node): KafkaClientName {
  const name = value === undefined || value === '' ? 'kafkajs' : value;
  if (!(KAFKA_CLIENTS as readonly string[]).includes(name)) {
    throw new ConfigError(`SLUICE_KAFKA_CLIENT "${name}" is not one of ${KAFKA_CLIENTS.join(', ')}`, { field: 'SLUICE_KAFKA_CLIENT' });
  }
  const major = Number(nodeVersion.split('.')[0]);
  if (name === 'platformatic' && !(major >= PLATFORMATIC_MIN_NODE_MAJOR)) {
    throw new ConfigError(
      `SLUICE_KAFKA_CLIENT=platformatic needs Node ${PLATFORMATIC_MIN_NODE_MAJOR} or later; this is Node ${nodeVersion}`,
      { field: 'SLUICE_KAFKA_CLIENT' },
      'deploy on the nodejs22.x runtime (locally: bash .ci/node22.sh installs Node 22), or leave SLUICE_KAFKA_CLIENT unset for kafkajs',
    );
  }
  return name as KafkaClientName;
}

/** A TxnSink over @platformatic/kafka, loaded on first use; it has `close()` and `metrics` like KafkaTxnSink. */
export async function createPlatformaticTxnSink(config: PlatformaticClientConfig, options: PlatformaticTxnSinkOptions): Promise<TxnSink & { close(): Promise<void> }> {
  kafkaClientName('platformatic');
  // A specifier the bundler cannot follow: bundled, the client and its dependencies would add
  // about 0.7 MB to every stage's bundle, chosen or not (docs/kafka-clients.md, "Deploying").
  const specifier = PLATFORMATIC_SINK_MODULE;
  let loaded: typeof PlatformaticSinkModule;
  try {
    loaded = (await import(specifier)) as typeof PlatformaticSinkModule;
  } catch (error) {
    throw new ConfigError(
      `SLUICE_KAFKA_CLIENT=platformatic: could not load the platformatic sink (${error instanceof Error ? error.message : String(error)})`,
      { field: 'SLUICE_KAFKA_CLIENT' },
      'stage bundles built by the deploy plugin (`osls package` / `osls deploy`) contain the kafkajs sink only; run from the sources (sluice dev, tests, benchmarks) or leave SLUICE_KAFKA_CLIENT unset',
    );
  }
  return new loaded.PlatformaticTxnSink(config, options);
}
