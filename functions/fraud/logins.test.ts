import { describe, expect, it } from 'vitest';
import { stageHarness } from '../../framework/testing/index.js';
import { fraud, type Login } from './pipeline.js';

const T0 = Date.UTC(2026, 2, 1, 9, 0);

describe('logins stage', () => {
  it('repartitions logins by session into score’s input, with their event time', async () => {
    const h = stageHarness(fraud, 'logins');
    const login: Login = { session: 's1', account: 'acc-1', country: 'NL', device: 'phone', at: T0 };
    await h.send([{ value: login }]);
    const [out] = h.kafka.readCommitted('fraud.score.in');
    expect(out!.key?.toString()).toBe('s1');
    expect(out!.headers.find((x) => x.name === 'sluice-et')?.value.toString()).toBe(String(T0));
  });
});
