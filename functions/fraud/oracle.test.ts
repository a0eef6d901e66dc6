import { describe, expect, it } from 'vitest';
import { generateFraud } from './generator.js';
import { expectFraud } from './oracle.js';

describe('the fraud example’s generator and oracle', () => {
  const input = generateFraud({ seed: 7, accounts: 30, payments: 200, start: Date.UTC(2026, 2, 1) });

  it('generates every case the pipeline handles: updates, closures, matched, unmatched and too-early logins, unknown accounts', () => {
    expect(input.accounts.length).toBeGreaterThan(30);
    expect(input.accounts.some((c) => c.value === null)).toBe(true);
    expect(input.payments.some((p) => p.account.startsWith('gone'))).toBe(true);
    const expected = expectFraud(input.accounts, input.logins, input.payments, input.end);
    expect(expected.alerts.length).toBeGreaterThan(10);
    expect(expected.cleared.length).toBeGreaterThan(50);
    expect(expected.alerts.some((a) => a.includes(' - '))).toBe(true);
  });

  it('keeps each stream out of order by less than the sources’ 5 s, so nothing is late', () => {
    for (const stream of [input.logins, input.payments]) {
      let max = -Infinity;
      for (const r of stream) {
        expect(r.at).toBeGreaterThan(max - 5_000);
        max = Math.max(max, r.at);
      }
    }
  });

  it('gives no result yet to a payment without a login whose window the watermark has not passed', () => {
    const first = input.payments[0]!;
    const lonely = { ...first, session: 'nobody' };
    expect(expectFraud([], [], [lonely], lonely.at + 59_999)).toMatchObject({ alerts: [], cleared: [] });
    expect(expectFraud([], [], [lonely], lonely.at + 60_000).alerts).toHaveLength(1);
  });
});
