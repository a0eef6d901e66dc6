/**
 * The oracle of the event-time suite: what a two-stage windowed pipeline must commit, computed
 * from its input alone, in plain TypeScript (no Sluice runtime, serde, partitioner or window code).
 *
 * The pipeline: events {id, user, region, t} on a source of P partitions, eventTime = t,
 * watermark per source partition = max t seen − maxOutOfOrderness
 *   → keyBy user → tumbling `userWindowMs` count per user, allowed lateness `userLatenessMs`
 *   → map to {user, region, start, end, count, firing} → keyBy region
 *   → tumbling `regionWindowMs` sum of counts per region (no lateness) → sink.
 * A stage-2 result carries event time `end − 1` (its window's maxTimestamp) into stage 3.
 *
 * Input comes in phases. Before a phase is produced the test waits (a barrier) until every task
 * of the user stage has processed everything produced so far and has the watermark
 * `watermarkAfter(phase − 1)`; so while a phase is processed the user stage's watermark is at
 * least that (it never decreases). The watermark at the moment a record is processed depends on
 * batching, so the oracle only classifies records whose fate is certain with these bounds and
 * throws (`AmbiguousInput`) for any other record, so a generator cannot make the test flaky:
 *   lower bound: the watermark after the previous phase (none for the first);
 *   upper bound: max t of the record's own source partition before it − maxOutOfOrderness (the
 *     user stage applies a source task's mark only after reading the data it covers, and the
 *     mark sent with the record's own batch covers the record, so only earlier batches count).
 * A record is late iff its window's maxTimestamp + lateness ≤ the watermark when processed; it
 * fires its window 'late' iff maxTimestamp ≤ watermark < maxTimestamp + lateness; else it is on time.
 */
import { Rng } from './fault-driver.js';

/** The lowest watermark (nothing known yet). */
export const NO_WATERMARK = Number.NEGATIVE_INFINITY;

/** An input event. `id` is unique over the input, so every output and late record can be traced. */
export interface Ev {
  readonly id: string;
  readonly user: string;
  readonly region: string;
  readonly t: number;
}

/** One record to produce: its source partition and value. */
export interface Sent {
  readonly partition: number;
  readonly ev: Ev;
}

/** Input produced in one go (or trickled), then followed by a barrier. */
export interface Phase {
  readonly name: string;
  readonly sends: readonly Sent[];
  /**
   * Source partitions that are active at the end of the phase (the rest are idle and left out of
   * the watermark). Default: all.
   */
  readonly active?: readonly number[];
}

/** The pipeline's event-time settings. */
export interface EventTimeSpec {
  readonly sourcePartitions: number;
  readonly maxOutOfOrdernessMs: number;
  readonly userWindowMs: number;
  readonly userLatenessMs: number;
  readonly regionWindowMs: number;
}

/** What the map after the user windows emits (and the region stage reads). */
export interface UserWindowResult {
  readonly user: string;
  readonly region: string;
  readonly start: number;
  readonly end: number;
  readonly count: number;
  readonly firing: 'early' | 'on-time' | 'late';
}

/** What the region windows emit to the sink. */
export interface RegionWindowResult {
  readonly key: string;
  readonly window: { readonly start: number; readonly end: number };
  readonly value: number;
  readonly firing: 'early' | 'on-time' | 'late';
}

/** A record too late for the user windows: it must be on the late topic. */
export interface ExpectedLate {
  readonly ev: Ev;
  readonly partition: number;
  /** The watermark it missed is at least this (the window's cleanup time). */
  readonly cleanupTime: number;
}

/** Everything the pipeline must have committed after the last phase. */
export interface Expectation {
  readonly userResults: UserWindowResult[];
  readonly regionResults: RegionWindowResult[];
  readonly late: ExpectedLate[];
  /** The watermark of the user stage (and of the region stage) after each phase. */
  readonly watermarks: number[];
  /** Fate of every input record, by id. */
  readonly fates: ReadonlyMap<string, 'on-time' | 'late-firing' | 'late'>;
}

/** The input's fate could depend on batching: the generator must not produce it. */
export class AmbiguousInput extends Error {
  override name = 'AmbiguousInput';
}

const USERS = ['eu-ann', 'eu-bob', 'us-cy', 'us-dee', 'us-eve', 'ap-fay', 'ap-gus', 'ap-hal'] as const;

