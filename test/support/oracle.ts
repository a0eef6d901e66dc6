/**
 * The oracle of the exactly-once suite: what a pipeline must have committed, computed from
 * its input alone. Plain TypeScript over plain values: it never calls the Sluice runtime, its
 * serdes, its partitioner or its state code, so a bug there cannot hide by agreeing with itself.
 *
 * The pipeline it knows is "running totals": clicks keyed by user, and per user a running
 * count and sum emitted after every click, with the totals kept as state. When all of a user's
 * clicks come from one input partition the expected output is one exact sequence. When a keyBy
 * merges them from several partitions, any interleaving that keeps each partition's order is
 * correct, and the emitted totals must be that interleaving's prefix sums.
 *
 * Every output carries the id of the click it answers, so each output is traced to exactly one
 * input: a second output for the same click is a duplicate, a click without one was lost.
 */

/** An input event. `id` is unique over the whole input. */
export interface Click {
  readonly id: string;
  readonly user: string;
  readonly amount: number;
}

/** A user's totals: the keyed state, and what every output reports. */
export interface Totals {
  readonly count: number;
  readonly sum: number;
}

/** The output after one click: the user's totals including that click. */
export interface TotalsUpdate extends Totals {
  readonly user: string;
  readonly id: string;
}

/** A record the pipeline was fed: its input partition and offset, and its value. */
export interface Fed<T> {
  readonly partition: number;
  readonly offset: number;
  readonly value: T;
}

/** A committed output record, decoded: its value, key and where it sits (for messages). */
export interface Seen<T> {
  readonly value: T;
  /** The record key, decoded; undefined when it had none. */
  readonly key: unknown;
  readonly partition: number;
  /** e.g. `totals/2@17 (task by-user.2 seq 4 idx 0)`. */
  readonly where: string;
}

/** What kind of wrong a discrepancy is. */
export type DiscrepancyKind = 'lost' | 'duplicate' | 'unexpected' | 'order' | 'value' | 'state' | 'partitioning';

/** One difference between what was committed and what the oracle expects. */
export interface Discrepancy {
  readonly kind: DiscrepancyKind;
  /** Names the key, the input and the output record(s) involved. */
  readonly message: string;
}

/** What running totals must produce from a given input. */
export interface TotalsExpectation {
  /** Per user: the user's clicks per input partition, each list in offset order. */
  readonly streams: ReadonlyMap<string, ReadonlyArray<ReadonlyArray<Fed<Click>>>>;
  /** Per user: the totals after all of the user's clicks (the final state). */
  readonly finalState: ReadonlyMap<string, Totals>;
}

/** Computes the expectation of running totals over `input`. */
export function expectTotals(input: ReadonlyArray<Fed<Click>>): TotalsExpectation {
  const byUser = new Map<string, Map<number, Array<Fed<Click>>>>();
  for (const fed of input) {
    const parts = byUser.get(fed.value.user) ?? new Map<number, Array<Fed<Click>>>();
    parts.set(fed.partition, [...(parts.get(fed.partition) ?? []), fed]);
    byUser.set(fed.value.user, parts);
  }
  const streams = new Map<string, Array<Array<Fed<Click>>>>();
  const finalState = new Map<string, Totals>();
  for (const [user, parts] of byUser) {
    const lists = [...parts.values()].map((list) => [...list].sort((a, b) => a.offset - b.offset));
    streams.set(user, lists);
    const clicks = lists.flat();
    finalState.set(user, { count: clicks.length, sum: clicks.reduce((s, f) => s + f.value.amount, 0) });
  }
  return { streams, finalState };
}

/** The one correct output of a user whose clicks, in this order, all come from one partition. */
export function exactTotals(clicks: readonly Click[]): TotalsUpdate[] {
  let count = 0;
  let sum = 0;
  return clicks.map((c) => {
    count += 1;
    sum += c.amount;
    return { user: c.user, id: c.id, count, sum };
  });
}

/**
 * Compares committed running-totals outputs (in committed order per partition) and the
 * committed state per user with the expectation. Empty when they match.
 */
