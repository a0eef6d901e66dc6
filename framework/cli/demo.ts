/**
 * `sluice demo` (`npm start`): the YSB example (functions/ysb) end to end on the local
 * infrastructure. It brings up Kafka and DynamoDB Local, creates a uniquely named app's topics
 * and table, runs both stages through the emulated Lambda Kafka triggers with in-process
 * handlers, feeds a live, skewed, out-of-order stream of ad events for a bounded time, waits
 * until event time has passed the last window, and checks every committed per-campaign window
 * count against the oracle. Exits non-zero on any difference.
 *
 * With `--target localstack` the state lives on LocalStack instead, in the table of the YSB
 * service's stack (localstack-target.ts). `sluice demo --smoke` is in smoke-demo.ts.
 */
import { fromTheStart } from '../runtime/source-starts.js';
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, type Command } from 'commander';
import { DynamoTaskStore } from '../dynamodb/task-store.js';
import { createDynamoClient } from '../dynamodb/client.js';
import { SluiceError } from '../errors.js';
import { createKafka } from '../kafka/client.js';
import { readToEnd } from '../kafka/read-to-end.js';
import { packageRoot } from '../local/infra/config.js';
import { infraUp } from '../local/infra/index.js';
import { LocalRun } from '../local/dev.js';
import { inProcessInvoker } from '../local/esm/invoker.js';
import { PipelineMonitor, type StageStatus } from '../local/monitor.js';
import { stageHandler } from '../runtime/handler.js';
import { lambdaPorts } from '../runtime/lambda-ports.js';
import { compile } from '../topology/compile.js';
import { ADS_PER_CAMPAIGN, CAMPAIGNS } from '../../functions/ysb/campaigns.js';
import { runGenerator, type GeneratorResult } from '../../functions/ysb/generator.js';
import { verifyCounts, windowStartOf, type Verification } from '../../functions/ysb/oracle.js';
import { ALLOWED_LATENESS_MS, WINDOW_MS, ysbPipeline, type CampaignCount, type CampaignView } from '../../functions/ysb/pipeline.js';
import { cleanupApp, clock, closableConnect, exitWhenDone, prepareApp } from './dev.js';
import { deployToLocalstack, type LocalstackDeployment } from './localstack-target.js';
import { runSmokeDemo, type SmokeOptions } from './smoke-demo.js';
import { parseTarget, type Target } from './target.js';

/** Options of the YSB demo. */
export interface YsbDemoOptions {
  /** Events per second the generator writes. */
  readonly rate: number;
  /** Seconds of events. */
  readonly duration: number;
  readonly seed: number;
  /** Out-of-orderness: how far an event time may lag, ms. */
  readonly jitter: number;
  /** Zipf exponent of campaign popularity. */
  readonly skew: number;
  /** Keep the demo's topics, table and consumer groups. */
  readonly keep: boolean;
  /** The pipeline's commit protocol (PipelineOptions.commit; default checkpoint). */
  readonly commit?: 'checkpoint' | 'changelog';
  /**
   * Where the state lives: `local` (DynamoDB Local) or `localstack` (the YSB service's stack —
   * table, roles, bucket — created by CloudFormation on LocalStack, the table used by the stages).
   */
  readonly target?: Target;
}

