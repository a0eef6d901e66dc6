/**
 * Seeded input for the fraud example: accounts (with updates and closures), logins and payments
 * whose event times run out of order by less than the sources' maxOutOfOrderness, so no record is
 * late. The same seed gives the same input everywhere. Pure: feed.ts writes it to Kafka, oracle.ts
 * says what the pipeline must make of it.
 */
import type { Account, Login, Payment } from './pipeline.js';
import { intBelow, prng } from '../ysb/random.js';

/** A change of the `accounts` topic: the account's new row, or null (a tombstone: the account is closed). */
export interface AccountChange {
  readonly key: string;
  readonly value: Account | null;
}

/** What to generate. */
export interface FraudInputOptions {
  readonly seed: number;
  readonly accounts: number;
  readonly payments: number;
  /** Event time of the first payment, epoch ms. */
  readonly start: number;
  /** Event time between consecutive payments, ms (default 2 s). */
  readonly spacingMs?: number;
  /** Most a record's event time is off its place in the stream, ms (default 2 s; keep it below maxOutOfOrderness). */
  readonly jitterMs?: number;
}

/** Generated input: account changes (to be read before any payment), then logins and payments, each in the order to produce them. */
export interface FraudInput {
  readonly accounts: readonly AccountChange[];
  readonly logins: readonly Login[];
  readonly payments: readonly Payment[];
  /** One login and one payment at `end` per source partition: they move the watermark past every real record and match nothing. */
  readonly endOfStream: (partitions: number) => { logins: Login[]; payments: Payment[] };
  /** The event time of the end-of-stream records. */
  readonly end: number;
}

const COUNTRIES = ['NL', 'DE', 'FR', 'ES', 'US'] as const;

/** Generates the example's input. */
export function generateFraud(options: FraudInputOptions): FraudInput {
  const next = prng(options.seed);
  const pick = <T>(xs: readonly T[]): T => xs[intBelow(next, xs.length)]!;
  const chance = (p: number): boolean => next() < p;
  const spacing = options.spacingMs ?? 2_000;
  const jitter = options.jitterMs ?? 2_000;
  const id = (prefix: string, n: number): string => `${prefix}-${String(n).padStart(4, '0')}`;

  // Accounts: one row each; some updated (a new limit), some frozen, some closed (tombstone).
  const accounts: AccountChange[] = [];
  const homes = new Map<string, string>();
  for (let i = 0; i < options.accounts; i += 1) {
    const key = id('acc', i);
    const home = pick(COUNTRIES);
    homes.set(key, home);
    accounts.push({ key, value: { holder: `holder ${i}`, homeCountry: home, limit: 50_000 + intBelow(next, 10) * 10_000, status: chance(0.1) ? 'frozen' : 'active' } });
  }
  for (let i = 0; i < options.accounts; i += 1) {
    const key = id('acc', i);
    if (chance(0.2)) accounts.push({ key, value: { holder: `holder ${i}`, homeCountry: homes.get(key)!, limit: 20_000, status: 'active' } });
    else if (chance(0.05)) accounts.push({ key, value: null });
  }

  // Payments in event-time order (jittered); each in a session whose login came shortly before, too early, or never.
  const payments: Payment[] = [];
  const logins: Login[] = [];
  for (let i = 0; i < options.payments; i += 1) {
    const unknown = chance(0.05);
    const account = unknown ? id('gone', i) : id('acc', intBelow(next, options.accounts));
    const home = homes.get(account) ?? pick(COUNTRIES);
    const country = chance(0.1) ? pick(COUNTRIES) : home;
    const at = options.start + i * spacing + intBelow(next, jitter);
    const session = id('s', i);
    payments.push({ id: id('pay', i), account, session, amount: 1_000 + intBelow(next, 80) * 1_000, country, at });
    const fate = next();
    if (fate < 0.8) logins.push({ session, account, country: chance(0.15) ? pick(COUNTRIES) : country, device: `dev-${intBelow(next, 1000)}`, at: at - intBelow(next, 20 * 60_000) });
    else if (fate < 0.9) logins.push({ session, account, country, device: `dev-${intBelow(next, 1000)}`, at: at - 40 * 60_000 - intBelow(next, 60_000) });
  }
  // Logins are produced in their own event-time order, with the same bounded jitter.
  logins.sort((a, b) => a.at - b.at);
  const jittered = logins.map((l) => ({ ...l, at: l.at + intBelow(next, jitter) }));

  const end = options.start + options.payments * spacing + 10 * 60_000;
  const endOfStream = (partitions: number) => ({
    logins: Array.from({ length: partitions }, (_, p) => ({ session: `end-login-${p}`, account: 'end', country: 'NL', device: 'end', at: end })),
    payments: Array.from({ length: partitions }, (_, p) => ({ id: `end-${p}`, account: 'end', session: `end-${p}`, amount: 0, country: 'NL', at: end })),
  });
  return { accounts, logins: jittered, payments, endOfStream, end };
}