/** The users of the generated input. */
export const ALL_USERS: readonly string[] = USERS;

/** A user's region: the part before the dash. Also the pipeline's map function. */
export function regionOf(user: string): string {
  return user.slice(0, user.indexOf('-'));
}

/** Start of the tumbling window of `size` holding `t` (floor, epoch-aligned). */
export function windowStart(t: number, size: number): number {
  return t - (((t % size) + size) % size);
}

/** Computes what the pipeline must commit for `phases`. */
export function expectEventTime(spec: EventTimeSpec, phases: readonly Phase[]): Expectation {
  const maxT = new Array<number>(spec.sourcePartitions).fill(NO_WATERMARK);
  const watermarks: number[] = [];
  let lower = NO_WATERMARK;

  // User stage: per (user, window) the records added and whether the window fired.
  interface UserWin {
    user: string;
    start: number;
    count: number;
    fired: boolean;
  }
  const wins = new Map<string, UserWin>();
  const userResults: Array<UserWindowResult & { phase: number }> = [];
  const late: ExpectedLate[] = [];
  const fates = new Map<string, 'on-time' | 'late-firing' | 'late'>();
  const size = spec.userWindowMs;

  phases.forEach((phase, k) => {
    for (const { partition, ev } of phase.sends) {
      if (partition < 0 || partition >= spec.sourcePartitions) throw new Error(`partition ${partition} out of range`);
      if (fates.has(ev.id)) throw new Error(`event id ${ev.id} used twice`);
      const start = windowStart(ev.t, size);
      const maxTs = start + size - 1;
      const cleanup = maxTs + spec.userLatenessMs;
      const upper = Math.max(lower, maxT[partition]! - spec.maxOutOfOrdernessMs);
      const key = `${ev.user}\u0000${start}`;
      if (cleanup <= lower) {
        fates.set(ev.id, 'late');
        late.push({ ev, partition, cleanupTime: cleanup });
      } else if (maxTs <= lower && cleanup > upper) {
        fates.set(ev.id, 'late-firing');
        const w = wins.get(key) ?? { user: ev.user, start, count: 0, fired: false };
        w.count += 1;
        w.fired = true;
        wins.set(key, w);
        userResults.push({ user: ev.user, region: regionOf(ev.user), start, end: start + size, count: w.count, firing: 'late', phase: k });
      } else if (maxTs > upper) {
        fates.set(ev.id, 'on-time');
        const w = wins.get(key) ?? { user: ev.user, start, count: 0, fired: false };
        if (w.fired) throw new AmbiguousInput(`event ${ev.id} (t=${ev.t}) is on time for a window that already fired`);
        w.count += 1;
        wins.set(key, w);
      } else {
        throw new AmbiguousInput(
          `event ${ev.id} (t=${ev.t}, partition ${partition}, phase ${phase.name}): the user stage's watermark is between ${lower} and ${upper} when it is processed, so whether its window (maxTimestamp ${maxTs}, cleanup ${cleanup}) fired depends on batching`,
        );
      }
      maxT[partition] = Math.max(maxT[partition]!, ev.t);
    }
    const active = phase.active ?? maxT.map((_, p) => p);
    const w = Math.max(lower, Math.min(...active.map((p) => maxT[p]! - spec.maxOutOfOrdernessMs)));
    // Windows the watermark passed in this phase fire on time with everything added so far.
    for (const win of [...wins.values()].sort((a, b) => a.start - b.start || a.user.localeCompare(b.user))) {
      if (!win.fired && win.start + size - 1 <= w) {
        win.fired = true;
        userResults.push({ user: win.user, region: regionOf(win.user), start: win.start, end: win.start + size, count: win.count, firing: 'on-time', phase: k });
      }
    }
    watermarks.push(w);
    lower = w;
  });

  // Region stage (no lateness): a user result is late there iff its region window's maxTimestamp is
  // at or below the region stage's watermark when it arrives. An on-time user firing (the user
  // task's watermark just passed its maxTimestamp, and its mark follows the result) never is; a
  // late firing in phase k arrives while the region stage's watermark is at most watermarks[k - 1].
  // Input where one might be is rejected, so the region stage's late topic must stay empty.
  const rsize = spec.regionWindowMs;
  const sums = new Map<string, { region: string; start: number; sum: number }>();
  for (const r of userResults) {
    const ts = r.end - 1;
    const start = windowStart(ts, rsize);
    const maxTs = start + rsize - 1;
    if (r.firing === 'late') {
      const upper = watermarks[r.phase - 1] ?? NO_WATERMARK;
      if (maxTs <= upper) throw new AmbiguousInput(`late firing of ${r.user} [${r.start}, ${r.end}) may or may not be late for the region window ending ${maxTs + 1}`);
    }
    const key = `${r.region}\u0000${start}`;
    const s = sums.get(key) ?? { region: r.region, start, sum: 0 };
    s.sum += r.count;
    sums.set(key, s);
  }
  const final = watermarks[watermarks.length - 1] ?? NO_WATERMARK;
  const regionResults = [...sums.values()]
    .filter((s) => s.start + rsize - 1 <= final)
    .map((s): RegionWindowResult => ({ key: s.region, window: { start: s.start, end: s.start + rsize }, value: s.sum, firing: 'on-time' }));

  return {
    userResults: sortUserResults(userResults.map(({ phase: _phase, ...r }) => r)),
    regionResults: sortRegionResults(regionResults),
    late,
    watermarks,
    fates,
  };
}

