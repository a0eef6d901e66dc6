/** What a TxnSink adapter counts and where it reports what the caller need not act on. */

/** Kafka work done through one sink, for "Kafka operations per 1,000 events"; the sink only adds to it. */
export interface KafkaSinkCounters {
  /** Protocol requests sent by every client the sink owns (producers, resolve consumers, admin). */
  requests: number;
  /** Transactions begun, resolve()'s probe transactions included. */
  transactions: number;
  /** Records sent, transactional and direct, probes included. */
  recordsSent: number;
  /** Transactions committed. */
  commits: number;
  /** Transactions aborted on request. */
  aborts: number;
  /** Other tasks' transactional ids fenced because a resolve stalled behind their open transaction. */
  peersFenced: number;
  /** In-doubt resolutions. */
  resolves: number;
  /** Producers dropped because they were fenced. */
  fenced: number;
  /** Producers created (each costs a connect, metadata and an InitProducerId). */
  producersCreated: number;
  /** `requests` by Kafka API name (kafkajs names, e.g. `Produce`, `EndTxn`, `GroupCoordinator` = FindCoordinator). */
  requestsByApi: Record<string, number>;
}

/** A zeroed counter set. */
export function newKafkaSinkCounters(): KafkaSinkCounters {
  return { requests: 0, transactions: 0, recordsSent: 0, commits: 0, aborts: 0, peersFenced: 0, resolves: 0, fenced: 0, producersCreated: 0, requestsByApi: {} };
}

/** Where the sink reports what the caller need not act on (dropped producers, failed cleanups). */
export interface SinkLogger {
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

