/**
 * The benchmark's handle on a processor running in its own process (a Sluice LocalRun, the raw
 * kafkajs loop, or the Kafka Streams JVM), so each one's memory and CPU can be read from /proc
 * without the benchmark's own generator and observers mixed in.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, NodeProcessorConfig, ParentMessage, ProcessorStats } from './protocol.js';

/** A running processor. */
export interface Processor {
  readonly label: string;
  readonly pid: number;
  /** Resolves once it consumes (groups joined, or Kafka Streams RUNNING). */
  ready(timeoutMs: number): Promise<void>;
  /** Epoch ms at which it took its first input record. */
  firstInput(timeoutMs: number): Promise<number>;
  /** When warm-up ended, and how many input records it had taken before then. */
  warmedUp(timeoutMs: number): Promise<{ at: number; records: number }>;
  /** Its counters now. */
  stats(timeoutMs?: number): Promise<ProcessorStats>;
  /** Stops it; resolves with its final counters. */
  stop(timeoutMs?: number): Promise<ProcessorStats>;
  /** Sluice: resolves once every trigger has caught up with its topic (the input so far is processed). */
  settle?(timeoutMs: number): Promise<void>;
  /** Set when it died or reported a fatal error before stop(). */
  readonly failure: string | undefined;
  /** The last lines it wrote to stdout/stderr (for error reports). */
  output(): string;
}

/** Peak resident set size of a live process (VmHWM), bytes; undefined if unknown. */
export function peakRssBytes(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a live process has used, ms; undefined if unknown. */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

// sysconf(_SC_CLK_TCK) is 100 on every Linux the benchmark targets.
const CLOCK_TICKS = 100;

/** Keeps the last lines of a stream. */
export class Tail {
  private lines: string[] = [];
  constructor(private readonly max = 40) {}
  push(chunk: string): void {
    for (const line of chunk.split('\n')) {
      if (line.trim() === '') continue;
      this.lines.push(line);
      if (this.lines.length > this.max) this.lines.shift();
    }
  }
  toString(): string {
    return this.lines.join('\n');
  }
}

/** Waits for `promise` or fails after `ms` with `what`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const SCRIPTS: Record<NodeProcessorConfig['kind'], string> = {
  sluice: fileURLToPath(new URL('./sluice.ts', import.meta.url)),
  raw: fileURLToPath(new URL('./raw-kafkajs.ts', import.meta.url)),
};

/** Starts a Node processor (tsx) in a child process. */
export function startNodeProcessor(label: string, config: NodeProcessorConfig): Processor {
  const child: ChildProcess = fork(SCRIPTS[config.kind], [JSON.stringify(config)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', KAFKAJS_NO_PARTITIONER_WARNING: '1' },
  });
  const tail = new Tail();
  child.stdout?.setEncoding('utf8').on('data', (d: string) => tail.push(d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => tail.push(d));
  return new IpcProcessor(label, child, tail);
}

class IpcProcessor implements Processor {
  failure: string | undefined;
  private readonly readyP: Promise<void>;
  private readonly firstP: Promise<number>;
  private readonly warmP: Promise<{ at: number; records: number }>;
  private statsWaiters: Array<(s: ProcessorStats) => void> = [];
  private settleWaiters: Array<() => void> = [];
  private readonly failed: Promise<never>;
  private stopping = false;

  constructor(
    readonly label: string,
    private readonly child: ChildProcess,
    private readonly tail: Tail,
  ) {
    let onReady: () => void = () => undefined;
    let onFirst: (at: number) => void = () => undefined;
    let onFail: (e: Error) => void = () => undefined;
    this.readyP = new Promise((r) => (onReady = r));
    this.firstP = new Promise((r) => (onFirst = r));
    let onWarm: (w: { at: number; records: number }) => void = () => undefined;
    this.warmP = new Promise((r) => (onWarm = r));
    this.failed = new Promise<never>((_, reject) => (onFail = reject));
    this.failed.catch(() => undefined);
    child.on('message', (raw) => {
      const m = raw as ChildMessage;
      if (m.type === 'ready') onReady();
      if (m.type === 'first') onFirst(m.at);
      if (m.type === 'warm') onWarm({ at: m.at, records: m.records });
      if (m.type === 'stats') {
        const waiters = this.statsWaiters;
        this.statsWaiters = [];
        for (const w of waiters) w(m.stats);
      }
      if (m.type === 'settled') {
        const waiters = this.settleWaiters;
        this.settleWaiters = [];
        for (const w of waiters) w();
      }
      if (m.type === 'fatal') {
        this.failure = m.message;
        onFail(new Error(`${label} failed: ${m.message}`));
      }
    });
    child.on('exit', (code, signal) => {
      if (this.stopping && code === 0) return;
      this.failure ??= `exited (code ${code}, signal ${signal})`;
      onFail(new Error(`${label} ${this.failure}\n${tail.toString()}`));
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  ready(timeoutMs: number): Promise<void> {
    return within(Promise.race([this.readyP, this.failed]), timeoutMs, `${this.label} did not get ready`);
  }

  firstInput(timeoutMs: number): Promise<number> {
    return within(Promise.race([this.firstP, this.failed]), timeoutMs, `${this.label} took no input`);
  }

  warmedUp(timeoutMs: number): Promise<{ at: number; records: number }> {
    return within(Promise.race([this.warmP, this.failed]), timeoutMs, `${this.label} did not finish its warm-up`);
  }

  stats(timeoutMs = 30_000): Promise<ProcessorStats> {
    const answer = new Promise<ProcessorStats>((r) => this.statsWaiters.push(r));
    this.send({ type: 'stats' });
    return within(Promise.race([answer, this.failed]), timeoutMs, `${this.label} stats`);
  }

  settle(timeoutMs: number): Promise<void> {
    const answer = new Promise<void>((r) => this.settleWaiters.push(r));
    this.send({ type: 'settle' });
    return within(Promise.race([answer, this.failed]), timeoutMs, `${this.label} settle`);
  }

  async stop(timeoutMs = 60_000): Promise<ProcessorStats> {
    this.stopping = true;
    const answer = new Promise<ProcessorStats>((r) => this.statsWaiters.push(r));
    const exited = new Promise<void>((r) => (this.child.exitCode !== null ? r() : this.child.once('exit', () => r())));
    this.send({ type: 'stop' });
    try {
      const stats = await within(Promise.race([answer, this.failed]), timeoutMs, `${this.label} stop`);
      await within(exited, 10_000, `${this.label} exit`);
      return stats;
    } finally {
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
    }
  }

  output(): string {
    return this.tail.toString();
  }

  private send(message: ParentMessage): void {
    if (this.child.connected) this.child.send(message);
  }
}