/** Canonical order of user results (a multiset compares as a sorted list). */
export function sortUserResults(rs: readonly UserWindowResult[]): UserWindowResult[] {
  return [...rs].sort((a, b) => a.start - b.start || a.user.localeCompare(b.user) || a.firing.localeCompare(b.firing) || a.count - b.count);
}

/** Canonical order of region results. */
export function sortRegionResults(rs: readonly RegionWindowResult[]): RegionWindowResult[] {
  return [...rs].sort((a, b) => a.window.start - b.window.start || a.key.localeCompare(b.key) || a.firing.localeCompare(b.firing) || a.value - b.value);
}

// --- input generators ----------------------------------------------------------------------------

/** Options of the phased scenario. */
export interface PhasedOptions {
  /** Event time of the first window (aligned to the region window). */
  readonly base: number;
  /** Records per source partition in the main phase. */
  readonly perPartition: number;
  /** Include the phase of late records (beyond and within lateness). */
  readonly latePhase: boolean;
}

/**
 * Three phases over partitions 0..P-1 (times relative to `base`, spec as in the suite:
 * 10 s / 1 s lateness / 20 s, out-of-orderness 2 s):
 *  1. main: each partition's records spread over [0, 60 s), each up to 1.9 s behind its
 *     partition's max so far (so none is late), window boundaries included; then one "push"
 *     record per partition at 72.499 s: the watermark becomes 70.499 s, so windows up to [60, 70)
 *     fire and [60, 70) is within its lateness (cleanup 70.999 s);
 *  2. late (optional): records for windows whose cleanup passed (late topic), for [60, 70)
 *     (a 'late' firing each) and for [70, 80) (on time);
 *  3. final push at 102 s on every partition: watermark 100 s, everything up to [90, 100) fires.
 */
