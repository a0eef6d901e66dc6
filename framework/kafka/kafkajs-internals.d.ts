/**
 * The kafkajs 2.2.4 modules Sluice patches (read-committed.ts, txn-retries.ts, request-queue.ts),
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
