/**
 * `sluice dev`: runs a pipeline locally the way AWS would — the local Kafka broker and DynamoDB
 * Local, one emulated Kafka trigger per stage input and control topic, the ticker — and shows
 * one live status line per stage every second (records/s, lag, event time). Stage functions run
 * in this process (default) or behind a Lambda Invoke API (serverless-offline, LocalStack).
 * Ctrl-C stops it; the app's topics, table and consumer groups stay, so a restart resumes.
 * `--fresh --feed <module#export> --expect <n>` makes it a bounded, self-checking run: start from
 * empty topics and table, write sample records, print the committed outputs, stop after n of them
 * (a new project's `npm start`).
 */
import { tableOf } from '../ops/stage-items.js';
import { fromTheStart } from '../runtime/source-starts.js';
import { resolve } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvalidArgumentError, type Command } from 'commander';
import type { Admin, Kafka } from 'kafkajs';
import { DEPLOY_DEFAULTS } from '../deploy/defaults.js';
import { ConfigError } from '../errors.js';
import { DynamoTaskStore } from '../dynamodb/task-store.js';
import { createDynamoClient } from '../dynamodb/client.js';
import { createTable, deleteTable } from '../dynamodb/table.js';
import { ensureTopics } from '../kafka/admin.js';
import { feedRecords, readSinks, writeFeed, type SinkReader } from '../local/feed.js';
import { createKafka } from '../kafka/client.js';
import { LocalRun } from '../local/dev.js';
import type { Invoker } from '../local/esm/invoker.js';
import { inProcessInvoker } from '../local/esm/invoker.js';
import { lambdaApiInvoker } from '../local/esm/lambda-api-invoker.js';
import { infraUp, type InfraInfo } from '../local/infra/index.js';
import type { ServiceName } from '../local/infra/config.js';
import type { StageStatus } from '../local/monitor.js';
import { PipelineMonitor } from '../local/monitor.js';
import { SnapshotCollector } from '../local/ui/collector.js';
import { DEFAULT_DEV_UI_PORT, startDevUi, type DevUi } from '../local/ui/server.js';
import { loadTopology, parsePipelineSpec } from '../ops/pipeline-module.js';
import { stageHandler, type StagePorts } from '../runtime/handler.js';
import { lambdaPorts } from '../runtime/lambda-ports.js';
import type { Topology } from '../topology/topology.js';
import { managedTopicConfigs } from '../topology/names.js';
import { importUserModule } from '../user-module.js';
import { deployToLocalstack } from './localstack-target.js';
import { parseTarget, type Target } from './target.js';

/** The pipeline `sluice dev` runs when none is named. */
export const DEFAULT_PIPELINE = 'functions/ysb/pipeline.ts#ysb';

interface DevOptions {
  readonly pipeline: string;
  readonly table?: string;
  readonly brokers?: string;
  readonly dynamodbEndpoint?: string;
  readonly invoker: 'in-process' | 'lambda-api';
  readonly endpoint: string;
  readonly functionName: string;
  readonly batchSize: number;
  /** `--no-bundle`: one partition per invocation. */
  readonly bundle: boolean;
  readonly tickInterval: number;
  readonly groupPrefix?: string;
  readonly duration?: number;
  readonly verbose?: boolean;
  /** `--ui` alone: true (the default port); `--ui <port>`: that port (0: any free one). */
  readonly ui?: boolean | number;
  /** Where the state lives: DynamoDB Local, or the service's stack on LocalStack. */
  readonly target: Target;
  /** `--target localstack`: the Serverless service to deploy (its directory) and its `--stage`. */
  readonly service: string;
  readonly stage: string;
  /** Delete the app's topics, table and trigger groups first. */
  readonly fresh?: boolean;
  /** `module#export` of records to write to the source topics once the triggers run. */
  readonly feed?: string;
  /** Print committed sink records; stop after this many (exit 1 if --duration passes first). */
  readonly expect?: number;
}

