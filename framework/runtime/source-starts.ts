/**
 * Where each source topic's trigger starts reading (TRIM_HORIZON, LATEST, AT_TIMESTAMP), passed
 * from the deploy plugin to a source stage's function in SLUICE_SOURCE_STARTS (JSON, by topic).
 * The backlog probe needs it for a task that has not read anything yet: whether records already
 * in its partition will be delivered to it (kafka/backlog-probe.ts).
 */
import { ConfigError } from '../errors.js';
import type { SourcePosition, StartingPosition } from '../deploy/trigger-settings.js';
import type { Topology } from '../topology/topology.js';

/** The environment variable. */
export const SOURCE_STARTS_ENV = 'SLUICE_SOURCE_STARTS';

/** Source topic → where its trigger starts. */
export type SourceStarts = Readonly<Record<string, SourcePosition>>;

const POSITIONS: readonly StartingPosition[] = ['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP'];

/** Every source topic of the topology read from its start: what the local trigger emulator does (LocalRun). */
export function fromTheStart(topology: Topology): SourceStarts {
  const topics = topology.stages.flatMap((s) => s.inputs.filter((i) => i.kind === 'source').map((i) => i.topic));
  return Object.fromEntries(topics.map((t) => [t, { startingPosition: 'TRIM_HORIZON' as const }]));
}

/** The variable's value. */
export function encodeSourceStarts(starts: SourceStarts): string {
  return JSON.stringify(starts);
}

/** Reads the variable (absent: nothing known, every never-read task counts from its first tick); throws ConfigError naming it when malformed. */
export function sourceStartsFromEnv(env: NodeJS.ProcessEnv): SourceStarts {
  const raw = env[SOURCE_STARTS_ENV];
  if (raw === undefined || raw === '') return {};
  const bad = (why: string): ConfigError => new ConfigError(`${SOURCE_STARTS_ENV} ${why}`, { field: SOURCE_STARTS_ENV }, 'the deploy plugin sets it: {"<topic>": {"startingPosition": "TRIM_HORIZON" | "LATEST" | "AT_TIMESTAMP", "startingPositionTimestamp"?: <unix seconds>}}');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw bad('is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('is not an object by topic');
  const out: Record<string, SourcePosition> = {};
  for (const [topic, v] of Object.entries(parsed)) {
    const p = v as { startingPosition?: unknown; startingPositionTimestamp?: unknown } | null;
    if (typeof p !== 'object' || p === null || !POSITIONS.includes(p.startingPosition as StartingPosition)) throw bad(`has no valid startingPosition for topic "${topic}"`);
    const ts = p.startingPositionTimestamp;
    if (p.startingPosition === 'AT_TIMESTAMP' && (typeof ts !== 'number' || !Number.isFinite(ts))) throw bad(`has AT_TIMESTAMP without a startingPositionTimestamp for topic "${topic}"`);
    out[topic] = { startingPosition: p.startingPosition as StartingPosition, ...(typeof ts === 'number' ? { startingPositionTimestamp: ts } : {}) };
  }
  return out;
}
