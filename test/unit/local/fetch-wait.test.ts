/** How the trigger emulator's fetch waits, as Lambda's batching window does. */
import { describe, expect, it } from 'vitest';
import { fetchWait, MAX_PAYLOAD_BYTES } from '../../../framework/local/esm/mapping.js';

describe('fetchWait', () => {
  it('waits up to the batching window for a full batch of records', () => {
    const w = fetchWait({ batchSize: 500, batchingWindowMs: 1_000 });
    expect(w.maxWaitTimeInMs).toBe(1_000);
    expect(w.minBytes).toBeGreaterThan(500 * 100);
  });

  it('never waits for more than the payload limit', () => {
    expect(fetchWait({ batchSize: 10_000, batchingWindowMs: 500, maxPayloadBytes: 1024 * 1024 }).minBytes).toBe(1024 * 1024);
    expect(fetchWait({ batchSize: 10_000, batchingWindowMs: 500 }).minBytes).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
  });

  it('returns with the first record when the window is 0', () => {
    expect(fetchWait({ batchSize: 500, batchingWindowMs: 0 }).minBytes).toBe(1);
  });
});
