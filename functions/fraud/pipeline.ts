/**
 * Fraud screening: card payments enriched with the current account record, matched with the
 * login session they were made in, scored, and routed to alerts or cleared.
 *
 *   accounts (compacted) ─▶ [accounts] table changes ─┐
 *   payments ─▶ [payments] keyBy account ─────────────┴▶ [enrich] payment ⋈ account (left, stream-table)
 *                                                           keyBy session ─┐
 *   logins ───▶ [logins] keyBy session ────────────────────────────────────┴▶ [score] payment ⋈ login
 *                                                     (left interval join, login from 30 min before to 1 min after)
 *                                                     → score → fraud-alerts | payments-cleared
 *
 * The account join is in processing order: a payment meets the account row as of when `enrich`
 * reads it (docs/joins.md). The login join is on event time: a payment without a login in its
 * session is scored once the watermark shows no login can still come (1 minute after it).
 */
import { json, pipeline, string } from '../../framework/index.js';

/** A card payment, as the payment gateway writes it to `payments`. */
export interface Payment {
  readonly id: string;
  readonly account: string;
  /** The online-banking session the payment was authorised in. */
  readonly session: string;
  /** Minor units (cents). */
  readonly amount: number;
  /** Where the merchant is (ISO 3166 alpha-2). */
  readonly country: string;
  /** Event time, epoch ms. */
  readonly at: number;
}

/** An account, as core banking publishes it to the compacted topic `accounts` (key: account id; a tombstone when it is closed). */
export interface Account {
  readonly holder: string;
  readonly homeCountry: string;
  /** Largest single payment the account allows, minor units. */
  readonly limit: number;
  readonly status: 'active' | 'frozen';
}

/** A login to online banking, as the identity service writes it to `logins`. */
export interface Login {
  readonly session: string;
  readonly account: string;
  readonly country: string;
  readonly device: string;
  /** Event time, epoch ms. */
  readonly at: number;
}

/** A payment with the account row it met in `enrich` (null: no such account, or closed). */
export interface EnrichedPayment {
  readonly payment: Payment;
  readonly account: Account | null;
}

/** What `score` writes: the payment, what it was matched with, its risk and why. */
export interface ScoredPayment {
  readonly payment: Payment;
  readonly account: Account | null;
  /** The login of the payment's session within the window, or null when none came. */
  readonly login: Login | null;
  readonly risk: number;
  readonly reasons: readonly string[];
}

/** Payments scoring at least this go to `fraud-alerts`. */
export const ALERT_AT = 50;

/** A login counts for a payment from this long before it to this long after it (clock skew). */
export const LOGIN_BEFORE = '-30m';
export const LOGIN_AFTER = '+1m';

/** Scores a payment: the sum of the weights of the reasons that apply. Pure. */
export function score(payment: Payment, account: Account | null, login: Login | null): ScoredPayment {
  const reasons: Array<[string, number]> = [];
  if (account === null) reasons.push(['unknown or closed account', 60]);
  else {
    if (account.status === 'frozen') reasons.push(['account frozen', 100]);
    if (payment.amount > account.limit) reasons.push(['over the account limit', 30]);
    if (payment.country !== account.homeCountry) reasons.push(['merchant abroad', 10]);
  }
  if (login === null) reasons.push(['no login in the session', 50]);
  else if (login.country !== payment.country) reasons.push(['login from another country than the merchant', 30]);
  return { payment, account, login, risk: reasons.reduce((n, [, w]) => n + w, 0), reasons: reasons.map(([r]) => r) };
}

/** The fraud pipeline: stages `accounts`, `payments`, `logins`, `enrich` and `score`. */
export const fraud = pipeline('fraud', { partitions: 4 });

/** Accounts by id: a table read from its compacted topic, kept where it is joined (`enrich`, state `table-accounts`). */
export const accounts = fraud.table<string, Account>('accounts', { keySerde: string(), serde: json<Account>(), partitions: 4 });

/** Logins keyed by session. */
export const logins = fraud
  .source<Login>('logins', { serde: json<Login>(), eventTime: (l) => l.at, maxOutOfOrderness: '5s', partitions: 4 })
  .stage('logins')
  .keyBy((l) => l.session, { name: 'session', keySerde: string(), serde: json<Login>() });

/** Payments keyed by account. */
export const payments = fraud
  .source<Payment>('payments', { serde: json<Payment>(), eventTime: (p) => p.at, maxOutOfOrderness: '5s', partitions: 4 })
  .stage('payments')
  .keyBy((p) => p.account, { name: 'account', keySerde: string(), serde: json<Payment>() });

/** Payments with their account row, keyed by session. */
export const enriched = payments
  .join(accounts, { type: 'left' })
  .stage('enrich')
  .map((r): EnrichedPayment => ({ payment: r.left, account: r.right }))
  .keyBy((e) => e.payment.session, { name: 'payment-session', keySerde: string(), serde: json<EnrichedPayment>() });

const scored = enriched
  .intervalJoin(logins, { lower: LOGIN_BEFORE, upper: LOGIN_AFTER, type: 'left' })
  .stage('score')
  .map((r) => score(r.left.payment, r.left.account, r.right));

scored.filter((s) => s.risk >= ALERT_AT).sink('fraud-alerts', { serde: json<ScoredPayment>() });
scored.filter((s) => s.risk < ALERT_AT).sink('payments-cleared', { serde: json<ScoredPayment>() });
