import { randomBytes } from 'node:crypto';
import { compile, stageHandler } from './framework/index.js';
import { createDynamoClient } from './framework/dynamodb/client.js';
import { createTable } from './framework/dynamodb/table.js';
import { ensureTopics } from './framework/kafka/admin.js';
import { createKafka } from './framework/kafka/client.js';
import { readProvenance } from './framework/kafka/provenance.js';
import { readToEnd } from './framework/kafka/read-to-end.js';
import { LocalRun } from './framework/local/dev.js';
import { inProcessInvoker } from './framework/local/esm/invoker.js';
import { PipelineMonitor } from './framework/local/monitor.js';
import { lambdaPorts } from './framework/runtime/lambda-ports.js';
import { runGenerator } from './functions/ysb/generator.js';
import { verifyCounts } from './functions/ysb/oracle.js';
import { ALLOWED_LATENESS_MS, WINDOW_MS, ysbPipeline, type CampaignCount, type CampaignView } from './functions/ysb/pipeline.js';
import { campaignOf } from './functions/ysb/campaigns.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const app = `ysbdbg-${randomBytes(3).toString('hex')}`;
const sourceTopic = `${app}-ad-events`, sinkTopic = `${app}-campaign-counts`, table = `${app}-state`;
const topology = compile(ysbPipeline({ app, sourceTopic, sinkTopic }).plan());
const brokers = ['127.0.0.1:19092'];
const kafka = createKafka({ brokers, clientId: 'dbg', logLevel: 'nothing' });
const endpoint = 'http://127.0.0.1:18000';
await createTable(createDynamoClient({ endpoint }), table);
const admin = kafka.admin(); await admin.connect();
await ensureTopics(admin, topology.topics.map((t) => ({ topic: t.name, partitions: t.partitions })));
const monitor = new PipelineMonitor(topology);
const connect = lambdaPorts(topology, { table, dynamodbEndpoint: endpoint });
const handlers = Object.fromEntries(topology.stages.map((s) => [s.name, stageHandler(topology, s.name, { connect })]));
const failures: string[] = [];
const run = new LocalRun({ topology, kafka, brokers, invoker: monitor.invoker(inProcessInvoker(handlers)), onInvocation: (i) => { monitor.onInvocation(i); if (!i.ok) failures.push(`${i.topic}/${i.partition} ${i.firstOffset}-${i.lastOffset}: ${String(i.error instanceof Error ? i.error.message : i.error).slice(0, 300)}`); }, groupPrefix: `g-${app}`, batchSize: 500, tickIntervalMs: 500 });
await run.start();
const START = Date.UTC(2026, 0, 1, 12, 0, 0) + 3_500;
const gen = await runGenerator(kafka, sourceTopic, { seed: 11, rate: 1_000, durationMs: 24_000, startTime: START, skew: 1, maxJitterMs: 1_500, partitions: 2 });
const lastWindowEnd = Math.floor(gen.lastEventTime / WINDOW_MS) * WINDOW_MS + WINDOW_MS;
const t = setInterval(() => console.log(JSON.stringify(monitor.sample().map((s) => [s.stage, s.records, s.invocations, s.failures, s.watermark ? new Date(s.watermark).toISOString() : null]))), 2000);
await monitor.waitForWatermark('counts', lastWindowEnd - 1 + ALLOWED_LATENESS_MS, 240_000);
await run.settle(1);
clearInterval(t);
await run.stop();
const src = await readToEnd(kafka, sourceTopic, { isolation: 'read_committed' });
const internal = await readToEnd(kafka, `${app}.counts.in`, { isolation: 'read_committed' });
const sink = await readToEnd(kafka, sinkTopic, { isolation: 'read_committed' });
const late = (await readToEnd(kafka, `${app}.counts.late`, { isolation: 'read_committed' })).map((r) => JSON.parse(r.value!.toString()) as CampaignView);
const results = sink.map((r) => JSON.parse(r.value!.toString()) as CampaignCount);
const v = verifyCounts(gen.oracle.expected(), results, late);
console.log({ app, src: src.length, views: gen.views, internal: internal.length, sink: sink.length, late: late.length, ok: v.ok, wrong: v.wrong.length, dup: v.duplicates.length, missing: v.missing.length, unexpected: v.unexpected.length });
// duplicates in internal topic by provenance origin
const seen = new Map<string, number>();
for (const r of internal) { const p = readProvenance(r.headers)!; const k = `${p.task}/${p.seq}/${p.idx}`; seen.set(k, (seen.get(k) ?? 0) + 1); }
console.log('internal dup provenance', [...seen.values()].filter((n) => n > 1).length);
// count source views by value identity
const views = src.map((r) => JSON.parse(r.value!.toString())).filter((e) => e.event_type === 'view');
console.log('source views', views.length);
const ivals = new Map<string, number>();
for (const r of internal) { const s = r.value!.toString(); ivals.set(s, (ivals.get(s) ?? 0) + 1); }
const svals = new Map<string, number>();
for (const e of views) { const s = JSON.stringify({ ad_id: e.ad_id, event_time: e.event_time, campaign_id: campaignOf(e.ad_id) }); svals.set(s, (svals.get(s) ?? 0) + 1); }
let extra = 0; for (const [k, n] of ivals) if (n > (svals.get(k) ?? 0)) extra += n - (svals.get(k) ?? 0);
console.log('internal extra records', extra);
console.log('failures', failures.length, failures.slice(0, 10));
console.log('wrong sample', v.wrong.slice(0, 5));
// by window totals
const byW = new Map<number, [number, number]>();
for (const [w, m] of gen.oracle.expected()) byW.set(w, [[...m.values()].reduce((a, b) => a + b, 0), 0]);
for (const r of results) { const e = byW.get(r.window.start) ?? [0, 0]; e[1] += r.value; byW.set(r.window.start, e); }
console.log([...byW].map(([w, [e, g]]) => `${new Date(w).toISOString()} expected ${e} got ${g}`));
await admin.disconnect();
console.log('kept', app);
