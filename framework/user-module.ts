/**
 * Imports a user's module — a pipeline, a feed — by path, TypeScript included, so the `sluice`
 * command and the deploy plugin work from the built package without a TypeScript loader.
 *
 * Sluice running from its own TypeScript sources (tsx, vitest) means a loader is active: the
 * module is imported as it is. Otherwise a `.ts`/`.mts`/`.cts` module is compiled by esbuild
 * (already needed to bundle the functions) into one ES module beside it: its relative imports are
 * bundled in, packages stay imports (so `sluice` is the one copy the project installed), and the
 * file is removed once imported. esbuild strips types and does not check them: `tsc` does.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SluiceError } from './errors.js';

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);
/**
 * True when Sluice runs from its TypeScript sources (a checkout, under tsx or vitest): a loader
 * that imports `.ts` files is active, and child processes should resolve `sluice` to the sources
 * too (the `sluice-source` export condition, SOURCE_CONDITIONS).
 */
export const RUNNING_FROM_SOURCES = import.meta.url.endsWith('.ts');

/** Node flags that make a child process resolve `sluice` the way this process does. */
export const SOURCE_CONDITIONS: readonly string[] = RUNNING_FROM_SOURCES ? ['--conditions=sluice-source'] : [];

/** The module's exports. `path` is absolute. */
export async function importUserModule(path: string): Promise<Record<string, unknown>> {
  if (!TYPESCRIPT.has(extname(path)) || RUNNING_FROM_SOURCES) return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [path],
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node.split('.')[0]!}`,
    sourcemap: 'inline',
    write: false,
    logLevel: 'silent',
  }).catch((e: unknown) => {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? [];
    const lines = errors.map((m) => `  ${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`).join('\n');
    throw new SluiceError('SLUICE_MODULE', `could not compile ${path}:\n${lines || String(e)}`, { field: basename(path) }, 'fix the errors above; `npx tsc --noEmit` shows them too', { cause: e });
  });
  // Beside the source, so its package imports resolve from the project's node_modules.
  const out = join(dirname(path), `.${basename(path, extname(path))}.sluice-${randomBytes(4).toString('hex')}.mjs`);
  await writeFile(out, result.outputFiles[0]!.contents);
  try {
    return (await import(pathToFileURL(out).href)) as Record<string, unknown>;
  } finally {
    await rm(out, { force: true });
  }
}
