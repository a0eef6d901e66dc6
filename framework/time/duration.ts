/** Durations in configuration: a number of milliseconds or a string such as `'500ms'`, `'10s'`, `'5m'`. */
import { ConfigError } from '../errors.js';

/** Units a duration string may use. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

/** A number of milliseconds, or a number with a unit: `'250ms'`, `'2s'`, `'1.5m'`, `'1h'`, `'7d'`. */
export type Duration = number | `${number}${DurationUnit}`;

const MS_PER: Readonly<Record<DurationUnit, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Milliseconds in `d`; throws ConfigError naming `field` unless it is a non-negative whole number of ms. */
export function parseDuration(d: Duration, field: string): number {
  const ms = toMillis(d);
  if (ms === undefined || !Number.isSafeInteger(ms) || ms < 0) {
    throw new ConfigError(
      `${field}: ${typeof d === 'string' ? JSON.stringify(d) : String(d)} is not a duration`,
      { field },
      "use a whole number of milliseconds or a string like '500ms', '10s', '1.5m', '1h', '7d'",
    );
  }
  return ms;
}

function toMillis(d: unknown): number | undefined {
  if (typeof d === 'number') return d;
  if (typeof d !== 'string') return undefined;
  const match = PATTERN.exec(d);
  const amount = match?.[1];
  const unit = match?.[2] as DurationUnit | undefined;
  if (amount === undefined || unit === undefined) return undefined;
  // Round away float noise ('0.1s' is 100.00000000000001 ms when computed naively).
  const ms = Number(amount) * MS_PER[unit];
  const rounded = Math.round(ms);
  return Math.abs(ms - rounded) < 1e-6 ? rounded : ms;
}
