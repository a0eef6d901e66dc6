/**
 * The live local view (`sluice dev --ui`) in a real browser: a small two-stage pipeline runs
 * through LocalRun on the real broker and DynamoDB Local, the view's server shows it, and
 * headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) loads the page:
 * the graph has every stage and topic, and the figures move when more input arrives.
 * Chromium is required: CI installs it (.ci/run); without it this test fails.
 */
import { KafkajsChangelogReader } from '../../framework/kafka/changelog-reader.js';
import { tableOf } from '../../framework/ops/stage-items.js';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile, count, json, pipeline, stageHandler, tumbling } from '../../framework/index.js';
import type { StagePorts, Topology } from '../../framework/index.js';
import { DynamoTaskStore } from '../../framework/dynamodb/task-store.js';
import { createTable, deleteTable } from '../../framework/dynamodb/table.js';
import { KafkaTxnSink } from '../../framework/kafka/txn-sink.js';
import { LocalRun } from '../../framework/local/dev.js';
import { inProcessInvoker } from '../../framework/local/esm/invoker.js';
import { SnapshotCollector } from '../../framework/local/ui/collector.js';
import { startDevUi, type DevUi } from '../../framework/local/ui/server.js';
import { describeJson } from '../../framework/topology/describe.js';
import { deleteTestTopics, testBrokers, testDynamo, testKafka, uniqueName, createTopologyTopics } from '../support/infra.js';

const CHROMIUM = '/usr/bin/chromium';

interface Click {
  readonly user: string;
  readonly t: number;
}

const app = uniqueName('devui');
const sourceTopic = `${app}-clicks`;
const sinkTopic = `${app}-counts`;
const table = uniqueName('devui-t');
const groupPrefix = uniqueName('devui-g');
const users = ['ann', 'bob', 'cy', 'dee', 'eve'];

function build(): Topology {
  const p = pipeline(app, { partitions: 3 });
  p.source<Click>(sourceTopic, { serde: json<Click>(), partitions: 2, eventTime: (c) => c.t, maxOutOfOrderness: '1s' })
    .stage('parse')
    .filter((c) => c.user !== '')
    .keyBy((c) => c.user, { name: 'user' })
    .window(tumbling('1s'))
    .aggregate(count())
    .sink(sinkTopic, { serde: json() });
  return compile(p.plan());
}

