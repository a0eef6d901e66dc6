/**
 * One esbuild bundle per function, zipped as its Lambda artifact.
 *
 * Decisions (see docs/deploy.md):
 * - ESM (`.mjs`), target node22: the runtime loads `.mjs` handlers natively and top-level
 *   `import.meta.url` keeps working. kafkajs and parts of the AWS SDK are CommonJS and call
 *   `require('net')` etc., which esbuild cannot turn into imports, so a banner defines `require`
 *   with `createRequire`.
 * - Everything is bundled, the AWS SDK v3 included: the runtime's SDK copy changes under a
 *   deployed function without notice; a bundled one changes only when we redeploy.
 * - Minified with names kept (error classes report `this.name`), with an external source map
 *   (no sources inside) that `NODE_OPTIONS=--enable-source-maps` applies to stack traces.
 * - The zip holds the bundle at the handler's own path (`functions/app/stage.mjs`), so the
 *   handler string stays the one in the function config.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { build, type Message } from 'esbuild';
import { SluiceError } from '../errors.js';
import type { ZipEntry } from './zip.js';
import { zip } from './zip.js';

/** What to bundle for one function. */
export interface BundleRequest {
  /** Function key (`enrich`), names the artifact. */
  readonly key: string;
  /** Absolute path of the handler's source module, or a generated module's TypeScript source. */
  readonly entry: string | GeneratedEntry;
  /** The handler's module path without extension, `functions/clickstream/enrich`: where the bundle sits in the zip. */
  readonly handlerModule: string;
  /** Directory the handler path is relative to; source-map paths are relative to it too. */
  readonly baseDir: string;
}

/** A handler module written by Sluice rather than the user (the ticker's). */
export interface GeneratedEntry {
  readonly contents: string;
  /** Directory its imports resolve from. */
  readonly resolveDir: string;
  /** File name shown in source maps and errors. */
  readonly sourcefile: string;
}

/** A bundled function: the files of its artifact and their sizes. */
export interface Bundle {
  readonly key: string;
  /** The bundle and its source map, at their paths inside the artifact. */
  readonly files: readonly ZipEntry[];
  /** Bytes of the bundle (.mjs) and of its source map. */
  readonly sizes: { readonly bundle: number; readonly sourceMap: number };
}

/** esbuild failed on a handler; the message lists esbuild's errors with file and line. */
export class BundleError extends SluiceError {
  constructor(key: string, errors: readonly Message[]) {
    super(
      'SLUICE_BUNDLE',
      `bundling function "${key}" failed:\n${errors.map((e) => `  ${e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ` : ''}${e.text}`).join('\n')}`,
      { stage: key },
      'fix the errors above; `npx tsc --noEmit` shows them too',
    );
  }
}

/** Extensions tried, in order, for a handler's module. */
const SOURCE_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const;

/** Lets CommonJS dependencies `require` Node built-ins from inside an ESM bundle. */
const REQUIRE_SHIM = "import { createRequire as __sluiceCreateRequire } from 'node:module'; const require = __sluiceCreateRequire(import.meta.url);";

/** Splits a handler string `functions/app/stage.handler` into its module path and export name. */
export function splitHandler(handler: string): { readonly module: string; readonly exportName: string } {
  const dot = handler.lastIndexOf('.');
  return { module: handler.slice(0, dot), exportName: handler.slice(dot + 1) };
}

/** The source file of a handler's module under `baseDir`, or undefined if there is none. */
export function resolveHandlerEntry(baseDir: string, handler: string): string | undefined {
  const { module } = splitHandler(handler);
  return SOURCE_EXTENSIONS.map((ext) => resolve(baseDir, `${module}${ext}`)).find((p) => existsSync(p));
}

/** Bundles one function (nothing is written). */
export async function bundleFunction(request: BundleRequest): Promise<Bundle> {
  // Nothing is written there (write: false); it places the bundle so that source-map paths
  // read `../../framework/...` as they would beside the handler.
  const outfile = resolve(request.baseDir, `${request.handlerModule}.mjs`);
  const result = await build({
    ...(typeof request.entry === 'string' ? { entryPoints: [request.entry] } : { stdin: { ...request.entry, loader: 'ts' as const } }),
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    // ESM builds of dependencies tree-shake better than their CommonJS ones.
    mainFields: ['module', 'main'],
    // Only whitespace minified: names stay what the source says (error classes, stack traces,
    // kafkajs's protocol functions the bundle test looks for) without esbuild's keepNames, which
    // wraps every named function and class it creates in a __name() call at run time — 3 % of a
    // YSB function's CPU in the drain (profile of 2026-12-05). Syntax minification would drop the
    // names of function expressions, identifier minification all of them.
    minifyWhitespace: true,
    sourcemap: 'linked',
    sourcesContent: false,
    banner: { js: REQUIRE_SHIM },
    write: false,
    logLevel: 'silent',
  }).catch((e: unknown) => {
    const errors = (e as { errors?: Message[] }).errors;
    if (Array.isArray(errors)) throw new BundleError(request.key, errors);
    throw e;
  });
  const code = result.outputFiles.find((f) => f.path === outfile);
  const map = result.outputFiles.find((f) => f.path === `${outfile}.map`);
  if (!code || !map) throw new BundleError(request.key, [{ text: `esbuild wrote ${result.outputFiles.map((f) => basename(f.path)).join(', ')}` } as Message]);
  const inZip = posix.normalize(request.handlerModule.replaceAll('\\', '/'));
  return {
    key: request.key,
    files: [
      { path: `${inZip}.mjs`, data: Buffer.from(code.contents) },
      { path: `${inZip}.mjs.map`, data: Buffer.from(map.contents) },
    ],
    sizes: { bundle: code.contents.length, sourceMap: map.contents.length },
  };
}

/** Writes `<outDir>/<key>.zip`; returns its path and size. */
export async function writeArtifact(bundle: Bundle, outDir: string): Promise<{ readonly path: string; readonly bytes: number }> {
  const path = join(outDir, `${bundle.key}.zip`);
  const archive = zip(bundle.files);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, archive);
  return { path, bytes: archive.length };
}

/** Writes the bundle's files unpacked under `dir`, laid out as in the artifact (for serverless-offline). */
export async function writeUnpacked(bundle: Bundle, dir: string): Promise<void> {
  for (const file of bundle.files) {
    const path = join(dir, file.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, file.data);
  }
}
