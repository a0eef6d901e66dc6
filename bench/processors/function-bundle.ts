/**
 * The benchmark's stage function as one esbuild bundle, built the way `sluice deploy` bundles a
 * stage (framework/deploy/bundle.ts: ESM, minified, AWS SDK and kafkajs inside) with the
 * container entry of the out-of-process invoker in front. Its containers then run what Lambda
 * would run — plain Node on one file, no TypeScript loader — so their memory and CPU are a
 * deployed function's.
 */
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join, relative, resolve } from 'node:path';
import { bundleFunction, writeUnpacked } from '../../framework/deploy/bundle.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Where the bundle is written (rebuilt by every run): outside the repository, with no
 * node_modules above it, as on Lambda. Inside the repository a lookup at run time that esbuild
 * did not bundle would quietly find the repository's node_modules (that hid a deploy bug once:
 * docs/exactly-once.md, "Known problems").
 */
export const FUNCTION_BUNDLE_DIR = join(tmpdir(), 'sluice-bench-function');

/** Builds the bundle; returns the path of its script. */
export async function buildFunctionBundle(dir: string = FUNCTION_BUNDLE_DIR): Promise<string> {
  const container = relative(ROOT, join(ROOT, 'framework/local/esm/container.js'));
  const fn = relative(ROOT, join(ROOT, 'bench/processors/function.js'));
  const bundle = await bundleFunction({
    key: 'bench-function',
    entry: {
      contents: [`import { serveInvocations } from './${container}';`, `import { handler } from './${fn}';`, 'serveInvocations(handler);'].join('\n'),
      resolveDir: ROOT,
      sourcefile: 'bench-function-entry.ts',
    },
    handlerModule: 'bench-function',
    baseDir: ROOT,
  });
  await writeUnpacked(bundle, dir);
  return join(dir, 'bench-function.mjs');
}