describe('sluice dev --ui: the live view in headless Chromium', () => {
  const topology = build();
  let kafka: Kafka;
  let run: LocalRun | undefined;
  let collector: SnapshotCollector | undefined;
  let ui: DevUi | undefined;
  let context: BrowserContext | undefined;
  let userDataDir: string | undefined;
  const ports: StagePorts[] = [];

  async function produce(n: number, poison = false): Promise<void> {
    const producer = kafka.producer();
    await producer.connect();
    try {
      const now = Date.now();
      const messages = Array.from({ length: n }, (_, i) => ({ partition: i % 2, value: JSON.stringify({ user: users[i % users.length], t: now + i }) }));
      if (poison) messages.push({ partition: 1, value: '{not json' });
      await producer.send({ topic: sourceTopic, messages });
    } finally {
      await producer.disconnect();
    }
  }

  beforeAll(async () => {
    kafka = testKafka(app);
    await createTable(testDynamo(), table);
    const admin = kafka.admin();
    await admin.connect();
    try {
      // Retried like LocalRun does: a busy broker's metadata may lag the creation.
      for (let attempt = 1; ; attempt += 1) {
        try {
          await createTopologyTopics(admin, topology);
          break;
        } catch (error) {
          const type = (error as { type?: unknown }).type;
          if (attempt >= 5 || (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE')) throw error;
          await new Promise((r) => setTimeout(r, 200 * attempt));
        }
      }
    } finally {
      await admin.disconnect();
    }
    await produce(40, true);

    // What lambdaPorts builds in a Lambda container, with the test's quiet kafkajs client.
    const connect = (): StagePorts => {
      const p: StagePorts = {
        store: new DynamoTaskStore(testDynamo(), table),
        sink: new KafkaTxnSink(testKafka(`${app}-c${ports.length}`), { transactionTimeoutMs: topology.settings.transactionTimeoutMs }),
        log: new KafkajsChangelogReader(testKafka(`${app}-l${ports.length}`)),
      };
      ports.push(p);
      return p;
    };
    const handlers = Object.fromEntries(topology.stages.map((s) => [s.name, () => stageHandler(topology, s.name, { connect })]));
    collector = new SnapshotCollector({ topology, kafka, groupPrefix, checkpoints: tableOf({ dynamo: testDynamo(), table, kafka, topology }) });
    run = new LocalRun({
      topology,
      kafka,
      brokers: testBrokers(),
      invoker: collector.invoker(inProcessInvoker(handlers)),
      onInvocation: collector.onInvocation,
      groupPrefix,
      batchSize: 20,
      batchingWindowMs: 100,
      tickIntervalMs: 500,
      taskTimes: new DynamoTaskStore(testDynamo(), table),
    });
    await run.start();
    await collector.start();
    ui = await startDevUi({ topology, snapshot: () => collector!.snapshot() });
  });

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
    await ui?.close();
    await collector?.stop();
    await run?.stop();
    await Promise.all(ports.map((p) => (p.sink instanceof KafkaTxnSink ? p.sink.close().catch(() => undefined) : Promise.resolve())));
    const admin = kafka.admin();
    await admin.connect();
    try {
      const ours = new Set(topology.stages.flatMap((s) => [...s.inputs.map((i) => i.topic), s.controlTopic].map((t) => `${groupPrefix}-${s.name}-${t}`)));
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => ours.has(g));
      if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
    } finally {
      await admin.disconnect();
    }
    await deleteTestTopics(kafka, topology.topics.map((t) => t.name));
    await deleteTable(testDynamo(), table).catch(() => undefined);
  });

  /** The number a figure of the page shows (its raw value). */
  async function figure(page: Page, key: string): Promise<number> {
    const raw = await page.locator(`[data-field="${key}"]`).getAttribute('data-value');
    return Number(raw);
  }

  it('draws the topology and keeps its figures live', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (CI's .ci/run installs it)`).toBe(true);
    userDataDir = await mkdtemp(join(tmpdir(), 'sluice-dev-ui-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1500, height: 1000 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    await page.goto(ui!.url);
    await page.locator('#graph g.stage').nth(topology.stages.length - 1).waitFor();

    // The graph: every stage and every topic between them is there.
    const d = describeJson(topology);
    const svgText = (await page.locator('#graph').textContent()) ?? '';
    const labels = [...d.stages.map((s) => s.name), ...new Set(d.stages.flatMap((s) => [...s.inputs.map((i) => i.topic), ...s.outputs.map((o) => o.topic)]))];
    expect(labels).toEqual(expect.arrayContaining(['parse', 'by-user', sourceTopic, `${app}.by-user.in`, sinkTopic, `${app}.by-user.late`]));
    for (const label of labels) expect(svgText, `the graph shows ${label}`).toContain(label);
    expect(await page.locator('#graph path.edge').count()).toBe(4);

    // The first batch (40 records and one that is not JSON) goes through.
    const settled = async (): Promise<boolean> =>
      (await figure(page, 'in:parse')) >= 41 && (await figure(page, 'dlq:parse')) >= 1 && (await figure(page, 'in:by-user')) >= 40 && (await figure(page, 'lag:parse')) === 0;
    await expect.poll(settled, { timeout: 60_000, interval: 200 }).toBe(true);
    await expect.poll(() => page.locator('[data-field="wm:parse"]').textContent(), { timeout: 30_000 }).toMatch(/^\d\d:\d\d:\d\d\.\d{3}$/);
    expect(await page.locator('#tasks tbody tr').count()).toBe(5);
    expect(await page.locator('[data-field="dlq:parse"]').getAttribute('class')).toBe('dlq-bad');

    const screenshot = join(tmpdir(), `sluice-dev-ui-${app}.png`);
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`dev-ui screenshot: ${screenshot}`);

    const before = { parse: await figure(page, 'in:parse'), byUser: await figure(page, 'in:by-user'), source: await figure(page, `topic:${sourceTopic}:source:${sourceTopic}->stage:parse:${sourceTopic}`) };
    expect(before.parse).toBeGreaterThanOrEqual(41); // a redelivered batch would count again

    await produce(30);
    await expect.poll(() => figure(page, 'in:parse'), { timeout: 60_000, interval: 200 }).toBeGreaterThanOrEqual(before.parse + 30);
    await expect.poll(() => figure(page, 'in:by-user'), { timeout: 60_000, interval: 200 }).toBeGreaterThan(before.byUser);
    const after = { parse: await figure(page, 'in:parse'), source: await figure(page, `topic:${sourceTopic}:source:${sourceTopic}->stage:parse:${sourceTopic}`) };
    expect(after.parse).toBeGreaterThan(before.parse);
    expect(await page.locator('[data-field="in:parse"]').textContent()).toBe(after.parse.toLocaleString('en-US'));
    expect(after.source).toBe(before.source + 30);

    // Self-contained: nothing but this server was asked for anything; no script error.
    expect(requests.filter((u) => !u.startsWith(ui!.url))).toEqual([]);
    expect(errors).toEqual([]);
  });
});
