/**
 * `sluice state get`: one key's committed state, read the way queryable state reads it
 * (readState: the owning task's snapshot and committed batch records, strongly consistent),
 * decoded with the state's serde.
 */
import { KafkajsChangelogReader } from '../kafka/changelog-reader.js';
import { partitionForKey } from '../record/partitioner.js';
import { json } from '../serde/index.js';
import type { Serde } from '../serde/serde.js';
import type { StateDescriptor } from '../state/descriptors.js';
import { readState } from '../dynamodb/state-query.js';
import type { Stage } from '../topology/topology.js';
import { OpsError } from './errors.js';
import { requireStage, stageTasks } from './stages.js';
import { checkTable, type OpsTarget } from './target.js';

/** How the key argument is written: JSON of the key value (default), the key value as a plain string, or the raw key bytes in base64. */
export type KeyFormat = 'json' | 'string' | 'base64';

/** Key formats, for the CLI's choices. */
export const KEY_FORMATS: readonly KeyFormat[] = ['json', 'string', 'base64'];

/** The key bytes of a key argument, serialised with the stage's key serde as the runtime does (pure). */
export function keyBytes(stage: Stage, arg: string, format: KeyFormat): Buffer {
  if (format === 'base64') return Buffer.from(arg, 'base64');
  const serde = stage.inputs[0]?.keySerde;
  if (!stage.keyed || serde === undefined) {
    throw new OpsError('SLUICE_OPS_STATE', `stage "${stage.name}" is not keyed: it keeps no keyed state`, { stage: stage.name }, 'keyed state lives in the stage after a keyBy');
  }
  let value: unknown = arg;
  if (format === 'json') {
    try {
      value = JSON.parse(arg) as unknown;
    } catch {
      throw new OpsError('SLUICE_OPS_KEY', `key ${JSON.stringify(arg)} is not JSON`, { stage: stage.name, field: 'key' }, `quote a string key as JSON ('"${arg}"') or pass --key-format string`);
    }
  }
  let bytes: Buffer | null;
  try {
    bytes = serde.serialize(value);
  } catch (err) {
    throw new OpsError('SLUICE_OPS_KEY', `the stage's key serde (${serde.name}) cannot write key ${JSON.stringify(value)}: ${err instanceof Error ? err.message : String(err)}`, { stage: stage.name, field: 'key' }, 'pass the key as the pipeline\'s keyBy produces it, or its bytes with --key-format base64');
  }
  if (bytes === null) throw new OpsError('SLUICE_OPS_KEY', 'the key serialises to null', { stage: stage.name, field: 'key' }, 'keys are never null');
  return bytes;
}

/** The state called `name` of the stage, or its only state when `name` is omitted (pure). */
export function stateDescriptor(stage: Stage, name: string | undefined): StateDescriptor {
  const names = stage.state.map((d) => d.name);
  if (name === undefined) {
    if (stage.state.length === 1) return stage.state[0]!;
    throw new OpsError('SLUICE_OPS_STATE', `stage "${stage.name}" has ${stage.state.length} states; say which`, { stage: stage.name, field: 'state' }, stage.state.length === 0 ? 'this stage declares no state' : `pass --state <name>: ${names.join(', ')}`);
  }
  const found = stage.state.find((d) => d.name === name);
  if (!found) throw new OpsError('SLUICE_OPS_STATE', `stage "${stage.name}" has no state "${name}"`, { stage: stage.name, field: 'state' }, `states: ${names.join(', ') || 'none'}`);
  return found;
}

/** One key's committed state. */
export interface StateReading {
  readonly stage: string;
  readonly state: string;
  /** The key bytes, base64. */
  readonly key: string;
  /** The task that owns the key (murmur2 of the key bytes, as the keyBy routes it). */
  readonly task: string | undefined;
  /** The committed bytes; undefined when there is no committed value (or it expired). */
  readonly bytes: Buffer | undefined;
  /** The value decoded with the state's serde (JSON by default); undefined when absent. */
  readonly value: unknown;
}

/** Reads one key's committed state. */
export async function getState(target: OpsTarget, stageName: string, keyArg: string, options: { format?: KeyFormat; state?: string } = {}): Promise<StateReading> {
  const stage = requireStage(target.topology, stageName);
  const descriptor = stateDescriptor(stage, options.state);
  const key = keyBytes(stage, keyArg, options.format ?? 'json');
  await checkTable(target);
  const log = target.topology.settings.commit === 'changelog' ? new KafkajsChangelogReader(target.kafka, { settleMs: 2_000 }) : undefined;
  let bytes: Buffer | undefined;
  try {
    bytes = await readState({ client: target.dynamo, table: target.table, topology: target.topology, ...(log ? { log } : {}) }, stage.name, key, descriptor.name);
  } finally {
    await log?.close();
  }
  const serde = (descriptor.options.serde ?? json()) as Serde<unknown>;
  const input = stage.inputs.length === 1 ? stage.inputs[0] : undefined;
  const task = input ? stageTasks(target.topology, stage)[partitionForKey(key, input.partitions)]?.id : undefined;
  return {
    stage: stage.name,
    state: descriptor.name,
    key: key.toString('base64'),
    task,
    bytes,
    value: bytes === undefined ? undefined : serde.deserialize(bytes, { topic: `state:${descriptor.name}` }),
  };
}