export function phasedScenario(seed: number, spec: EventTimeSpec, options: PhasedOptions): Phase[] {
  const rng = new Rng(seed);
  const { base } = options;
  let n = 0;
  const ev = (user: string, t: number): Ev => ({ id: `e${n++}`, user, region: regionOf(user), t: base + t });
  const user = (): string => rng.pick(USERS);
  const parts = Array.from({ length: spec.sourcePartitions }, (_, p) => p);

  const perPartition = parts.map((p) => {
    const times = Array.from({ length: options.perPartition }, () => rng.int(60_000)).sort((a, b) => a - b);
    // Window boundaries: last and first ms of windows, in order, in some partitions.
    if (p === 0) times.push(9_999, 10_000, 29_999, 30_000);
    if (p === 1) times.push(19_999, 20_000, 49_999);
    times.sort((a, b) => a - b);
    let max = -Infinity;
    return times.map((t) => {
      // Out of order by up to 1.9 s behind this partition's max so far (never below 0).
      const shifted = rng.chance(0.4) ? Math.max(0, t - rng.int(1_900)) : t;
      const v = Math.max(shifted, max - 1_900);
      max = Math.max(max, v);
      return v;
    });
  });
  const main: Sent[] = [];
  // Interleave partitions so one produce carries them all, each partition in its own order.
  const cursors = parts.map(() => 0);
  while (parts.some((p) => cursors[p]! < perPartition[p]!.length)) {
    const p = rng.pick(parts.filter((q) => cursors[q]! < perPartition[q]!.length));
    main.push({ partition: p, ev: ev(user(), perPartition[p]![cursors[p]!]!) });
    cursors[p]! += 1;
  }
  for (const p of parts) main.push({ partition: p, ev: ev(user(), 72_499) });

  const phases: Phase[] = [{ name: 'main', sends: main }];
  if (options.latePhase) {
    const late: Sent[] = [];
    // Beyond lateness: windows up to [50, 60) (cleanup 60.999 s ≤ 70.499 s), boundaries included.
    for (const t of [0, 9_999, 10_000, 35_123, 59_999]) late.push({ partition: rng.int(spec.sourcePartitions), ev: ev(user(), t) });
    for (let i = 0; i < 4; i += 1) late.push({ partition: rng.int(spec.sourcePartitions), ev: ev(user(), rng.int(60_000)) });
    // Within lateness: [60, 70) fired at 69.999 s and is kept until 70.999 s.
    for (const t of [60_000, 69_999]) late.push({ partition: rng.int(spec.sourcePartitions), ev: ev('eu-ann', t) });
    for (let i = 0; i < 4; i += 1) late.push({ partition: rng.int(spec.sourcePartitions), ev: ev(user(), 60_000 + rng.int(10_000)) });
    // On time: [70, 80) has not fired (the push records are in it); t ≤ 72.499 s moves no watermark.
    for (let i = 0; i < 3; i += 1) late.push({ partition: rng.int(spec.sourcePartitions), ev: ev(user(), 70_000 + rng.int(2_500)) });
    phases.push({ name: 'late', sends: late });
  }
  phases.push({ name: 'final push', sends: parts.map((p) => ({ partition: p, ev: ev(user(), 102_000) })) });
  return phases;
}

/** Options of the idle-partition scenario. */
export interface IdleOptions {
  readonly base: number;
  /** The partition that stops early. */
  readonly idlePartition: number;
  /** Records of the idle partition, all in [0, 12 s). */
  readonly idleRecords: number;
  /** Records per active partition in [0, 12 s), sent with the idle partition's. */
  readonly startRecords: number;
  /** Steps of the trickle that follows on the active partitions, up to 60 s. */
  readonly trickleSteps: number;
}

/**
 * One phase in two parts: `start` (every partition, t in [0, 12 s)) and `trickle` (only the
 * active partitions, t rising to 60 s, then a push to 72.499 s). The idle partition sends
 * nothing after `start`, so its watermark stays below 10 s: windows from [10, 20) on can only
 * fire once it is idle and left out. The returned phase lists the active partitions.
 */
export function idleScenario(seed: number, spec: EventTimeSpec, options: IdleOptions): { start: Sent[]; trickle: Sent[][]; phase: Phase } {
  const rng = new Rng(seed);
  const { base } = options;
  let n = 0;
  const ev = (t: number): Ev => {
    const user = rng.pick(USERS);
    return { id: `i${n++}`, user, region: regionOf(user), t: base + t };
  };
  const parts = Array.from({ length: spec.sourcePartitions }, (_, p) => p);
  const active = parts.filter((p) => p !== options.idlePartition);
  const maxOf = new Map<number, number>();
  const next = (p: number, t: number): Sent => {
    const max = maxOf.get(p) ?? -Infinity;
    const v = Math.max(t - (rng.chance(0.4) ? rng.int(1_900) : 0), max - 1_900, 0);
    maxOf.set(p, Math.max(max, v));
    return { partition: p, ev: ev(v) };
  };
  const start: Sent[] = [];
  for (const p of parts) {
    const count = p === options.idlePartition ? options.idleRecords : options.startRecords;
    const times = Array.from({ length: count }, () => rng.int(12_000)).sort((a, b) => a - b);
    for (const t of times) start.push(next(p, t));
  }
  const trickle: Sent[][] = [];
  for (let i = 1; i <= options.trickleSteps; i += 1) {
    const t = 12_000 + Math.round((48_000 * i) / options.trickleSteps) - 1;
    trickle.push(active.map((p) => next(p, t)));
  }
  trickle.push(active.map((p) => ({ partition: p, ev: ev(72_499) })));
  return { start, trickle, phase: { name: 'idle', sends: [...start, ...trickle.flat()], active } };
}