/** Adds the `demo` command to the program. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the YSB example exactly once on local Kafka + DynamoDB Local and check every window count against an oracle (--smoke: the infrastructure smoke flow)')
    .option('--rate <events/s>', 'events per second the generator writes', parseCount, 3_000)
    .option('--duration <seconds>', 'seconds of events', parseCount, 15)
    .option('--seed <n>', 'seed of the event stream', parseWhole, 42)
    .option('--jitter <ms>', 'out-of-orderness of event times, ms (above 2000 some records may be late)', parseWhole, 1_500)
    .option('--skew <s>', 'Zipf exponent of campaign popularity (0 = uniform)', parseSkew, 1)
    .option('--keep', 'keep the demo topics, table and consumer groups', false)
    .option('--commit <protocol>', "checkpoint (default): DynamoDB per batch; changelog (experimental): the batch's Kafka transaction, DynamoDB snapshots", parseCommit, 'checkpoint')
    .option('--target <where>', 'local: state in DynamoDB Local; localstack: deploy the YSB stack\'s table, roles and bucket to LocalStack through CloudFormation and keep the state there', parseTarget, 'local')
    .option('--smoke', 'instead: the transactional Kafka + conditional DynamoDB smoke flow', false)
    .option('--committed <n>', '--smoke: records in the committed transaction', parseCount, 5)
    .option('--aborted <n>', '--smoke: records in the aborted transaction', parseCount, 3)
    .action(async (opts: YsbDemoOptions & SmokeOptions & { smoke: boolean }) => {
      if (!opts.smoke) {
        try {
          await runYsbDemo(opts);
        } finally {
          exitWhenDone();
        }
        return;
      }
      const checks = await runSmokeDemo(opts);
      const failed = checks.filter((c) => !c.ok);
      if (failed.length > 0) {
        throw new SluiceError('SLUICE_DEMO_FAILED', `${failed.length} of ${checks.length} demo checks failed`, {}, 'see the ✗ lines above');
      }
      console.log(`\nAll ${checks.length} checks passed. The infrastructure keeps running; stop it with: npx sluice infra down`);
    });
}

/** What a demo run did: the verdict, and where its app lived (with `keep`, still there until `remove`). */
export interface YsbDemoResult {
  readonly verdict: Verification;
  readonly app: string;
  readonly table: string;
  /** The DynamoDB endpoint the stages used (DynamoDB Local or LocalStack). */
  readonly dynamodbEndpoint: string;
  /** The LocalStack stack, with `--target localstack`. */
  readonly stack: string | undefined;
  /** Deletes the topics, consumer groups, table and stack (already done unless `keep`). */
  remove(): Promise<void>;
}

/**
 * Runs the YSB example end to end on the local infrastructure and checks it against the oracle,
 * printing as it goes. Throws SluiceError (exit code 1) unless every window count is exact.
 */
