/**
 * The function side of the out-of-process invoker (process-invoker.ts): what the Lambda runtime
 * does inside a container. It takes one event at a time from its parent over the IPC pipe (JSON),
 * calls the handler, and answers with the result or the error and a report like Lambda's REPORT
 * line: duration, and the container's CPU time and peak memory so far.
 *
 * A container serves invocations until its parent disconnects; then it exits.
 */

/** A handler as the container calls it (Lambda's Node.js signature, minus the callback). */
export type ContainerHandler = (event: unknown, context: ContainerContext) => Promise<unknown>;

/** The part of Lambda's context object the container provides. */
export interface ContainerContext {
  readonly functionName: string;
  readonly awsRequestId: string;
}

/** What one invocation cost the container (Lambda reports duration and max memory used; CPU is ours). */
export interface ContainerReport {
  /** Handler time, ms (Lambda bills this, rounded up to 1 ms). */
  readonly durationMs: number;
  /** CPU time of this invocation (user + system), ms. */
  readonly cpuMs: number;
  /** CPU time of the container since it started (user + system), ms: start-up and time between invocations included. */
  readonly totalCpuMs: number;
  /** Peak resident set size of the container so far, bytes (Lambda's "Max Memory Used"). */
  readonly maxRssBytes: number;
}

/** An error as Lambda reports a failed function: type, message, stack. */
export interface ContainerError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: readonly string[];
}

/** Parent → container. */
export type ToContainer = { readonly type: 'invoke'; readonly id: number; readonly functionName: string; readonly event: unknown };

/** Container → parent. */
export type FromContainer =
  /** Initialised (the handler module is loaded); `initMs` is Lambda's Init Duration. */
  | { readonly type: 'ready'; readonly initMs: number }
  | { readonly type: 'result'; readonly id: number; readonly ok: true; readonly result: unknown; readonly report: ContainerReport }
  | { readonly type: 'result'; readonly id: number; readonly ok: false; readonly error: ContainerError; readonly report: ContainerReport }
  /** Initialisation failed (the handler module did not load); the container exits after this. */
  | { readonly type: 'init-error'; readonly error: ContainerError };

/** Serves invocations from the parent process with `handler`, one at a time. */
export function serveInvocations(handler: ContainerHandler): void {
  if (!process.send) throw new Error('serveInvocations needs an IPC channel: start the container with child_process.fork');
  const queue: ToContainer[] = [];
  let busy = false;
  const next = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      for (let m = queue.shift(); m; m = queue.shift()) await reply(await invoke(handler, m));
    } finally {
      busy = false;
    }
  };
  process.on('message', (raw) => {
    const m = raw as ToContainer;
    if (m.type !== 'invoke') return;
    queue.push(m);
    void next();
  });
  // The parent went away (or closed the pool): a Lambda container is then shut down.
  process.on('disconnect', () => process.exit(0));
  void reply({ type: 'ready', initMs: Math.round(process.uptime() * 1000) });
}

/** Reports a failed initialisation to the parent and exits (Lambda's Runtime.ImportModuleError). */
export async function failInit(error: unknown): Promise<never> {
  await reply({ type: 'init-error', error: asContainerError(error) });
  process.exit(1);
}

async function invoke(handler: ContainerHandler, m: ToContainer): Promise<FromContainer> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const context: ContainerContext = { functionName: m.functionName, awsRequestId: `local-${process.pid}-${m.id}` };
  try {
    const result = await handler(m.event, context);
    return { type: 'result', id: m.id, ok: true, result: result === undefined ? null : result, report: report(started, cpu) };
  } catch (error) {
    return { type: 'result', id: m.id, ok: false, error: asContainerError(error), report: report(started, cpu) };
  }
}

function report(started: number, cpuBefore: NodeJS.CpuUsage): ContainerReport {
  const spent = process.cpuUsage(cpuBefore);
  const total = process.cpuUsage();
  return {
    durationMs: performance.now() - started,
    cpuMs: (spent.user + spent.system) / 1000,
    totalCpuMs: (total.user + total.system) / 1000,
    // resourceUsage().maxRSS is in kilobytes.
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

function asContainerError(error: unknown): ContainerError {
  if (error instanceof Error) return { errorType: error.name, errorMessage: error.message, trace: (error.stack ?? '').split('\n') };
  return { errorType: 'Error', errorMessage: String(error), trace: [] };
}

function reply(message: FromContainer): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}
