import { describe, expect, it } from 'vitest';
import { ENDTXN_MAX_ATTEMPTS, endTxnDecision } from '../../../framework/kafka/txn-retries.js';

describe('EndTxn retries (as the Java client does)', () => {
  it('re-sends on CONCURRENT_TRANSACTIONS, COORDINATOR_LOAD_IN_PROGRESS and UNKNOWN_SERVER_ERROR, backing off from 20 ms to 1 s', () => {
    expect(endTxnDecision('CONCURRENT_TRANSACTIONS', 1)).toEqual({ retry: true, delayMs: 20 });
    expect(endTxnDecision('COORDINATOR_LOAD_IN_PROGRESS', 2)).toEqual({ retry: true, delayMs: 40 });
    expect(endTxnDecision('UNKNOWN', 3)).toEqual({ retry: true, delayMs: 80 });
    expect(endTxnDecision('CONCURRENT_TRANSACTIONS', 10)).toEqual({ retry: true, delayMs: 1_000 });
  });

  it('gives up after ENDTXN_MAX_ATTEMPTS sends: the commit is then in doubt and recovery decides it', () => {
    expect(endTxnDecision('CONCURRENT_TRANSACTIONS', ENDTXN_MAX_ATTEMPTS - 1).retry).toBe(true);
    expect(endTxnDecision('CONCURRENT_TRANSACTIONS', ENDTXN_MAX_ATTEMPTS).retry).toBe(false);
  });

  it('never re-sends a definite answer: fenced, invalid state, authorisation, or an error without a type', () => {
    for (const type of ['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'INVALID_TXN_STATE', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'NOT_COORDINATOR', undefined]) {
      expect(endTxnDecision(type, 1)).toEqual({ retry: false });
    }
  });
});
