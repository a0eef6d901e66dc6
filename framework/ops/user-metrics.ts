/**
 * The metrics user functions record through their context (`ctx.metrics`): collected per batch
 * (pure, no I/O), carried in the task's report, merged per invocation and written into the
 * invocation's EMF document beside Sluice's own metrics (metrics.ts).
 */
import type { MetricUnitName, UserMetrics } from '../dsl/context.js';
import { SluiceError } from '../errors.js';
import { INVOCATION_METRICS } from './metrics.js';

/** What a batch's (or an invocation's) user code recorded. */
export interface UserMetricValues {
  /** Counter totals by name. */
  readonly counters: Readonly<Record<string, number>>;
  /** Observations by name, in the order recorded, with the unit of the first. */
  readonly values: Readonly<Record<string, { readonly unit: MetricUnitName; readonly values: readonly number[] }>>;
}

/** CloudWatch's metric-name limit; names are also kept to characters every tool shows as they are. */
const NAME = /^[A-Za-z][A-Za-z0-9_.:/-]{0,254}$/;
/** EMF allows 100 metrics per document: Sluice's own leave room for this many user metrics. */
export const MAX_USER_METRICS = 100 - INVOCATION_METRICS.length;
/** EMF allows 100 values per metric per document; later observations in the invocation are dropped. */
export const MAX_VALUES_PER_METRIC = 100;

const RESERVED = new Set(INVOCATION_METRICS.map((m) => m.name));
const UNITS: ReadonlySet<string> = new Set<MetricUnitName>(['Count', 'Milliseconds', 'Seconds', 'Microseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Percent', 'None']);

/** A metric call user code cannot make: the record fails (dead letter) with this error. */
export class UserMetricError extends SluiceError {
  constructor(stage: string, message: string, hint: string) {
    super('SLUICE_USER_METRIC', message, { stage, field: 'metrics' }, hint);
  }
}

/** One batch's user metrics; the `ctx.metrics` of every user function in the batch. */
export class BatchMetrics implements UserMetrics {
  private readonly counters = new Map<string, number>();
  private readonly observed = new Map<string, { unit: MetricUnitName; values: number[] }>();

  constructor(private readonly stage: string) {}

  count(name: string, by = 1): void {
    this.check(name, by, 'Count');
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  value(name: string, value: number, unit: MetricUnitName = 'None'): void {
    this.check(name, value, unit);
    const entry = this.observed.get(name);
    if (entry && entry.unit !== unit) throw new UserMetricError(this.stage, `metric "${name}" was recorded in ${entry.unit}, now in ${unit}`, 'give each metric one unit');
    if (!entry) this.observed.set(name, { unit, values: [value] });
    else if (entry.values.length < MAX_VALUES_PER_METRIC) entry.values.push(value);
  }

  /** What was recorded, or undefined if nothing was. */
  snapshot(): UserMetricValues | undefined {
    if (this.counters.size === 0 && this.observed.size === 0) return undefined;
    return { counters: Object.fromEntries(this.counters), values: Object.fromEntries([...this.observed].map(([n, e]) => [n, { unit: e.unit, values: [...e.values] }])) };
  }

  private check(name: string, value: number, unit: string): void {
    if (!NAME.test(name)) throw new UserMetricError(this.stage, `"${name}" is not a metric name`, 'start with a letter; then letters, digits and _ . : / - (at most 255 characters)');
    if (RESERVED.has(name)) throw new UserMetricError(this.stage, `"${name}" is one of Sluice's own metrics`, 'pick another name');
    if (!Number.isFinite(value)) throw new UserMetricError(this.stage, `metric "${name}" got ${String(value)}`, 'record finite numbers');
    if (!UNITS.has(unit)) throw new UserMetricError(this.stage, `metric "${name}" has unit "${unit}"`, `units: ${[...UNITS].join(', ')}`);
    const known = this.counters.has(name) || this.observed.has(name);
    if (!known && this.counters.size + this.observed.size >= MAX_USER_METRICS) {
      throw new UserMetricError(this.stage, `more than ${MAX_USER_METRICS} metric names in one batch`, 'EMF allows 100 metrics per document; use fewer names (or a dimension-free aggregate)');
    }
    if (unit === 'Count' ? this.observed.has(name) : this.counters.has(name)) {
      throw new UserMetricError(this.stage, `metric "${name}" is used both as a counter and as a value`, 'give counters and values different names');
    }
  }
}

/** Merges user metrics of several batches (pure): counters add up, observations concatenate (at most 100 per name). */
export function mergeUserMetrics(parts: ReadonlyArray<UserMetricValues | undefined>): UserMetricValues | undefined {
  const present = parts.filter((p): p is UserMetricValues => p !== undefined);
  if (present.length === 0) return undefined;
  const counters: Record<string, number> = {};
  const values: Record<string, { unit: MetricUnitName; values: number[] }> = {};
  for (const part of present) {
    for (const [name, n] of Object.entries(part.counters)) counters[name] = (counters[name] ?? 0) + n;
    for (const [name, v] of Object.entries(part.values)) {
      const into = (values[name] ??= { unit: v.unit, values: [] });
      into.values.push(...v.values.slice(0, MAX_VALUES_PER_METRIC - into.values.length));
    }
  }
  // A name one batch counted and another observed: the counter wins (one metric has one unit).
  for (const n of Object.keys(values)) if (n in counters) delete values[n];
  // Batches of one invocation may each stay under the per-batch cap and still exceed it together.
  const names = [...Object.keys(counters), ...Object.keys(values)];
  if (names.length > MAX_USER_METRICS) {
    const keep = new Set(names.slice(0, MAX_USER_METRICS));
    for (const n of Object.keys(counters)) if (!keep.has(n)) delete counters[n];
    for (const n of Object.keys(values)) if (!keep.has(n)) delete values[n];
  }
  return { counters, values };
}