export async function runYsbDemo(opts: YsbDemoOptions): Promise<YsbDemoResult> {
  const began = Date.now();
  // kafkajs logs every retried transient error at ERROR (a fenced producer after a lost race is
  // part of the protocol); failures that matter still surface as errors.
  process.env.KAFKAJS_LOG_LEVEL ??= 'NOTHING';
  const say = (label: string, text: string): void => console.log(`  ${label.padEnd(9)} ${text}`);
  const onLocalstack = opts.target === 'localstack';
  console.log(`Sluice demo: the Yahoo Streaming Benchmark, exactly once, on local Kafka + ${onLocalstack ? 'LocalStack (stack by CloudFormation, state in its DynamoDB)' : 'DynamoDB Local'}\n`);
  const infra = await infraUp({ services: ['kafka', onLocalstack ? 'localstack' : 'dynamodb'], log: (line) => say('infra', line) });
  const kafkaInfo = infra.kafka!;
  say('kafka', `Kafka ${kafkaInfo.version} at ${kafkaInfo.brokers.join(',')} (pid ${kafkaInfo.pid}${kafkaInfo.reused ? ', already running' : ''})`);
  if (infra.dynamodb) say('dynamodb', `DynamoDB Local ${infra.dynamodb.version} at ${infra.dynamodb.endpoint} (pid ${infra.dynamodb.pid}${infra.dynamodb.reused ? ', already running' : ''})`);
  if (infra.localstack) say('localstack', `LocalStack ${infra.localstack.version} at ${infra.localstack.endpoint} (pid ${infra.localstack.pid}${infra.localstack.reused ? ', already running' : ''})`);

  const id = randomBytes(3).toString('hex');
  const app = `ysb-demo-${id}`;
  let table = `${app}-state`;
  let dynamodbEndpoint = infra.dynamodb?.endpoint ?? '';
  let deployment: LocalstackDeployment | undefined;
  if (infra.localstack) {
    // The repository's serverless.yml packaged for this app, its stateful part created on LocalStack.
    deployment = await deployToLocalstack({
      endpoint: infra.localstack.endpoint,
      serviceDir: packageRoot,
      stage: `demo-${id}`,
      env: { SLUICE_YSB_APP: app, SLUICE_YSB_SOURCE_TOPIC: `${app}-ad-events`, SLUICE_KAFKA_BROKERS: kafkaInfo.brokers.join(',') },
      log: (line) => say('deploy', line),
    });
    table = deployment.table;
    dynamodbEndpoint = deployment.endpoint;
  }
  const groupPrefix = `sluice-local-${app}`;
  const topology = compile(ysbPipeline({ app, sourceTopic: `${app}-ad-events`, sinkTopic: `${app}-campaign-counts`, ...(opts.commit ? { commit: opts.commit } : {}) }).plan());
  const [source] = topology.topics.filter((t) => t.role === 'source');
  const [sink] = topology.topics.filter((t) => t.role === 'sink');
  const lateTopic = topology.topics.find((t) => t.role === 'late')!.name;
  const kafka = createKafka({ brokers: kafkaInfo.brokers, clientId: `sluice-demo-${app}`, logLevel: 'nothing' });
  const dynamo = createDynamoClient({ endpoint: dynamodbEndpoint });
  await prepareApp(kafka, dynamo, topology, table);
  say('app', `${app}: ${source!.name} ×${source!.partitions} → [views] keep views, join campaign → keyBy campaign ×4 → [counts] 10 s windows → ${sink!.name}`);
  say(
    'state',
    topology.settings.commit === 'changelog'
      ? `DynamoDB table ${table} (snapshots); every batch commits its outputs, state changes and position in one Kafka transaction (changelog)`
      : `DynamoDB table ${table}; every stage commits through Kafka transactions + a conditional checkpoint`,
  );

  const ports = closableConnect(lambdaPorts(topology, { table, brokers: kafkaInfo.brokers, dynamodbEndpoint, sourceStarts: fromTheStart(topology) }));
  const handlers = Object.fromEntries(topology.stages.map((s) => [s.name, () => stageHandler(topology, s.name, { connect: ports.connect })]));
  const remove = async (): Promise<void> => {
    const client = createDynamoClient({ endpoint: dynamodbEndpoint });
    try {
      await cleanupApp(kafka, client, topology, table, groupPrefix);
    } finally {
      client.destroy();
    }
    await deployment?.remove();
  };
  const monitor = new PipelineMonitor(topology);
  const run = new LocalRun({
    topology,
    kafka,
    brokers: kafkaInfo.brokers,
    invoker: monitor.invoker(inProcessInvoker(handlers)),
    onInvocation: monitor.onInvocation,
    groupPrefix,
    // Batch size, batching window and ticker: the deployed defaults (framework/deploy/defaults.ts), LocalRun's own.
    taskTimes: new DynamoTaskStore(dynamo, table),
  });
  let verdict: Verification;
  try {
    await run.start();
    const triggers = topology.stages.reduce((n, s) => n + s.inputs.length + 1, 0);
    say('run', `${triggers} emulated Lambda Kafka triggers (data + control topics) and the ticker, stage handlers in-process`);

    say('generate', `${opts.duration} s at ${opts.rate.toLocaleString('en-US')} events/s: ${CAMPAIGNS.length} campaigns × ${ADS_PER_CAMPAIGN} ads, Zipf skew ${opts.skew}, event times up to ${opts.jitter} ms out of order (seed ${opts.seed})`);
    const progress = setInterval(() => say('', progressLine(monitor.sample())), 5_000);
    let generated: GeneratorResult;
    try {
      generated = await runGenerator(kafka, source!.name, {
        seed: opts.seed,
        rate: opts.rate,
        durationMs: opts.duration * 1000,
        skew: opts.skew,
        maxJitterMs: opts.jitter,
        partitions: source!.partitions,
        realtime: true,
      });
      say(
        'wrote',
        `${generated.events.toLocaleString('en-US')} events (${generated.views.toLocaleString('en-US')} views) in ${(generated.elapsedMs / 1000).toFixed(1)} s, event times ${clock(generated.firstEventTime)}–${clock(generated.lastEventTime)} UTC, + ${generated.endOfStream} end-of-stream events at ${clock(generated.closedAt!)}`,
      );
      const lastWindowEnd = windowStartOf(generated.lastEventTime) + WINDOW_MS;
      const until = lastWindowEnd - 1 + ALLOWED_LATENESS_MS;
      const waitStart = Date.now();
      await monitor.waitForWatermark('counts', until, 90_000);
      say('closed', `event time of [counts] passed the last window ${clock(lastWindowEnd - WINDOW_MS)}–${clock(lastWindowEnd)} + ${ALLOWED_LATENESS_MS / 1000} s lateness after ${((Date.now() - waitStart) / 1000).toFixed(1)} s more`);
    } finally {
      clearInterval(progress);
    }
    const stats = monitor.sample();
    const failures = stats.reduce((n, s) => n + s.failures, 0);
    const invocations = stats.reduce((n, s) => n + s.invocations, 0);
    say('calls', `${invocations.toLocaleString('en-US')} invocations, ${failures} failed and were retried (lost races between a task's data and control triggers, fenced producers): the protocol makes retries safe`);

    const sinkRecords = await readToEnd(kafka, sink!.name, { isolation: 'read_committed' });
    const results = sinkRecords.map((r) => JSON.parse(r.value!.toString('utf8')) as CampaignCount);
    const late = (await readToEnd(kafka, lateTopic, { isolation: 'read_committed' })).map((r) => JSON.parse(r.value!.toString('utf8')) as CampaignView);
    verdict = verifyCounts(generated.oracle.expected(), results, late);
    console.log('');
    printWindows(results, generated);
    console.log('');
    report(verdict);
  } finally {
    await run.stop();
    await ports.close();
    dynamo.destroy();
    if (!opts.keep) await remove().catch((e: unknown) => say('cleanup', `failed: ${e instanceof Error ? e.message : String(e)}`));
  }
  const stack = deployment ? ` and LocalStack stack ${deployment.stack.name}` : '';
  const kept = opts.keep ? `kept topics ${app}*, table ${table}${stack} and consumer groups ${groupPrefix}-* (--keep)` : `the demo's topics, table${stack} and consumer groups were deleted`;
  console.log(`\nDone in ${((Date.now() - began) / 1000).toFixed(1)} s; ${kept}.`);
  console.log(`Local Kafka and ${onLocalstack ? 'LocalStack' : 'DynamoDB Local'} keep running: \`npx sluice infra status\`, stop them with \`npx sluice infra down\`.`);
  if (!verdict.ok) {
    throw new SluiceError('SLUICE_DEMO_FAILED', 'the committed window counts differ from the oracle', {}, 'see the ✗ lines above');
  }
  return { verdict, app, table, dynamodbEndpoint, stack: deployment?.stack.name, remove };
}

