/**
 * The kafkajs 2.2.4 modules Sluice patches (read-committed.ts, txn-retries.ts, request-queue.ts,
 * produce-encoding.ts),
 * typed as far as the patches use them. They are imported statically, not through
 * `createRequire`, so that esbuild bundles them: a function bundle then patches the kafkajs copy
 * inside it, not one resolved from a node_modules beside the bundle (which Lambda does not have).
 */
declare module 'kafkajs/src/broker/index.js' {
  const Broker: { prototype: { endTxn(args: unknown): Promise<unknown> } };
  export default Broker;
}

declare module 'kafkajs/src/network/requestQueue/index.js' {
  const RequestQueue: {
    prototype: {
      pending: unknown[];
      throttledUntil: number;
      throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
      checkPendingRequests(): void;
      scheduleCheckPendingRequests(): void;
    };
  };
  export default RequestQueue;
}

/** kafkajs's Fetch response parsers (read-committed.ts patches v4 to v11). */
declare module 'kafkajs/src/protocol/requests/fetch/*/response.js' {
  const response: { parse: (data: unknown) => Promise<unknown> };
  export default response;
}

/** kafkajs's Produce request versions (produce-encoding.ts replaces v3 to v7). */
declare module 'kafkajs/src/protocol/requests/produce/index.js' {
  /** Called with kafkajs's Produce arguments (produce-encoding.ts: ProduceArgs). */
  type ProduceRequestFactory = (args: object) => { request: unknown; response: unknown };
  const produce: { protocol: (args: { version: number }) => ProduceRequestFactory };
  export default produce;
}

declare module 'kafkajs/src/protocol/encoder.js' {
  class Encoder {
    constructor(initialSize?: number);
    buf: Buffer;
    offset: number;
  }
  export default Encoder;
}

/** kafkajs's record encoder (v2 record batches). */
declare module 'kafkajs/src/protocol/recordBatch/record/v0/index.js' {
  const record: (args: { offsetDelta: number; timestampDelta: number; key?: unknown; value?: unknown; headers?: unknown }) => { buffer: Buffer };
  export default record;
}

declare module 'kafkajs/src/protocol/recordBatch/crc32C/index.js' {
  const crc32C: (buffer: Buffer) => number;
  export default crc32C;
}

declare module 'kafkajs/src/utils/long.js' {
  interface KafkajsLong {
    getHighBits(): number;
    getLowBits(): number;
  }
  const Long: { fromValue(value: unknown): KafkajsLong; fromInt(value: number): KafkajsLong };
  export default Long;
}

/**
 * kafkajs's Cluster, as changelog-reader.ts uses it: a client's private cluster factory makes one
 * with the client's brokers, TLS and SASL settings; its brokers send single Fetch requests (no
 * consumer group).
 */
declare module 'kafkajs/src/cluster/index.js' {
  export interface KafkajsFetchedMessage {
    offset: string;
    value: Buffer | null;
    isControlRecord: boolean;
  }
  export interface KafkajsFetchResponse {
    responses: Array<{
      topicName: string;
      partitions: Array<{ partition: number; errorCode: number; highWatermark: string; lastStableOffset: string; messages: KafkajsFetchedMessage[] }>;
    }>;
  }
  export interface KafkajsBroker {
    fetch(args: {
      replicaId: number;
      isolationLevel: number;
      maxWaitTime: number;
      minBytes: number;
      maxBytes: number;
      topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
    }): Promise<KafkajsFetchResponse>;
  }
  export interface KafkajsCluster {
    connect(): Promise<void>;
    disconnect(): Promise<void>;
    refreshMetadata(): Promise<void>;
    addTargetTopic(topic: string): Promise<void>;
    findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
    findBroker(args: { nodeId: string }): Promise<KafkajsBroker>;
    findTopicPartitionMetadata(topic: string): Array<{ partitionId: number }>;
    fetchTopicsOffset(topics: Array<{ topic: string; fromBeginning: boolean; partitions: Array<{ partition: number }> }>): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
  }
}
