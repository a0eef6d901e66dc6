/**
 * The small checks `custom.sluice` is read with: each takes a raw value and the dotted path of
 * the setting (`custom.sluice.stages.views.batchSize`) and returns the typed value or throws a
 * ConfigError naming that path. The JSON schema (config-schema.ts) catches the same shapes
 * earlier when Serverless validates; these stay so the plugin never trusts unvalidated input
 * (a `configValidationMode: warn` service still reaches the plugin).
 */
import { ConfigError } from '../errors.js';

/** A mapping (not null, not a list); throws naming `field` otherwise. */
export function object(raw: unknown, field: string): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${field} must be a mapping`, { field });
  return raw as Record<string, unknown>;
}

/** Unknown keys are typos more often than not: name them instead of ignoring them. */
export function known(o: Record<string, unknown>, field: string, keys: readonly string[]): void {
  const extra = Object.keys(o).filter((k) => !keys.includes(k));
  if (extra.length > 0) {
    throw new ConfigError(`${field} has unknown setting(s) ${extra.map((k) => `"${k}"`).join(', ')}`, { field: `${field}.${extra[0]!}` }, `known: ${keys.join(', ')}`);
  }
}

/** An integer in [min, max], or undefined when absent. */
export function optionalInt(raw: unknown, field: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < min || raw > max) {
    throw new ConfigError(`${field}: ${JSON.stringify(raw)} is not a whole number from ${min} to ${max}`, { field });
  }
  return raw;
}

/** true or false. */
export function bool(raw: unknown, field: string): boolean {
  if (typeof raw !== 'boolean') throw new ConfigError(`${field}: ${JSON.stringify(raw)} is not true or false`, { field });
  return raw;
}

/** A non-empty string, trimmed. */
export function requiredString(raw: unknown, field: string, hint: string): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw new ConfigError(`${field} is ${raw === undefined ? 'missing' : 'not a string'}`, { field }, hint);
  return raw.trim();
}

/** A non-empty list of strings matching `pattern`; a comma-separated string counts as a list (what `${env:...}` yields). */
export function stringList(raw: unknown, field: string, pattern: RegExp, shape: string): string[] {
  const list = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter((s) => s !== '') : raw;
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError(`${field} must be a non-empty list`, { field }, `a list of ${shape}`);
  return list.map((item: unknown, i) => {
    if (typeof item !== 'string' || !pattern.test(item)) throw new ConfigError(`${field}[${i}]: ${JSON.stringify(item)} is not ${shape}`, { field: `${field}[${i}]` });
    return item;
  });
}
