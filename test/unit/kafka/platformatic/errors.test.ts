import { describe, expect, it } from 'vitest';
import { endTxnResend, ENDTXN_MAX_SENDS, isFencedByBroker, protocolErrorIds, retryDelayMs } from '../../../../framework/kafka/platformatic/errors.js';

/** The shapes @platformatic/kafka builds: ProtocolError (apiId) inside ResponseError / MultipleErrors (AggregateError.errors). */
const protocol = (apiId: string): Error => Object.assign(new Error(apiId), { code: 'PLT_KFK_PROTOCOL', apiId });
const response = (...ids: string[]): Error => new AggregateError(ids.map(protocol), 'Received response with error while executing API EndTxn(v4)');
const retried = (...errors: Error[]): Error => new AggregateError(errors, 'endTransaction failed 3 times.');

describe('platformatic errors', () => {
  it('finds every broker error name in errors and causes, outermost first', () => {
    const error = retried(response('CONCURRENT_TRANSACTIONS'), new Error('wrapped', { cause: response('PRODUCER_FENCED') }));
    expect(protocolErrorIds(error)).toEqual(['CONCURRENT_TRANSACTIONS', 'PRODUCER_FENCED']);
    expect(protocolErrorIds(new Error('plain'))).toEqual([]);
    expect(protocolErrorIds(undefined)).toEqual([]);
  });

  it('calls PRODUCER_FENCED and INVALID_PRODUCER_EPOCH fenced, anywhere in the tree, and nothing else', () => {
    expect(isFencedByBroker(retried(response('CONCURRENT_TRANSACTIONS'), response('PRODUCER_FENCED')))).toBe(true);
    expect(isFencedByBroker(response('INVALID_PRODUCER_EPOCH'))).toBe(true);
    expect(isFencedByBroker(response('INVALID_TXN_STATE'))).toBe(false);
    expect(isFencedByBroker(new Error('There is a newer producer with the same transactionalId which fences the current one.'))).toBe(false);
  });

  it('sends EndTxn again after UNKNOWN_SERVER_ERROR, backing off from 20 ms, at most ENDTXN_MAX_SENDS times', () => {
    expect(endTxnResend(response('UNKNOWN_SERVER_ERROR'), 1)).toEqual({ again: true, delayMs: 20 });
    expect(endTxnResend(response('UNKNOWN_SERVER_ERROR'), 3)).toEqual({ again: true, delayMs: 80 });
    expect(endTxnResend(response('UNKNOWN_SERVER_ERROR'), ENDTXN_MAX_SENDS)).toEqual({ again: false });
  });

  it('does not send EndTxn again when the answer is definite or the library already retried it', () => {
    expect(endTxnResend(retried(response('UNKNOWN_SERVER_ERROR'), response('PRODUCER_FENCED')), 1)).toEqual({ again: false });
    expect(endTxnResend(response('INVALID_TXN_STATE'), 1)).toEqual({ again: false });
    expect(endTxnResend(retried(response('CONCURRENT_TRANSACTIONS'), response('CONCURRENT_TRANSACTIONS')), 1)).toEqual({ again: false });
  });

  it('backs the library off 20 ms doubling to 1 s', () => {
    expect([1, 2, 3, 6, 7, 12].map(retryDelayMs)).toEqual([20, 40, 80, 640, 1_000, 1_000]);
  });
});
