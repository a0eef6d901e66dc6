/**
 * Loads the pipeline a deployment names (`<module path>#<export>`) and compiles it. The module
 * may be TypeScript: user-module.ts loads it without a loader. Errors name
 * the setting (`custom.sluice.pipeline`); the CLI's `--pipeline` goes through ops/pipeline-module.ts.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Plan } from '../dsl/plan.js';
import { ConfigError } from '../errors.js';
import { compile } from '../topology/compile.js';
import { importUserModule } from '../user-module.js';
import type { Topology } from '../topology/topology.js';

/** A pipeline reference: the module (relative to `baseDir` unless absolute) and its export. */
export interface PipelineRef {
  readonly module: string;
  readonly exportName: string;
}

/** Imports the module, takes the export (a Pipeline or a compiled Topology) and returns the topology. */
export async function loadTopology(baseDir: string, ref: PipelineRef, field = 'custom.sluice.pipeline'): Promise<Topology> {
  const path = isAbsolute(ref.module) ? ref.module : resolve(baseDir, ref.module);
  if (!existsSync(path)) throw new ConfigError(`${field}: module ${ref.module} not found (looked at ${path})`, { field });
  const mod = await importUserModule(path);
  const value = mod[ref.exportName];
  // Duck-typed: a second copy of Sluice (a linked checkout, say) makes instanceof lie.
  if (isPipeline(value)) return compile(value.plan());
  if (isTopology(value)) return value;
  const exported = Object.keys(mod).join(', ') || 'nothing';
  throw new ConfigError(`${field}: ${ref.module} has no pipeline export "${ref.exportName}"`, { field }, `it exports: ${exported}`);
}

function isPipeline(value: unknown): value is { plan(): Plan } {
  return typeof value === 'object' && value !== null && typeof (value as { plan?: unknown }).plan === 'function';
}

function isTopology(value: unknown): value is Topology {
  return typeof value === 'object' && value !== null && 'stages' in value && 'topics' in value && 'app' in value;
}
