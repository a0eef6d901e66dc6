/**
 * Finds the pipeline an operations command works on: `path/to/module.ts#exportName`, a module
 * that exports a Pipeline (or a compiled Topology). TypeScript modules load without a loader
 * (user-module.ts).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Plan } from '../dsl/plan.js';
import { compile } from '../topology/compile.js';
import type { Topology } from '../topology/topology.js';
import { OpsError } from './errors.js';
import { importUserModule } from '../user-module.js';

/** A parsed `--pipeline` value. */
export interface PipelineSpec {
  readonly file: string;
  /** undefined = the default export, or the module's only pipeline export. */
  readonly exportName: string | undefined;
}

/** Parses `file#export` (pure). */
export function parsePipelineSpec(spec: string): PipelineSpec {
  const hash = spec.lastIndexOf('#');
  const file = hash < 0 ? spec : spec.slice(0, hash);
  const exportName = hash < 0 ? undefined : spec.slice(hash + 1);
  if (file === '' || exportName === '') {
    throw new OpsError('SLUICE_OPS_PIPELINE', `"${spec}" does not name a pipeline module`, { field: 'pipeline' }, 'use --pipeline path/to/pipeline.ts#exportName');
  }
  return { file, exportName };
}

/** Imports the module and compiles the pipeline it exports. */
export async function loadTopology(spec: string, cwd: string = process.cwd()): Promise<Topology> {
  const { file, exportName } = parsePipelineSpec(spec);
  const path = resolve(cwd, file);
  if (!existsSync(path)) {
    throw new OpsError('SLUICE_OPS_PIPELINE', `pipeline module ${path} does not exist`, { field: 'pipeline' }, 'pass --pipeline path/to/pipeline.ts#exportName (relative to the current directory)');
  }
  let module: Record<string, unknown>;
  try {
    module = await importUserModule(path);
  } catch (err) {
    throw new OpsError('SLUICE_OPS_PIPELINE', `could not load ${path}: ${err instanceof Error ? err.message : String(err)}`, { field: 'pipeline' }, 'run the command from the project root', { cause: err });
  }
  return topologyFromModule(module, exportName, path);
}

/** Picks the pipeline export of a loaded module and compiles it (pure apart from user code in the plan). */
export function topologyFromModule(module: Readonly<Record<string, unknown>>, exportName: string | undefined, where: string): Topology {
  const candidates = Object.entries(module).filter(([, v]) => asTopologySource(v) !== undefined);
  const name = exportName ?? (asTopologySource(module['default']) !== undefined ? 'default' : candidates.length === 1 ? candidates[0]![0] : undefined);
  if (name === undefined) {
    const names = candidates.map(([n]) => n).join(', ') || 'none';
    throw new OpsError('SLUICE_OPS_PIPELINE', `${where} exports ${candidates.length} pipelines (${names}); say which`, { field: 'pipeline' }, `append #<export> to --pipeline, e.g. ${where}#${candidates[0]?.[0] ?? 'myPipeline'}`);
  }
  const source = asTopologySource(module[name]);
  if (!source) {
    const names = candidates.map(([n]) => n).join(', ') || 'none';
    throw new OpsError('SLUICE_OPS_PIPELINE', `${where} has no pipeline export "${name}"`, { field: 'pipeline' }, `pipeline exports: ${names}`);
  }
  return 'stages' in source ? source : compile(source.plan());
}

function asTopologySource(value: unknown): Topology | { plan(): Plan } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if ('stages' in value && 'topics' in value && 'app' in value) return value as Topology;
  // Duck-typed: the user's module may import another copy of the Pipeline class.
  if ('plan' in value && typeof (value as { plan: unknown }).plan === 'function') return value as { plan(): Plan };
  return undefined;
}
