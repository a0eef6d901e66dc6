/**
 * The Kafka Streams baseline: builds bench/kstreams (Maven: compile + copy the dependencies to
 * target/lib; git-ignored) when needed, and runs `dev.sluice.bench.YsbStreams` as a child JVM
 * that reports over stdio (see YsbStreams.java). Its state directory is a fresh temp dir,
 * removed afterwards.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CAMPAIGNS } from '../functions/ysb/campaigns.js';
import { ALLOWED_LATENESS_MS, MAX_OUT_OF_ORDERNESS_MS, WINDOW_MS } from '../functions/ysb/pipeline.js';
import type { Processor } from './processors/processor.js';
import { Tail, within } from './processors/processor.js';
import type { ProcessorStats } from './processors/protocol.js';

const DIR = fileURLToPath(new URL('./kstreams/', import.meta.url));
const CLASSES = join(DIR, 'target/classes');
const LIB = join(DIR, 'target/lib');
const SOURCE = join(DIR, 'src/main/java/dev/sluice/bench/YsbStreams.java');
const MAIN_CLASS = 'dev.sluice.bench.YsbStreams';

/** JVM flags of the Kafka Streams process (heap fixed so peak RSS is comparable between runs). */
export const KSTREAMS_JAVA_OPTS = ['-Xms256m', '-Xmx1g', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn'];

/** Builds the program unless target/ is newer than its source and pom; returns a reason when it cannot. */
export function ensureKStreamsBuilt(log: (line: string) => void, force = false): string | undefined {
  const built = existsSync(join(CLASSES, 'dev/sluice/bench/YsbStreams.class')) && existsSync(LIB) && readdirSync(LIB).some((f) => f.startsWith('kafka-streams-'));
  const fresh = built && statSync(join(CLASSES, 'dev/sluice/bench/YsbStreams.class')).mtimeMs >= Math.max(statSync(SOURCE).mtimeMs, statSync(join(DIR, 'pom.xml')).mtimeMs);
  if (fresh && !force) return undefined;
  if (spawnSync('mvn', ['-v'], { stdio: 'ignore' }).status !== 0) return 'Maven (mvn) is not installed';
  log('building bench/kstreams with Maven (first time: downloads kafka-streams 3.9.2)…');
  const out = spawnSync('mvn', ['-q', '-B', '-f', join(DIR, 'pom.xml'), 'package', 'dependency:copy-dependencies'], { encoding: 'utf8' });
  if (out.status !== 0) return `mvn failed:\n${(out.stdout ?? '') + (out.stderr ?? '')}`;
  return undefined;
}

/** Settings of one Kafka Streams run. */
export interface KStreamsConfig {
  readonly appId: string;
  readonly brokers: readonly string[];
  readonly sourceTopic: string;
  readonly sinkTopic: string;
  readonly partitions: number;
  readonly warmupRecords: number;
}

/** Starts the YSB job in a JVM. */
export function startKStreams(label: string, config: KStreamsConfig): Processor {
  const work = mkdtempSync(join(tmpdir(), 'sluice-bench-kstreams-'));
  const campaigns = join(work, 'campaigns.txt');
  writeFileSync(campaigns, CAMPAIGNS.flatMap((c) => c.ad_ids.map((ad) => `${ad} ${c.campaign_id}`)).join('\n') + '\n');
  const args = [
    ...KSTREAMS_JAVA_OPTS,
    '-cp',
    `${CLASSES}:${LIB}/*`,
    MAIN_CLASS,
    '--bootstrap', config.brokers.join(','),
    '--app-id', config.appId,
    '--source', config.sourceTopic,
    '--sink', config.sinkTopic,
    '--campaigns', campaigns,
    '--state-dir', join(work, 'state'),
    '--partitions', String(config.partitions),
    '--window-ms', String(WINDOW_MS),
    // Sluice accepts a record up to maxOutOfOrderness behind the largest event time seen, plus the allowed lateness.
    '--grace-ms', String(MAX_OUT_OF_ORDERNESS_MS + ALLOWED_LATENESS_MS),
    '--guarantee', 'exactly_once_v2',
    '--warmup', String(config.warmupRecords),
  ];
  const child = spawn('java', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const tail = new Tail();
  let failure: string | undefined;
  let stopping = false;
  let onReady: () => void = () => undefined;
  let onFirst: (at: number) => void = () => undefined;
  let onFail: (e: Error) => void = () => undefined;
  const readyP = new Promise<void>((r) => (onReady = r));
  const firstP = new Promise<number>((r) => (onFirst = r));
  let onWarm: (w: { at: number; records: number }) => void = () => undefined;
  const warmP = new Promise<{ at: number; records: number }>((r) => (onWarm = r));
  const failed = new Promise<never>((_, reject) => (onFail = reject));
  failed.catch(() => undefined);
  let statsWaiters: Array<(s: ProcessorStats) => void> = [];
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      const line = buffered.slice(0, i).trim();
      buffered = buffered.slice(i + 1);
      if (!line.startsWith('{')) {
        tail.push(line);
        continue;
      }
      const m = JSON.parse(line) as { event: string; at?: number; records?: number; message?: string } & KStreamsStats;
      if (m.event === 'running') onReady();
      if (m.event === 'first' && m.at !== undefined) onFirst(m.at);
      if (m.event === 'warm' && m.at !== undefined) onWarm({ at: m.at, records: m.records ?? 0 });
      if (m.event === 'stats' || m.event === 'stopped') {
        const waiters = statsWaiters;
        statsWaiters = [];
        for (const w of waiters) w(toStats(m));
      }
      if (m.event === 'error') {
        failure = m.message ?? 'error';
        onFail(new Error(`${label}: ${failure}\n${tail.toString()}`));
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => tail.push(d));
  child.on('exit', (code, signal) => {
    rmSync(work, { recursive: true, force: true });
    if (stopping && code === 0) return;
    failure ??= `JVM exited (code ${code}, signal ${signal})`;
    onFail(new Error(`${label} ${failure}\n${tail.toString()}`));
  });
  child.on('error', (e) => {
    failure = e.message;
    onFail(e);
  });

  const ask = (command: string): Promise<ProcessorStats> => {
    const answer = new Promise<ProcessorStats>((r) => statsWaiters.push(r));
    if (child.stdin.writable) child.stdin.write(`${command}\n`);
    return Promise.race([answer, failed]);
  };

  return {
    label,
    get pid() {
      return child.pid ?? -1;
    },
    get failure() {
      return failure;
    },
    ready: (timeoutMs) => within(Promise.race([readyP, failed]), timeoutMs, `${label} did not reach RUNNING`),
    firstInput: (timeoutMs) => within(Promise.race([firstP, failed]), timeoutMs, `${label} took no input`),
    warmedUp: (timeoutMs) => within(Promise.race([warmP, failed]), timeoutMs, `${label} did not finish its warm-up`),
    stats: (timeoutMs = 30_000) => within(ask('stats'), timeoutMs, `${label} stats`),
    async stop(timeoutMs = 60_000) {
      stopping = true;
      const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
      try {
        const stats = await within(ask('stop'), timeoutMs, `${label} stop`);
        await within(exited, 30_000, `${label} exit`);
        return stats;
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    },
    output: () => tail.toString(),
  };
}

/** What YsbStreams reports. */
interface KStreamsStats {
  readonly requests?: Record<string, number>;
  readonly commits?: number;
  readonly transactions?: number;
  readonly aborts?: number;
  readonly input?: number;
}

function toStats(m: KStreamsStats): ProcessorStats {
  return {
    kafka: {
      requestsByClient: { ...(m.requests ?? {}) },
      requestsByApi: {},
      transactions: m.transactions ?? 0,
      aborts: m.aborts ?? 0,
    },
    failures: 0,
    errors: [],
  };
}