/** Adds the `dev` command to the program. */
export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('run a pipeline locally (trigger emulators, ticker, local Kafka + DynamoDB Local) with a live status per stage')
    .option('-p, --pipeline <module#export>', 'the pipeline module (env SLUICE_PIPELINE)', process.env.SLUICE_PIPELINE ?? DEFAULT_PIPELINE)
    .option('--table <name>', "the app's DynamoDB table (env SLUICE_TABLE; default sluice-dev-<app>)")
    .option('--brokers <list>', 'Kafka bootstrap servers (env SLUICE_KAFKA_BROKERS; default: start/reuse the local broker)')
    .option('--dynamodb-endpoint <url>', 'DynamoDB endpoint (env SLUICE_DYNAMODB_ENDPOINT; default: start/reuse DynamoDB Local)')
    .option('--invoker <kind>', 'in-process, or lambda-api (serverless-offline / LocalStack)', parseInvoker, 'in-process')
    .option('--endpoint <url>', 'Lambda Invoke API endpoint for --invoker lambda-api', 'http://localhost:3002')
    .option('--function-name <template>', 'deployed function name of a stage for --invoker lambda-api; {stage} is replaced', '{stage}')
    .option('--batch-size <n>', 'records per invocation (Lambda allows 1-10000; default: the deployed default)', parseBatchSize, DEPLOY_DEFAULTS.batchSize)
    .option('--no-bundle', 'invoke one partition at a time (default: several partitions per invocation, as Lambda does)')
    .option('--tick-interval <ms>', 'time between ticker passes in ms (a deployment passes once a minute; 0: no ticker)', parseNonNegative, 1_000)
    .option('--group-prefix <prefix>', 'consumer group prefix of the triggers (default sluice-local-<app>; a new one re-reads from the start)')
    .option('--duration <seconds>', 'stop after this many seconds (default: run until Ctrl-C)', parsePositive)
    .option('--fresh', "start over: delete the app's topics, table and trigger consumer groups first")
    .option('--feed <module#export>', 'write these records to the source topics once running (an array of { value, key?, topic?, timestamp?, partition? }, or a function returning one)')
    .option('--expect <n>', 'print the committed sink records and stop after n of them; exit 1 if --duration passes first', parsePositive)
    .option('--verbose', 'show kafkajs logs')
    .option('--ui [port]', `also serve a live view in the browser on 127.0.0.1 (port default ${DEFAULT_DEV_UI_PORT}; 0: any free port)`, parsePort)
    .option('--target <where>', 'local: state in DynamoDB Local; localstack: create the service\'s table, roles and bucket on LocalStack through CloudFormation and keep the state there', parseTarget, 'local')
    .option('--service <dir>', '--target localstack: directory of the serverless.yml to deploy', '.')
    .option('--stage <stage>', '--target localstack: the Serverless --stage (names the stack and its table)', 'local')
    .action(async (opts: DevOptions) => {
      try {
        await runDev(opts);
      } finally {
        exitWhenDone();
      }
    });
}

