import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PENDING_CHECK_INTERVAL_MS, fixKafkajsRequestQueue, pendingCheckDelay } from '../../../framework/kafka/request-queue.js';

interface Queue {
  push(request: { entry: Record<string, unknown>; expectResponse: boolean; sendRequest: () => void }): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer; size: number }): void;
  maybeThrottle(ms: number): void;
  destroy(): void;
}

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** A real kafkajs RequestQueue, as a broker connection builds it. */
function requestQueue(maxInFlightRequests: number | null = null): Queue {
  const RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as new (o: object) => Queue;
  return new RequestQueue({ maxInFlightRequests, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 't', broker: 'b:9092', logger: silent });
}

function request(correlationId: number, sent: number[]): Parameters<Queue['push']>[0] {
  return {
    entry: { correlationId, apiKey: 0, apiName: 'Produce', apiVersion: 3, resolve: () => undefined, reject: () => undefined },
    expectResponse: true,
    sendRequest: () => sent.push(correlationId),
  };
}

describe('when kafkajs checks its request queue again (pure)', () => {
  it('sets no timer when nothing is queued, throttled or not', () => {
    expect(pendingCheckDelay(0, -1, 1_000)).toBeUndefined();
    expect(pendingCheckDelay(0, 5_000, 1_000)).toBeUndefined();
  });

  it('waits out a throttle, else polls every 10 ms while requests are queued', () => {
    expect(pendingCheckDelay(2, 1_250, 1_000)).toBe(250);
    expect(pendingCheckDelay(2, -1, 1_000)).toBe(PENDING_CHECK_INTERVAL_MS);
    expect(pendingCheckDelay(1, 1_000, 1_000)).toBe(PENDING_CHECK_INTERVAL_MS);
  });
});

describe('kafkajs RequestQueue with the fix installed', () => {
  beforeEach(() => {
    fixKafkajsRequestQueue();
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it('leaves no timer behind once a request is answered (kafkajs 2.2.4 kept one firing every 1 ms)', () => {
    const queue = requestQueue();
    const sent: number[] = [];
    queue.push(request(1, sent));
    queue.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 });
    expect(sent).toEqual([1]);
    expect(vi.getTimerCount()).toBe(0);
    queue.destroy();
  });

  it('still sends a queued request when the broker throttle ends', () => {
    const queue = requestQueue();
    const sent: number[] = [];
    queue.maybeThrottle(200);
    queue.push(request(1, sent));
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(199);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(20);
    expect(sent).toEqual([1]);
    queue.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 });
    expect(vi.getTimerCount()).toBe(0);
    queue.destroy();
  });

  it('still sends requests queued behind the in-flight limit as earlier ones are answered', () => {
    const queue = requestQueue(1);
    const sent: number[] = [];
    queue.push(request(1, sent));
    queue.push(request(2, sent));
    expect(sent).toEqual([1]);
    queue.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 });
    expect(sent).toEqual([1, 2]);
    queue.fulfillRequest({ correlationId: 2, payload: Buffer.alloc(0), size: 0 });
    // The safety poll set while request 2 waited fires once and sets no other.
    vi.advanceTimersByTime(PENDING_CHECK_INTERVAL_MS);
    expect(vi.getTimerCount()).toBe(0);
    queue.destroy();
  });
});