export function checkTotals(
  expected: TotalsExpectation,
  outputs: ReadonlyArray<Seen<TotalsUpdate>>,
  state: ReadonlyMap<string, Totals | undefined>,
): Discrepancy[] {
  const found: Discrepancy[] = [];
  const inputs = indexInputs([...expected.streams.values()].flat(2));
  const byUser = groupBy(outputs, (o) => o.value.user);
  const users = new Set([...expected.finalState.keys(), ...byUser.keys()]);
  for (const user of [...users].sort()) {
    const outs = byUser.get(user) ?? [];
    const streams = expected.streams.get(user) ?? [];
    found.push(...checkPartitioning(user, outs));
    found.push(...checkIds(user, streams.flat(), outs, inputs));
    found.push(...checkOrder(user, streams, outs));

    // The emitted totals must be the prefix sums of what was actually emitted: a reprocessed
    // click shows up here too, as totals that count it twice.
    let count = 0;
    let sum = 0;
    for (const o of outs) {
      const click = inputs.get(o.value.id)?.value;
      count += 1;
      sum += click?.amount ?? 0;
      if (o.value.count !== count || o.value.sum !== sum) {
        found.push({
          kind: 'value',
          message: `user ${user}: output for click ${o.value.id} at ${o.where} says count ${o.value.count} sum ${o.value.sum}; after the outputs before it, expected count ${count} sum ${sum}`,
        });
        break;
      }
    }

    const want = expected.finalState.get(user);
    const got = state.get(user);
    if (!sameTotals(want, got)) {
      found.push({ kind: 'state', message: `user ${user}: committed state is ${describeTotals(got)}, expected ${describeTotals(want)}` });
    }
  }
  return found;
}

/**
 * Checks the output of a stage that repartitions clicks by user (a keyBy): every click
 * exactly once and unchanged, keyed by its user, all of a user's clicks in one partition,
 * and each input partition's order kept per user.
 */
