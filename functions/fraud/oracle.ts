/**
 * What the fraud pipeline must write for a generated input, computed without the runtime: the
 * account table as it stands once every change was read (payments are fed after the accounts),
 * each payment left-joined with the logins of its session within [−30 min, +1 min] of it, scored
 * with the pipeline's own pure `score`, and routed by ALERT_AT. A payment whose join window the
 * final watermark has not passed has no result yet (it is still waiting for a login).
 */
import type { AccountChange } from './generator.js';
import { ALERT_AT, score, type Account, type Login, type Payment, type ScoredPayment } from './pipeline.js';

/** Expected results, one line per scored payment: `<payment id> <login session or -> <risk>`, sorted. */
export interface FraudExpectation {
  readonly alerts: readonly string[];
  readonly cleared: readonly string[];
  /** Each account's committed table row at the end (absent: closed or never existed). */
  readonly table: ReadonlyMap<string, Account>;
}

/** The window of a payment's logins, ms relative to the payment. */
const BEFORE_MS = 30 * 60_000;
const AFTER_MS = 60_000;

/** The expectation for `payments` and `logins` after `accounts`, once the watermark of `score` reached `watermark`. */
export function expectFraud(accounts: readonly AccountChange[], logins: readonly Login[], payments: readonly Payment[], watermark: number): FraudExpectation {
  const table = new Map<string, Account>();
  for (const c of accounts) {
    if (c.value === null) table.delete(c.key);
    else table.set(c.key, c.value);
  }
  const results: ScoredPayment[] = [];
  for (const p of payments) {
    const matches = logins.filter((l) => l.session === p.session && p.at - BEFORE_MS <= l.at && l.at <= p.at + AFTER_MS);
    const row = table.get(p.account) ?? null;
    if (matches.length > 0) results.push(...matches.map((l) => score(p, row, l)));
    else if (p.at + AFTER_MS <= watermark) results.push(score(p, row, null));
  }
  return {
    alerts: results.filter((r) => r.risk >= ALERT_AT).map(describeScored).sort(),
    cleared: results.filter((r) => r.risk < ALERT_AT).map(describeScored).sort(),
    table,
  };
}

/** One scored payment as a comparable line. */
export function describeScored(s: ScoredPayment): string {
  return `${s.payment.id} ${s.login?.session ?? '-'} ${s.risk}`;
}
