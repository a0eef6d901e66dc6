/**
 * Entry point of a container the out-of-process invoker starts for a handler given as a module
 * and an export (argv[2]: `{"module": "/abs/path.ts", "exportName": "handler"}`): loads the
 * module, as the Lambda runtime loads a function's handler once per container, then serves
 * invocations. Started by process-invoker.ts with child_process.fork (TypeScript modules run
 * under tsx).
 */
import { pathToFileURL } from 'node:url';
import { failInit, serveInvocations, type ContainerHandler } from './container.js';

async function main(): Promise<void> {
  const ref = JSON.parse(process.argv[2] ?? '{}') as { module?: string; exportName?: string };
  if (!ref.module || !ref.exportName) throw new Error(`container-main wants {"module", "exportName"} as its argument, got ${process.argv[2] ?? 'nothing'}`);
  const loaded = (await import(pathToFileURL(ref.module).href)) as Record<string, unknown>;
  const handler = loaded[ref.exportName];
  if (typeof handler !== 'function') throw new Error(`${ref.module} has no function export "${ref.exportName}"`);
  serveInvocations(handler as ContainerHandler);
}

main().catch((error: unknown) => failInit(error));
