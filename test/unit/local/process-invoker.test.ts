/**
 * The out-of-process invoker: functions run in child processes (containers) that take one event
 * at a time over a pipe, as Lambda's runtime does. These specs start real child processes with a
 * small fixture handler; no broker is involved.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { LambdaKafkaEvent } from '../../../framework/lambda/event.js';
import { LambdaFunctionError } from '../../../framework/local/esm/lambda-api-invoker.js';
import { ContainerExitedError, processInvoker, type ContainerInvocationReport, type ProcessInvoker } from '../../../framework/local/esm/process-invoker.js';

const ECHO = fileURLToPath(new URL('../../fixtures/local/echo-handler.ts', import.meta.url));
const BROKEN = fileURLToPath(new URL('../../fixtures/local/broken-handler.ts', import.meta.url));

interface Echo {
  readonly pid: number;
  readonly functionName: string;
  readonly greeting: string | null;
  readonly batches: number;
  readonly served: number;
}

/** A Kafka event shape with `batches` partitions and optional test instructions. */
function event(batches: number, extra: Record<string, unknown> = {}): LambdaKafkaEvent {
  const records = Object.fromEntries(Array.from({ length: batches }, (_, p) => [`t-${p}`, []]));
  return { eventSource: 'SelfManagedKafka', bootstrapServers: 'localhost:9092', records, ...extra } as unknown as LambdaKafkaEvent;
}

let invoker: ProcessInvoker | undefined;
afterEach(async () => {
  await invoker?.close();
  invoker = undefined;
});

describe('processInvoker', () => {
  it('runs the handler in a process of its own, with the function\'s environment, and returns its result', async () => {
    const reports: ContainerInvocationReport[] = [];
    invoker = processInvoker({ functions: { greet: { handler: { module: ECHO, exportName: 'handler' }, env: { GREETING: 'hello' } } }, onReport: (r) => reports.push(r) });
    const answer = (await invoker.invoke('greet', event(2))) as Echo;
    expect(answer).toMatchObject({ functionName: 'greet', greeting: 'hello', batches: 2, served: 1 });
    expect(answer.pid).not.toBe(process.pid);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ functionName: 'greet', pid: answer.pid, ok: true });
    expect(reports[0]!.maxRssBytes).toBeGreaterThan(0);
    expect(reports[0]!.totalCpuMs).toBeGreaterThanOrEqual(reports[0]!.cpuMs);
  });

  it('reuses an idle container and starts another for a concurrent invocation', async () => {
    invoker = processInvoker({ functions: { echo: { handler: { module: ECHO, exportName: 'handler' } } } });
    const [a, b] = (await Promise.all([invoker.invoke('echo', event(1)), invoker.invoke('echo', event(1))])) as [Echo, Echo];
    expect(a.pid).not.toBe(b.pid);
    const c = (await invoker.invoke('echo', event(1))) as Echo;
    expect([a.pid, b.pid]).toContain(c.pid);
    expect(c.served).toBe(2);
    expect(invoker.containers).toEqual({ echo: 2 });
    expect(invoker.usage().map((u) => u.invocations).sort()).toEqual([1, 2]);
  });

  it('fails an invocation whose handler throws with the function\'s error, and keeps the container', async () => {
    invoker = processInvoker({ functions: { echo: { handler: { module: ECHO, exportName: 'handler' } } } });
    const error = await invoker.invoke('echo', event(1, { fail: 'bad batch' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LambdaFunctionError);
    expect((error as LambdaFunctionError).message).toContain('RangeError: bad batch');
    expect(((await invoker.invoke('echo', event(1))) as Echo).served).toBe(2);
    expect(invoker.containers).toEqual({ echo: 1 });
  });

  it('fails the invocation of a container that exits, and serves the next one from a new container', async () => {
    invoker = processInvoker({ functions: { echo: { handler: { module: ECHO, exportName: 'handler' } } } });
    const first = (await invoker.invoke('echo', event(1))) as Echo;
    await expect(invoker.invoke('echo', event(1, { crash: true }))).rejects.toBeInstanceOf(ContainerExitedError);
    const next = (await invoker.invoke('echo', event(1))) as Echo;
    expect(next.pid).not.toBe(first.pid);
    expect(invoker.containers).toEqual({ echo: 2 });
    expect(invoker.usage().map((u) => u.alive)).toEqual([false, true]);
  });

  it('fails an invocation whose handler module does not load, naming the import error', async () => {
    invoker = processInvoker({ functions: { broken: { handler: { module: BROKEN, exportName: 'handler' } } }, stdio: 'ignore' });
    const error = await invoker.invoke('broken', event(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LambdaFunctionError);
    expect((error as Error).message).toContain('Runtime.ImportModuleError');
    expect((error as Error).message).toContain('this module cannot be loaded');
  });
});