async function runDev(opts: DevOptions): Promise<void> {
  // kafkajs logs every retried transient error (fenced producers after a lost race, coordinator moves);
  // the stages handle them and the status line shows failures.
  if (!opts.verbose) process.env.KAFKAJS_LOG_LEVEL ??= 'NOTHING';
  const topology = await loadTopology(opts.pipeline);
  const brokersFlag = opts.brokers ?? process.env.SLUICE_KAFKA_BROKERS;
  const onLocalstack = opts.target === 'localstack';
  const endpointFlag = onLocalstack ? undefined : (opts.dynamodbEndpoint ?? process.env.SLUICE_DYNAMODB_ENDPOINT);
  const needed: ServiceName[] = [...(brokersFlag ? [] : (['kafka'] as const)), ...(endpointFlag ? [] : ([onLocalstack ? 'localstack' : 'dynamodb'] as const))];
  const infra: Partial<InfraInfo> = needed.length > 0 ? await infraUp({ services: needed, log: (line) => console.error(`  infra     ${line}`) }) : {};
  const brokers = brokersFlag ? brokersFlag.split(',').filter(Boolean) : (infra.kafka?.brokers ?? []);
  let dynamodbEndpoint = endpointFlag ?? infra.dynamodb?.endpoint ?? '';
  let table = opts.table ?? process.env.SLUICE_TABLE ?? `sluice-dev-${topology.app}`;
  if (infra.localstack) {
    // The service's own stack: the table (and roles, bucket) the plugin generates, made by CloudFormation.
    const deployment = await deployToLocalstack({
      endpoint: infra.localstack.endpoint,
      serviceDir: opts.service,
      stage: opts.stage,
      env: { SLUICE_KAFKA_BROKERS: brokers.join(',') },
      log: (line) => console.error(`  localstack ${line}`),
    });
    dynamodbEndpoint = deployment.endpoint;
    table = deployment.table;
  }
  const groupPrefix = opts.groupPrefix ?? `sluice-local-${topology.app}`;

  const kafka = createKafka({ brokers, clientId: `sluice-dev-${topology.app}` });
  const dynamo = createDynamoClient({ endpoint: dynamodbEndpoint });
  if (opts.fresh) {
    console.log(`  fresh     deleting ${topology.app}'s topics, table ${table} and consumer groups ${groupPrefix}-*`);
    await cleanupApp(kafka, dynamo, topology, table, groupPrefix);
    await topicsGone(kafka, topology.topics.map((t) => t.name));
  }
  await prepareApp(kafka, dynamo, topology, table);
  // Loaded before anything runs, so a bad feed fails fast.
  const feed = opts.feed === undefined ? undefined : await loadFeed(opts.feed);

  let inner: Invoker;
  let close = async (): Promise<void> => undefined;
  if (opts.invoker === 'lambda-api') {
    const api = lambdaApiInvoker({ endpoint: opts.endpoint, functionName: (stage) => opts.functionName.replaceAll('{stage}', stage) });
    inner = api;
    close = async () => api.close();
  } else {
    const ports = closableConnect(lambdaPorts(topology, { table, brokers, dynamodbEndpoint, sourceStarts: fromTheStart(topology) }));
    inner = inProcessInvoker(Object.fromEntries(topology.stages.map((s) => [s.name, () => stageHandler(topology, s.name, { connect: ports.connect })])));
    close = ports.close;
  }
  const monitor = new PipelineMonitor(topology);
  // The live view (--ui): its own figures per task, from the same callbacks plus offsets and checkpoints.
  const uiDynamo = opts.ui !== undefined && opts.ui !== false ? createDynamoClient({ endpoint: dynamodbEndpoint }) : undefined;
  const collector = uiDynamo ? new SnapshotCollector({ topology, kafka, groupPrefix, checkpoints: tableOf({ dynamo: uiDynamo, table, kafka, topology }) }) : undefined;
  const run = new LocalRun({
    topology,
    kafka,
    brokers,
    invoker: collector ? collector.invoker(monitor.invoker(inner)) : monitor.invoker(inner),
    onInvocation: (info) => {
      monitor.onInvocation(info);
      collector?.onInvocation(info);
    },
    groupPrefix,
    batchSize: opts.batchSize,
    bundlePartitions: opts.bundle,
    tickIntervalMs: opts.tickInterval,
    taskTimes: new DynamoTaskStore(dynamo, table),
  });

  console.log(`sluice dev: ${topology.app} (${topology.stages.map((s) => s.name).join(' → ')})`);
  console.log(`  kafka     ${brokers.join(',')}`);
  console.log(`  dynamodb  ${dynamodbEndpoint}${onLocalstack ? ' (LocalStack)' : ''}, table ${table}`);
  console.log(`  invoker   ${opts.invoker === 'lambda-api' ? `Lambda Invoke API at ${opts.endpoint}, functions ${opts.functionName}` : 'in-process handlers'}`);
  const sources = topology.topics.filter((t) => t.role === 'source').map((t) => `${t.name} ×${t.partitions}`);
  const sinks = topology.topics.filter((t) => t.role === 'sink').map((t) => t.name);
  console.log(`  reads     ${sources.join(', ')}   writes ${sinks.join(', ')}`);
  if (topology.app === 'ysb' || opts.pipeline === DEFAULT_PIPELINE) console.log('  feed it   npx sluice ysb generate --rate 2000 --duration 30   (in another terminal)');
  let ui: DevUi | undefined;
  if (collector) {
    ui = await startDevUi({ topology, snapshot: () => collector.snapshot(), port: typeof opts.ui === 'number' ? opts.ui : DEFAULT_DEV_UI_PORT });
    await collector.start();
    console.log(`  live view ${ui.url}`);
  }
  console.log('  stop      Ctrl-C\n');

  await run.start();
  let outputs: SinkReader | undefined;
  let seen = 0;
  let expected: () => void = () => undefined;
  if (opts.expect !== undefined) {
    outputs = await readSinks(kafka, topology, (o) => {
      seen += 1;
      console.log(`  output    ${o.topic}[${o.partition}] ${o.key ?? '(no key)'}  ${o.value ?? '(tombstone)'}`);
      if (seen === opts.expect) expected();
    });
  }
  if (feed) console.log(`  fed       ${await writeFeed(kafka, topology, feed)} records from ${opts.feed}`);
  const admin = kafka.admin();
  await admin.connect();
  const screen = new StatusScreen(process.stdout.isTTY === true);
  let stopping = false;
  const finished = new Promise<void>((resolve) => {
    const stop = (): void => {
      if (stopping) {
        // A second Ctrl-C: do not wait for in-flight invocations.
        process.exit(130);
      }
      stopping = true;
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    expected = stop;
    if (opts.duration !== undefined) setTimeout(stop, opts.duration * 1000).unref();
  });
  const timer = setInterval(() => {
    void monitor
      .refreshLag(admin)
      .catch(() => undefined)
      .then(() => screen.show(monitor.sample().map((s) => formatStageStatus(s, Date.now()))));
  }, 1_000);
  try {
    await finished;
  } finally {
    clearInterval(timer);
    console.log('\nstopping: waiting for in-flight invocations…');
    await outputs?.stop();
    await ui?.close();
    await collector?.stop();
    uiDynamo?.destroy();
    await run.stop();
    dynamo.destroy();
    await admin.disconnect();
    await close();
  }
  console.log(`stopped. Topics, table ${table} and consumer groups ${groupPrefix}-* are kept: \`sluice dev\` resumes where it stopped.`);
  if (opts.expect !== undefined) {
    if (seen >= opts.expect) {
      console.log(`✓ ${seen} committed output records (expected ${opts.expect})`);
    } else {
      console.error(`✗ ${seen} committed output records, expected ${opts.expect}${opts.duration !== undefined ? ` within ${opts.duration} s` : ''}`);
      process.exitCode = 1;
    }
  }
}

/** Loads `module#export` of a feed (the default export, or the module's only export). */
async function loadFeed(spec: string): Promise<Awaited<ReturnType<typeof feedRecords>>> {
  const { file, exportName } = parsePipelineSpec(spec);
  const module = await importUserModule(resolve(file));
  const names = Object.keys(module);
  const name = exportName ?? ('default' in module ? 'default' : names.length === 1 ? names[0]! : undefined);
  if (name === undefined || !(name in module)) {
    throw new ConfigError(`${file} has no feed export${name ? ` "${name}"` : ''}`, { field: 'feed' }, `exports: ${names.join(', ') || 'none'}; pass --feed ${file}#<export>`);
  }
  return feedRecords(module[name], `${file}#${name}`);
}

/** Waits until the broker no longer lists the topics (deletion is asynchronous), at most 30 s. */
async function topicsGone(kafka: Kafka, topics: readonly string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
      const listed = new Set(await admin.listTopics());
      if (!topics.some((t) => listed.has(t))) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Lets the process end `graceMs` after the command finished even if sockets are still open.
 * A stage's KafkaTxnSink drops (disconnects) a producer when a recovery fences its transactional
 * id, but a transaction of a concurrent invocation in the same process may still be sending
 * through it, and kafkajs then reconnects it; nothing disconnects it again, so after a run with
 * lost races a few broker connections stay open. In Lambda the container just freezes; a CLI
 * must not hang on them. process.exit keeps process.exitCode (set by main on errors).
 */
export function exitWhenDone(graceMs = 1_000): void {
  setTimeout(() => process.exit(), graceMs).unref();
}

/**
 * Wraps a stage's `connect` so the adapters it builds can be closed at the end: their Kafka
 * producers hold sockets that would keep this process alive (in Lambda the container just freezes).
 */
export function closableConnect(connect: (bootstrapServers: readonly string[]) => Promise<StagePorts>): {
  connect: (bootstrapServers: readonly string[]) => Promise<StagePorts>;
  close: () => Promise<void>;
} {
  const opened: StagePorts[] = [];
  return {
    connect: async (bootstrapServers) => {
      const ports = await connect(bootstrapServers);
      opened.push(ports);
      return ports;
    },
    close: async () => {
      await Promise.all(opened.splice(0).map(async (p) => (p.sink as Partial<{ close(): Promise<void> }>).close?.().catch(() => undefined)));
    },
  };
}

/**
 * Creates the app's table and every topic of the topology (external source and sink topics too,
 * so a fresh local setup just works). Retries while a just-created topic is not yet known to the
 * broker's metadata (a busy KRaft broker publishes it a moment later).
 */
export async function prepareApp(kafka: Kafka, dynamo: DynamoDBClient, topology: Topology, table: string): Promise<void> {
  await createTable(dynamo, table);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = topology.topics.map((t) => ({ topic: t.name, partitions: t.partitions, ...(t.managed ? { configs: managedTopicConfigs(t.role) } : {}) }));
    await ensureTopics(admin, topics);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes what `prepareApp` and a LocalRun with `groupPrefix` created: topics, consumer groups, table. */
export async function cleanupApp(kafka: Kafka, dynamo: DynamoDBClient, topology: Topology, table: string, groupPrefix: string): Promise<void> {
  const admin: Admin = kafka.admin();
  await admin.connect();
  try {
    // LocalRun's trigger groups are `<prefix>-<stage>-<topic>`, one per stage input and control topic.
    const ours = new Set(topology.stages.flatMap((s) => [...s.inputs.map((i) => i.topic), s.controlTopic].map((t) => `${groupPrefix}-${s.name}-${t}`)));
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => ours.has(g));
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
    await admin.deleteTopics({ topics: topology.topics.map((t) => t.name) }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
  await deleteTable(dynamo, table);
}

/** One status line: `stage  records/s  lag  event time  invocations/failures`. Pure. */
export function formatStageStatus(s: StageStatus, now: number): string {
  const rate = `${Math.round(s.ratePerSec).toLocaleString('en-US')} rec/s`;
  const lag = s.lag === undefined ? 'lag ?' : `lag ${s.lag.toLocaleString('en-US')}`;
  const wm = s.watermark === undefined ? `event time –  (${s.tasksReported}/${s.tasks} tasks reported)` : `event time ${clock(s.watermark)}${behind(s.watermark, now)}`;
  const calls = `${s.invocations.toLocaleString('en-US')} calls${s.failures > 0 ? `, ${s.failures} failed (retried)` : ''}`;
  return `  ${s.stage.padEnd(12)} ${rate.padStart(13)}   ${lag.padEnd(11)} ${wm.padEnd(42)} ${calls}`;
}

/** HH:MM:SS.mmm (UTC) of an epoch-ms instant. */
export function clock(t: number): string {
  return new Date(t).toISOString().slice(11, 23);
}

function behind(wm: number, now: number): string {
  const d = now - wm;
  // Event time far from the wall clock (replayed or synthetic data): the difference means nothing.
  if (Math.abs(d) > 3_600_000) return '';
  return d >= 0 ? ` (${(d / 1000).toFixed(1)}s behind)` : ` (${(-d / 1000).toFixed(1)}s ahead)`;
}

/** Prints status blocks: redrawn in place on a terminal, appended otherwise. */
export class StatusScreen {
  private drawn = 0;

  constructor(private readonly tty: boolean) {}

  show(lines: readonly string[]): void {
    if (this.tty) {
      // Move up over the previous block and overwrite it line by line.
      if (this.drawn > 0) process.stdout.write(`\u001b[${this.drawn}F`);
      for (const line of lines) process.stdout.write(`\u001b[2K${line}\n`);
      this.drawn = lines.length;
      return;
    }
    console.log(`[${clock(Date.now())}]`);
    for (const line of lines) console.log(line);
  }
}

function parseInvoker(value: string): 'in-process' | 'lambda-api' {
  if (value !== 'in-process' && value !== 'lambda-api') throw new InvalidArgumentError('expected in-process or lambda-api');
  return value;
}

function parseBatchSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new InvalidArgumentError('expected an integer from 1 to 10000');
  return n;
}

function parseNonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('expected a port number from 0 to 65535 (0: any free port)');
  return n;
}

function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}
