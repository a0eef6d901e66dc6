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

declare module 'kafkajs/src/protocol/requests/fetch/v4/response.js' {
  const response: { parse: (data: unknown) => Promise<unknown> };
  export default response;
}
declare module 'kafkajs/src/protocol/requests/fetch/v5/response.js' {
  const response: { parse: (data: unknown) => Promise<unknown> };
  export default response;
}
declare module 'kafkajs/src/protocol/requests/fetch/v6/response.js' {
  const response: { parse: (data: unknown) => Promise<unknown> };
  export default response;
}
declare module 'kafkajs/src/protocol/requests/fetch/v7/response.js' {
  const response: { parse: (data: unknown) => Promise<unknown> };
  export default response;
}
declare module 'kafkajs/src/protocol/requests/fetch/v8/response.js' {
  const response: { parse: (data: unknown) => Promise<unknown> };
  export default response;
}
declare module 'kafkajs/src/protocol/requests/fetch/v9/response.js' {
  const response: { parse: (data: unknown) => Promise<unknown> };
  export default response;
}
declare module 'kafkajs/src/protocol/requests/fetch/v10/response.js' {
  const response: { parse: (data: unknown) => Promise<unknown> };
  export default response;
}
declare module 'kafkajs/src/protocol/requests/fetch/v11/response.js' {
  const response: { parse: (data: unknown) => Promise<unknown> };
  export default response;
}
