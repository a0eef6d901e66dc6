import { describe, expect, it } from 'vitest';
import { json } from '../../framework/index.js';
import { stageHarness } from '../../framework/testing/index.js';
import type { StageHarness } from '../../framework/testing/index.js';
import { enriched, fraud, logins, score, type Account, type EnrichedPayment, type Login, type Payment, type ScoredPayment } from './pipeline.js';

const T0 = Date.UTC(2026, 2, 1, 9, 0);
const MIN = 60_000;
const account: Account = { holder: 'Ann', homeCountry: 'NL', limit: 100_000, status: 'active' };
const payment = (id: string, session: string, at: number, over: Partial<Payment> = {}): Payment => ({ id, account: 'acc-1', session, amount: 5_000, country: 'NL', at, ...over });
const login = (session: string, at: number, country = 'NL'): Login => ({ session, account: 'acc-1', country, device: 'phone', at });
const pay = (p: Payment, row: Account | null = account) => ({ key: p.session, value: { payment: p, account: row } satisfies EnrichedPayment, timestamp: p.at });
const log = (l: Login) => ({ key: l.session, value: l, timestamp: l.at });

function results(h: StageHarness): string[] {
  const line = (s: ScoredPayment) => `${s.payment.id} ${s.login?.device ?? '-'} ${s.risk} ${s.reasons.join('; ')}`;
  return [...h.outputs('fraud-alerts', json<ScoredPayment>()).map((o) => `alert ${line(o.value)}`), ...h.outputs('payments-cleared', json<ScoredPayment>()).map((o) => `clear ${line(o.value)}`)];
}

describe('score', () => {
  it('is the sum of the weights of the reasons that apply', () => {
    expect(score(payment('p', 's', T0), account, login('s', T0))).toMatchObject({ risk: 0, reasons: [] });
    expect(score(payment('p', 's', T0, { amount: 200_000, country: 'FR' }), { ...account, status: 'frozen' }, null)).toMatchObject({
      risk: 100 + 30 + 10 + 50,
      reasons: ['account frozen', 'over the account limit', 'merchant abroad', 'no login in the session'],
    });
    expect(score(payment('p', 's', T0), null, login('s', T0, 'US')).reasons).toEqual(['unknown or closed account', 'login from another country than the merchant']);
  });
});

describe('score stage', () => {
  it('clears a payment whose session logged in shortly before, at once', async () => {
    const h = stageHarness(fraud, 'score');
    await h.send([log(login('s1', T0 - 5 * MIN))], { from: logins });
    await h.send([pay(payment('p1', 's1', T0))], { from: enriched });
    expect(results(h)).toEqual(['clear p1 phone 0 ']);
  });

  it('joins a login that arrives after its payment (out of order across the two sides)', async () => {
    const h = stageHarness(fraud, 'score');
    await h.send([pay(payment('p1', 's1', T0))], { from: enriched });
    await h.send([log(login('s1', T0 - 10 * MIN, 'US'))], { from: logins });
    expect(results(h)).toEqual(['clear p1 phone 30 login from another country than the merchant']);
  });

  it('alerts on a payment without a login once the watermark shows none can come (1 minute after it)', async () => {
    const h = stageHarness(fraud, 'score');
    await h.send([pay(payment('p1', 's1', T0))], { from: enriched });
    await h.send([log(login('s1', T0 - 40 * MIN))], { from: logins }); // too early to count
    await h.watermark(T0 + MIN - 1);
    expect(results(h)).toEqual([]);
    await h.watermark(T0 + MIN);
    expect(results(h)).toEqual(['alert p1 - 50 no login in the session']);
  });

  it('keeps logins only while a payment could still match them, and payments until their window closed', async () => {
    const h = stageHarness(fraud, 'score');
    await h.send([log(login('s1', T0))], { from: logins });
    await h.send([pay(payment('p1', 's1', T0 + MIN))], { from: enriched });
    await h.watermark(T0 + 2 * MIN);
    expect(h.state<{ l: unknown[]; r: unknown[] }>('s1', h.stage.state[0]!.name)).toMatchObject({ l: [], r: [{ t: T0 }] });
    await h.watermark(T0 + 30 * MIN);
    expect(h.state('s1', h.stage.state[0]!.name)).toBeUndefined();
  });

  it('sends a payment behind the watermark to the late topic instead of scoring it', async () => {
    const h = stageHarness(fraud, 'score');
    await h.watermark(T0);
    await h.send([pay(payment('p1', 's1', T0 - 1))], { from: enriched });
    await h.watermark(T0 + 10 * MIN);
    expect(results(h)).toEqual([]);
    expect(h.lateRecords<EnrichedPayment>().map((r) => r.value.payment.id)).toEqual(['p1']);
  });
});