export function checkRepartition(input: ReadonlyArray<Fed<Click>>, outputs: ReadonlyArray<Seen<Click>>): Discrepancy[] {
  const found: Discrepancy[] = [];
  const inputs = indexInputs(input);
  const byUser = groupBy(outputs, (o) => o.value.user);
  const expected = expectTotals(input);
  const users = new Set([...expected.streams.keys(), ...byUser.keys()]);
  for (const user of [...users].sort()) {
    const outs = byUser.get(user) ?? [];
    const streams = expected.streams.get(user) ?? [];
    found.push(...checkPartitioning(user, outs));
    found.push(...checkIds(user, streams.flat(), outs, inputs));
    found.push(...checkOrder(user, streams, outs));
    for (const o of outs) {
      if (o.key !== user) found.push({ kind: 'partitioning', message: `user ${user}: click ${o.value.id} at ${o.where} is keyed ${JSON.stringify(o.key)}, expected ${JSON.stringify(user)}` });
      const fed = inputs.get(o.value.id);
      if (fed && fed.value.amount !== o.value.amount) {
        found.push({ kind: 'unexpected', message: `user ${user}: click ${o.value.id} at ${o.where} has amount ${o.value.amount}, the input had ${fed.value.amount}` });
      }
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------

function indexInputs(input: ReadonlyArray<Fed<Click>>): Map<string, Fed<Click>> {
  return new Map(input.map((f) => [f.value.id, f]));
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(keyOf(item), [...(out.get(keyOf(item)) ?? []), item]);
  return out;
}

/** All of a user's outputs must sit in one partition, or their order means nothing. */
function checkPartitioning(user: string, outs: ReadonlyArray<Seen<unknown>>): Discrepancy[] {
  const partitions = [...new Set(outs.map((o) => o.partition))];
  if (partitions.length <= 1) return [];
  return [{ kind: 'partitioning', message: `user ${user}: outputs are spread over partitions ${partitions.join(', ')} (e.g. ${outs[0]!.where})` }];
}

/** Each expected click exactly once; nothing that is not one of the user's clicks. */
function checkIds(
  user: string,
  expected: ReadonlyArray<Fed<Click>>,
  outs: ReadonlyArray<Seen<{ readonly id: string }>>,
  inputs: ReadonlyMap<string, Fed<Click>>,
): Discrepancy[] {
  const found: Discrepancy[] = [];
  const seen = groupBy(outs, (o) => o.value.id);
  for (const [id, copies] of seen) {
    const fed = inputs.get(id);
    if (!fed || fed.value.user !== user) {
      found.push({ kind: 'unexpected', message: `user ${user}: output for click ${id} at ${copies[0]!.where} answers no click of this user in the input` });
    } else if (copies.length > 1) {
      found.push({
        kind: 'duplicate',
        message: `user ${user}: click ${id} (input partition ${fed.partition} offset ${fed.offset}) was committed ${copies.length} times: ${copies.map((c) => c.where).join(' and ')}`,
      });
    }
  }
  for (const fed of expected) {
    if (!seen.has(fed.value.id)) {
      found.push({ kind: 'lost', message: `user ${user}: click ${fed.value.id} (input partition ${fed.partition} offset ${fed.offset}) has no committed output` });
    }
  }
  return found;
}

/** Per input partition, the user's outputs keep the input order (first copies only). */
function checkOrder(user: string, streams: ReadonlyArray<ReadonlyArray<Fed<Click>>>, outs: ReadonlyArray<Seen<{ readonly id: string }>>): Discrepancy[] {
  const rank = new Map<string, { stream: number; index: number; offset: number }>();
  streams.forEach((list, stream) => list.forEach((f, index) => rank.set(f.value.id, { stream, index, offset: f.offset })));
  const last = new Map<number, { index: number; id: string; offset: number }>();
  const seen = new Set<string>();
  for (const o of outs) {
    if (seen.has(o.value.id)) continue;
    seen.add(o.value.id);
    const r = rank.get(o.value.id);
    if (!r) continue;
    const prev = last.get(r.stream);
    if (prev && prev.index > r.index) {
      return [{ kind: 'order', message: `user ${user}: click ${o.value.id} (offset ${r.offset}) was committed after click ${prev.id} (offset ${prev.offset}) of the same input partition, at ${o.where}` }];
    }
    last.set(r.stream, { index: r.index, id: o.value.id, offset: r.offset });
  }
  return [];
}

function sameTotals(a: Totals | undefined, b: Totals | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.count === b.count && a.sum === b.sum;
}

function describeTotals(t: Totals | undefined): string {
  return t === undefined ? 'absent' : `count ${t.count} sum ${t.sum}`;
}

// --- at-least-once -------------------------------------------------------------------------------

/**
 * The output of the at-least-once "clicks seen" pipeline: after each click, the user's state is
 * the list of click ids it has counted (a click processed twice appears twice) and the output
 * names the click and the list's length.
 */
export interface SeenUpdate {
  readonly user: string;
  readonly id: string;
  readonly count: number;
}

/**
 * What at-least-once promises, and nothing more: every click has at least one committed output
 * and is in its user's final state at least once (no loss); nothing answers a click that was not
 * fed, or was fed for another user. Duplicates of outputs and in the state are allowed.
 */
export function checkAtLeastOnce(
  input: ReadonlyArray<Fed<Click>>,
  outputs: ReadonlyArray<Seen<SeenUpdate>>,
  state: ReadonlyMap<string, readonly string[] | undefined>,
): Discrepancy[] {
  const found: Discrepancy[] = [];
  const inputs = indexInputs(input);
  const answered = new Set<string>();
  for (const o of outputs) {
    const fed = inputs.get(o.value.id);
    if (!fed || fed.value.user !== o.value.user) {
      found.push({ kind: 'unexpected', message: `user ${o.value.user}: output for click ${o.value.id} at ${o.where} answers no click of this user in the input` });
    } else if (o.key !== o.value.user) {
      found.push({ kind: 'partitioning', message: `user ${o.value.user}: output for click ${o.value.id} at ${o.where} is keyed ${JSON.stringify(o.key)}` });
    }
    answered.add(o.value.id);
  }
  const counted = new Map<string, Set<string>>();
  for (const [user, ids] of state) {
    const set = new Set(ids ?? []);
    counted.set(user, set);
    for (const id of set) {
      if (inputs.get(id)?.value.user !== user) found.push({ kind: 'state', message: `user ${user}: state counts click ${id}, which is no click of this user in the input` });
    }
  }
  for (const fed of input) {
    const where = `input partition ${fed.partition} offset ${fed.offset}`;
    if (!answered.has(fed.value.id)) found.push({ kind: 'lost', message: `user ${fed.value.user}: click ${fed.value.id} (${where}) has no committed output` });
    if (!counted.get(fed.value.user)?.has(fed.value.id)) {
      found.push({ kind: 'lost', message: `user ${fed.value.user}: click ${fed.value.id} (${where}) is missing from the user's committed state (a lost update)` });
    }
  }
  return found;
}
