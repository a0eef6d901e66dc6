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

/** The example's external topics; tests give each run its own. */
export interface FraudTopics {
  readonly accounts: string;
  readonly logins: string;
  readonly payments: string;
  readonly alerts: string;
  readonly cleared: string;
}

/** The topics `sluice dev` and a deployment use. */
export const FRAUD_TOPICS: FraudTopics = { accounts: 'accounts', logins: 'logins', payments: 'payments', alerts: 'fraud-alerts', cleared: 'payments-cleared' };

/** Builds the fraud pipeline under `app` over `topics` (stages `accounts`, `payments`, `logins`, `enrich`, `score`). */
export function buildFraud(app = 'fraud', topics: FraudTopics = FRAUD_TOPICS, partitions = 4) {
  const p = pipeline(app, { partitions });

  // Accounts by id: a table read from its compacted topic, kept where it is joined (`enrich`, state `table-accounts`).
  const accounts = p.table<string, Account>(topics.accounts, { keySerde: string(), serde: json<Account>(), partitions, name: 'accounts' }).stage('accounts');

  const logins = p
    .source<Login>(topics.logins, { serde: json<Login>(), eventTime: (l) => l.at, maxOutOfOrderness: '5s', partitions })
    .stage('logins')
    .keyBy((l) => l.session, { name: 'session', keySerde: string(), serde: json<Login>() });

  const payments = p
    .source<Payment>(topics.payments, { serde: json<Payment>(), eventTime: (x) => x.at, maxOutOfOrderness: '5s', partitions })
    .stage('payments')
    .keyBy((x) => x.account, { name: 'account', keySerde: string(), serde: json<Payment>() });

  // Each payment with its account's row as of now, then by session for the login join.
  const enriched = payments
    .join(accounts, { type: 'left' })
    .stage('enrich')
    .map((r): EnrichedPayment => ({ payment: r.left, account: r.right }))
    .keyBy((e) => e.payment.session, { name: 'payment-session', keySerde: string(), serde: json<EnrichedPayment>() });

  // One result per login of the session in the window (sessions have one login), or one without.
  const scored = enriched
    .intervalJoin(logins, { lower: LOGIN_BEFORE, upper: LOGIN_AFTER, type: 'left' })
    .stage('score')
    .map((r) => score(r.left.payment, r.left.account, r.right));

  scored.filter((x) => x.risk >= ALERT_AT).sink(topics.alerts, { serde: json<ScoredPayment>() });
  scored.filter((x) => x.risk < ALERT_AT).sink(topics.cleared, { serde: json<ScoredPayment>() });
  return { pipeline: p, accounts, logins, payments, enriched };
}

const built = buildFraud();

/** The fraud pipeline as `sluice dev --pipeline functions/fraud/pipeline.ts#fraud` and the handlers run it. */
export const fraud = built.pipeline;
/** Its streams and table, for per-stage tests (`h.send(records, { from: accounts })`). */
export const { accounts, logins, payments, enriched } = built;