function progressLine(stats: readonly StageStatus[]): string {
  return stats
    .map((s) => `${s.stage} ${Math.round(s.ratePerSec).toLocaleString('en-US')} rec/s, event time ${s.watermark === undefined ? '–' : clock(s.watermark)}`)
    .join('   |   ');
}

/** The per-window table: campaigns, views and the top campaigns of each window. */
function printWindows(results: readonly CampaignCount[], generated: GeneratorResult): void {
  const byWindow = new Map<number, Map<string, number>>();
  for (const r of results) {
    // The last firing of a window is its final count (late firings refine the on-time one).
    let final = byWindow.get(r.window.start);
    if (!final) byWindow.set(r.window.start, (final = new Map()));
    final.set(r.key, r.value);
  }
  console.log('  window (UTC)            campaigns    views   top campaigns (views)');
  let total = 0;
  for (const [start, final] of [...byWindow].sort((a, b) => a[0] - b[0])) {
    const views = [...final.values()].reduce((a, b) => a + b, 0);
    total += views;
    const top = [...final].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([c, n]) => `${c.slice(0, 8)} ${n}`).join(' · ');
    console.log(`  ${clock(start).slice(0, 8)}–${clock(start + WINDOW_MS).slice(0, 8)}   ${String(final.size).padStart(9)} ${views.toLocaleString('en-US').padStart(8)}   ${top}`);
  }
  console.log(`  total                 ${`${byWindow.size} windows`.padStart(11)} ${total.toLocaleString('en-US').padStart(8)}   ${results.length} counts; ${generated.views.toLocaleString('en-US')} of ${generated.events.toLocaleString('en-US')} events were views`);
}

function report(v: Verification): void {
  if (v.ok) {
    const late = v.late > 0 ? `, ${v.late} late record${v.late === 1 ? '' : 's'} accounted for in the late topic` : ', 0 late records';
    console.log(`  ✓ exactly-once: ${v.results} window counts in ${v.windows} windows, all equal to the oracle, 0 duplicates, 0 missing${late}`);
    return;
  }
  console.log(
    `  ✗ NOT exactly-once: ${v.matched} of ${v.expectedCounts} counts equal the oracle; ${v.duplicates.length} duplicated, ${v.missing.length} missing, ${v.wrong.length} wrong, ${v.unexpected.length} unexpected`,
  );
  for (const f of [...v.duplicates, ...v.missing, ...v.wrong, ...v.unexpected].slice(0, 10)) {
    console.log(`    window ${clock(f.windowStart)} campaign ${f.campaign}: ${f.message}`);
  }
}

function parseWhole(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number ≥ 0');
  return n;
}

function parseSkew(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number ≥ 0');
  return n;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new InvalidArgumentError('expected an integer from 1 to 10000');
  return n;
}

function parseCommit(value: string): 'checkpoint' | 'changelog' {
  if (value !== 'checkpoint' && value !== 'changelog') throw new InvalidArgumentError("use 'checkpoint' or 'changelog'");
  return value;
}
