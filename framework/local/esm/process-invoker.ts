/**
 * An Invoker that runs each function in processes of its own, as Lambda runs it in containers:
 * the trigger emulator (Lambda's poller, and its event encoding) stays in the caller's process,
 * and each container is a child process that gets one event at a time as JSON over a pipe (Node's
 * IPC channel), runs the handler, and answers with the result and a report (duration, CPU, peak
 * memory). So the CPU and memory of the function itself can be measured apart from the poller's,
 * which on AWS are Lambda's and not billed to the function.
 *
 * Like inProcessInvoker, each function has a pool: an idle container is reused, a concurrent
 * invocation gets a new one (a cold start: the process starts and loads the handler module
 * before the event is sent). A container that exits is dropped; the invocation it was running
 * fails, and the trigger retries it, as Lambda does after a runtime crash.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SluiceError } from '../../errors.js';
import type { LambdaKafkaEvent } from '../../lambda/event.js';
import type { ContainerReport, FromContainer, ToContainer } from './container.js';
import type { Invoker } from './invoker.js';
import { LambdaFunctionError } from './lambda-api-invoker.js';

/** How to start one function's containers. */
export interface ContainerSpec {
  /**
   * The handler: an absolute module path and its export, loaded by the default container entry
   * (container-main.ts). Give this or `script`.
   */
  readonly handler?: { readonly module: string; readonly exportName: string };
  /** A script that serves invocations itself (calls `serveInvocations`), e.g. an esbuild bundle of the function. */
  readonly script?: string;
  /** The function's environment variables, on top of this process's. */
  readonly env?: Readonly<Record<string, string>>;
  /** Node options of the container; default `--import tsx` for a TypeScript entry, none for JavaScript. */
  readonly execArgv?: readonly string[];
}

/** A container's report of one invocation, with which function and process it was. */
export interface ContainerInvocationReport extends ContainerReport {
  readonly functionName: string;
  readonly pid: number;
  readonly ok: boolean;
}

/** What one container has used so far (from its latest report). */
export interface ContainerUsage {
  readonly functionName: string;
  readonly pid: number;
  /** CPU time since it started, ms. */
  readonly cpuMs: number;
  /** Peak resident set size, bytes. */
  readonly maxRssBytes: number;
  /** Its Init Duration: start-up until the handler module was loaded, ms. */
  readonly initMs: number;
  readonly invocations: number;
  readonly alive: boolean;
}

/** Options of processInvoker. */
export interface ProcessInvokerOptions {
  readonly functions: Readonly<Record<string, ContainerSpec>>;
  /** Called after every invocation with the container's report. */
  readonly onReport?: (report: ContainerInvocationReport) => void;
  /** Where the containers' stdout and stderr go (default: this process's). */
  readonly stdio?: 'inherit' | 'ignore';
  /** Whether a failed invocation's container is stopped (e.g. a simulated crash); default: kept, as Lambda keeps it. */
  readonly discard?: (error: unknown) => boolean;
  /** How long a container may take to load its handler (default 60 s; Lambda allows 10 s, but tsx compiles on first use). */
  readonly initTimeoutMs?: number;
}

/** The out-of-process invoker. Call `close()` to stop its containers. */
export interface ProcessInvoker extends Invoker {
  /** Containers started per function: the cold starts. */
  readonly containers: Readonly<Record<string, number>>;
  /** What every container started so far has used (stopped ones: as last reported). */
  usage(): ContainerUsage[];
  close(): Promise<void>;
}

/** A container died or could not start. */
export class ContainerExitedError extends SluiceError {
  constructor(functionName: string, pid: number, why: string) {
    super('SLUICE_CONTAINER_EXITED', `container ${pid} of function ${functionName} ${why}`, { stage: functionName }, 'the trigger retries the batch in a new container; see the container’s output for the cause');
  }
}

const CONTAINER_MAIN = fileURLToPath(new URL('./container-main.ts', import.meta.url));

/** Builds an Invoker that runs each function's handler in child processes, one invocation at a time each. */
export function processInvoker(options: ProcessInvokerOptions): ProcessInvoker {
  const idle = new Map<string, Container[]>();
  const all: Container[] = [];
  const containers: Record<string, number> = {};
  let nextId = 0;
  let closed = false;

  const start = (functionName: string): Container => {
    const spec = options.functions[functionName];
    if (!spec) throw new Error(`no function named "${functionName}" (have: ${Object.keys(options.functions).join(', ')})`);
    const c = new Container(functionName, spec, options);
    all.push(c);
    containers[functionName] = (containers[functionName] ?? 0) + 1;
    return c;
  };

  return {
    containers,
    async invoke(functionName: string, event: LambdaKafkaEvent): Promise<unknown> {
      if (closed) throw new ContainerExitedError(functionName, 0, 'was not started: the invoker is closed');
      let free = idle.get(functionName);
      if (!free) idle.set(functionName, (free = []));
      let container = free.pop();
      while (container && !container.alive) container = free.pop();
      container ??= start(functionName);
      let keep = true;
      try {
        return await container.invoke((nextId += 1), event);
      } catch (error) {
        keep = container.alive && !options.discard?.(error);
        throw error;
      } finally {
        if (keep && !closed) free.push(container);
        else void container.stop();
      }
    },
    usage() {
      return all.map((c) => c.usage());
    },
    async close() {
      closed = true;
      await Promise.all(all.map((c) => c.stop()));
    },
  };
}

/** One child process serving one function. */
class Container {
  private readonly child: ChildProcess;
  private readonly ready: Promise<void>;
  private pending: { id: number; resolve: (m: FromContainer & { type: 'result' }) => void; reject: (e: Error) => void } | undefined;
  private exitReason: string | undefined;
  private readonly exited: Promise<void>;
  private initMs = 0;
  private last: ContainerReport = { durationMs: 0, cpuMs: 0, totalCpuMs: 0, maxRssBytes: 0 };
  private invocations = 0;

  constructor(
    readonly functionName: string,
    spec: ContainerSpec,
    private readonly options: ProcessInvokerOptions,
  ) {
    const script = spec.script ?? CONTAINER_MAIN;
    const args = spec.script ? [] : [JSON.stringify(spec.handler ?? {})];
    const execArgv = spec.execArgv ?? (/\.[cm]?ts$/.test(script) ? ['--import', 'tsx'] : []);
    this.child = fork(script, args, {
      execArgv: [...execArgv],
      env: { ...process.env, ...spec.env },
      stdio: options.stdio === 'ignore' ? ['ignore', 'ignore', 'ignore', 'ipc'] : ['inherit', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    let onReady: () => void = () => undefined;
    let onFail: (e: Error) => void = () => undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      onFail = reject;
    });
    this.ready.catch(() => undefined);
    const timer = setTimeout(() => {
      onFail(new ContainerExitedError(functionName, this.pid, `did not load its handler within ${Math.round((options.initTimeoutMs ?? 60_000) / 1000)} s`));
      void this.stop();
    }, options.initTimeoutMs ?? 60_000);
    this.child.on('message', (raw) => {
      const m = raw as FromContainer;
      if (m.type === 'ready') {
        clearTimeout(timer);
        this.initMs = m.initMs;
        onReady();
      } else if (m.type === 'init-error') {
        clearTimeout(timer);
        this.exitReason = `failed to load its handler: ${m.error.errorType}: ${m.error.errorMessage}`;
        onFail(new LambdaFunctionError(functionName, 'Unhandled', { ...m.error, errorType: `Runtime.ImportModuleError (${m.error.errorType})` }));
      } else if (m.type === 'result' && this.pending?.id === m.id) {
        const p = this.pending;
        this.pending = undefined;
        p.resolve(m);
      }
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        clearTimeout(timer);
        this.exitReason ??= `exited (code ${code}, signal ${signal})`;
        const error = new ContainerExitedError(functionName, this.pid, this.exitReason);
        onFail(error);
        this.pending?.reject(error);
        this.pending = undefined;
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.connected;
  }

  /** Sends one event and waits for the answer; rejects with the function's error, or if the container exits. */
  async invoke(id: number, event: LambdaKafkaEvent): Promise<unknown> {
    await this.ready;
    if (!this.alive) throw new ContainerExitedError(this.functionName, this.pid, this.exitReason ?? 'has exited');
    const answer = await new Promise<FromContainer & { type: 'result' }>((resolve, reject) => {
      this.pending = { id, resolve, reject };
      const message: ToContainer = { type: 'invoke', id, functionName: this.functionName, event };
      this.child.send(message, (error) => {
        if (error && this.pending?.id === id) {
          this.pending = undefined;
          reject(new ContainerExitedError(this.functionName, this.pid, `could not take the event: ${error.message}`));
        }
      });
    });
    this.last = answer.report;
    this.invocations += 1;
    this.options.onReport?.({ ...answer.report, functionName: this.functionName, pid: this.pid, ok: answer.ok });
    if (!answer.ok) throw new LambdaFunctionError(this.functionName, 'Unhandled', { ...answer.error });
    return answer.result;
  }

  usage(): ContainerUsage {
    return { functionName: this.functionName, pid: this.pid, cpuMs: this.last.totalCpuMs, maxRssBytes: this.last.maxRssBytes, initMs: this.initMs, invocations: this.invocations, alive: this.alive };
  }

  /** Stops the container (disconnecting makes it exit; killed if it does not within 5 s). */
  stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      if (this.child.connected) this.child.disconnect();
      const kill = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      void this.exited.then(() => clearTimeout(kill));
    }
    return this.exited;
  }
}
