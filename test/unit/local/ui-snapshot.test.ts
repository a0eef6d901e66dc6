import type { Admin, Kafka } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { compile, count, json, pipeline, tumbling } from '../../../framework/index.js';
import type { Topology } from '../../../framework/index.js';
import type { InvocationInfo } from '../../../framework/local/esm/mapping.js';
import { SnapshotCollector } from '../../../framework/local/ui/collector.js';
import { layoutTopology, type GraphLayout, type LayoutNode } from '../../../framework/local/ui/layout.js';
import { jsonForScript, renderPage } from '../../../framework/local/ui/page.js';
import { startDevUi, type DevUi } from '../../../framework/local/ui/server.js';
import { buildSnapshot, emptyFacts, trailingMarkers, type SnapshotFacts, type TaskFacts } from '../../../framework/local/ui/snapshot.js';
import { MIN_WATERMARK } from '../../../framework/time/control.js';
import { describeJson } from '../../../framework/topology/describe.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

/** clicks ×2 → [parse] → keyBy user → [by-user] tumbling count ×3 → counts (+ late). */
function build(app = 'ui'): Topology {
  const p = pipeline(app, { partitions: 3, idleTimeout: '10s' });
  p.source<{ user: string; t: number }>(`${app}-clicks`, { serde: json(), partitions: 2, eventTime: (e) => e.t, maxOutOfOrderness: '1s' })
    .stage('parse')
    .filter((c) => c.user !== '')
    .keyBy((c) => c.user, { name: 'user' })
    .window(tumbling('1s'))
    .aggregate(count())
    .sink(`${app}-counts`, { serde: json() });
  return compile(p.plan());
}

const topology = build();

function facts(at: number, tasks: Record<string, TaskFacts>, ends: Record<string, Array<{ low: number; high: number } | undefined>> = {}, since = T0): SnapshotFacts {
  return { at, since, tasks: new Map(Object.entries(tasks)), stages: new Map([['parse', { invocations: 4, failures: 1, lastError: 'boom' }]]), ends: new Map(Object.entries(ends)) };
}

describe('buildSnapshot', () => {
  it('knows nothing at first: every task and topic of the topology, zeros and nulls', () => {
    const s = buildSnapshot(topology, emptyFacts(T0));
    expect(s).toMatchObject({ app: 'ui', at: T0, intervalMs: 0, idleTimeoutMs: 10_000 });
    expect(s.stages.map((x) => [x.name, x.keyed, x.partitions.map((p) => p.task)])).toEqual([
      ['parse', false, ['parse.0', 'parse.1']],
      ['by-user', true, ['by-user.0', 'by-user.1', 'by-user.2']],
    ]);
    expect(s.stages[0]).toMatchObject({ recordsIn: 0, recordsOut: 0, inPerSec: 0, lag: null, watermark: null, idle: false, deadLetters: 0, deadLetterTopic: 'ui.parse.dlq', invocations: 0, lastError: null });
    expect(s.topics.find((t) => t.name === 'ui.by-user.in')).toEqual({ name: 'ui.by-user.in', role: 'internal', partitions: 3, endOffsets: [null, null, null], total: null });
    expect(JSON.parse(JSON.stringify(s))).toEqual(s); // JSON-safe
  });

  it('sums tasks per stage and computes rates per second since the previous snapshot', () => {
    const first = buildSnapshot(topology, facts(T0, { 'parse.0': { recordsIn: 100, recordsOut: 90, deadLetters: 1 }, 'parse.1': { recordsIn: 50, recordsOut: 50, deadLetters: 0 } }));
    const second = buildSnapshot(topology, facts(T0 + 2_000, { 'parse.0': { recordsIn: 300, recordsOut: 250, deadLetters: 2 }, 'parse.1': { recordsIn: 50, recordsOut: 50, deadLetters: 0 } }), first);
    const parse = second.stages[0]!;
    expect(second.intervalMs).toBe(2_000);
    expect(parse.partitions.map((p) => [p.recordsIn, p.inPerSec, p.recordsOut, p.outPerSec, p.deadLetters])).toEqual([
      [300, 100, 250, 80, 2],
      [50, 0, 50, 0, 0],
    ]);
    expect(parse).toMatchObject({ recordsIn: 350, inPerSec: 100, recordsOut: 300, outPerSec: 80, deadLetters: 2, invocations: 4, failures: 1, lastError: 'boom' });
    // Counters that went back (a restarted collector) give a rate of 0, not a negative one.
    const third = buildSnapshot(topology, facts(T0 + 3_000, {}), second);
    expect(third.stages[0]!.inPerSec).toBe(0);
  });

  it('computes lag from end offsets and the furthest known position; commit markers that can trail an internal partition are not lag', () => {
    expect(Object.fromEntries(trailingMarkers(topology))).toEqual({ 'ui.by-user.in': 2 }); // parse has two tasks, each with one transaction open at most
    const s = buildSnapshot(
      topology,
      facts(
        T0,
        {
          'parse.0': { recordsIn: 10, recordsOut: 0, deadLetters: 0, position: 40 },
          'parse.1': { recordsIn: 0, recordsOut: 0, deadLetters: 0 },
          'by-user.0': { recordsIn: 5, recordsOut: 0, deadLetters: 0, position: 5, checkpoint: { nextOffset: 7, watermark: null, idle: null } },
          'by-user.1': { recordsIn: 0, recordsOut: 0, deadLetters: 0, checkpoint: { nextOffset: -1, watermark: null, idle: null } },
        },
        { 'ui-clicks': [{ low: 0, high: 50 }, { low: 20, high: 30 }], 'ui.by-user.in': [{ low: 0, high: 8 }, { low: 0, high: 4 }, undefined] },
      ),
    );
    const [parse, byUser] = s.stages;
    expect(parse!.partitions.map((p) => [p.endOffset, p.position, p.lag])).toEqual([
      [50, 40, 10],
      [30, null, 10], // never delivered: everything retained
    ]);
    expect(parse!.lag).toBe(20);
    expect(byUser!.partitions.map((p) => [p.endOffset, p.position, p.lag])).toEqual([
      [8, 7, 0], // the checkpoint is further than the trigger callback; the marker at 7 is not lag
      [4, null, 2],
      [null, null, null],
    ]);
    expect(byUser!.lag).toBe(2);
    expect(s.topics.find((t) => t.name === 'ui-clicks')).toMatchObject({ endOffsets: [50, 30], total: 80 });
  });

  it('takes the higher of reported and checkpointed watermarks; a stage is at the minimum over its active tasks', () => {
    const at = T0 + 60_000;
    const s = buildSnapshot(
      topology,
      facts(at, {
        'parse.0': { recordsIn: 1, recordsOut: 0, deadLetters: 0, watermark: T0 + 5_000, lastDataAt: at - 100, checkpoint: { nextOffset: 1, watermark: T0 + 6_000, idle: false } },
        'parse.1': { recordsIn: 1, recordsOut: 0, deadLetters: 0, watermark: T0 + 9_000, lastDataAt: at - 100 },
        'by-user.0': { recordsIn: 1, recordsOut: 0, deadLetters: 0, watermark: MIN_WATERMARK, lastDataAt: at },
      }),
    );
    const [parse, byUser] = s.stages;
    expect(parse!.partitions.map((p) => p.watermark)).toEqual([T0 + 6_000, T0 + 9_000]);
    expect(parse!.watermark).toBe(T0 + 6_000);
    expect(byUser!.partitions[0]!.watermark).toBeNull();
    expect(byUser!.watermark).toBeNull(); // an active task without event time holds the stage back
  });

  it('calls a task idle when it is caught up and has had no data for the idle timeout, unless its checkpoint says otherwise', () => {
    const at = T0 + 30_000;
    const ends = { 'ui-clicks': [{ low: 0, high: 10 }, { low: 0, high: 10 }], 'ui.by-user.in': [{ low: 0, high: 5 }, { low: 0, high: 5 }, { low: 0, high: 0 }] };
    const s = buildSnapshot(
      topology,
      facts(
        at,
        {
          'parse.0': { recordsIn: 10, recordsOut: 0, deadLetters: 0, position: 10, lastDataAt: at - 20_000, watermark: T0 + 1_000 }, // quiet for 20 s: idle
          'parse.1': { recordsIn: 10, recordsOut: 0, deadLetters: 0, position: 10, lastDataAt: at - 2_000, watermark: T0 + 3_000 }, // recent data: active
          'by-user.0': { recordsIn: 0, recordsOut: 0, deadLetters: 0, position: 0, watermark: T0 + 2_000 }, // behind: active
          'by-user.1': { recordsIn: 4, recordsOut: 0, deadLetters: 0, position: 4, lastDataAt: at - 20_000, checkpoint: { nextOffset: 4, watermark: T0 + 7_000, idle: false } }, // the runtime says active
          'by-user.2': { recordsIn: 0, recordsOut: 0, deadLetters: 0 }, // never had data, since 30 s
        },
        ends,
      ),
    );
    const [parse, byUser] = s.stages;
    expect(parse!.partitions.map((p) => p.idle)).toEqual([true, false]);
    expect(parse!.watermark).toBe(T0 + 3_000); // the idle task is left out
    expect(parse!.idle).toBe(false);
    expect(byUser!.partitions.map((p) => p.idle)).toEqual([false, false, true]);

    const allIdle = buildSnapshot(topology, facts(at, { 'parse.0': { recordsIn: 0, recordsOut: 0, deadLetters: 0, watermark: T0 + 1_000 }, 'parse.1': { recordsIn: 0, recordsOut: 0, deadLetters: 0, watermark: T0 + 4_000 } }, {}));
    expect(allIdle.stages[0]).toMatchObject({ idle: true, watermark: T0 + 4_000 }); // all idle: the highest
  });
});

describe('SnapshotCollector', () => {
  function info(topic: string, partition: number, lastOffset: number, records: number, functionName: string, ok = true): InvocationInfo {
    return { functionName, topic, partition, firstOffset: lastOffset - records + 1, lastOffset, records, ok, attempt: 1, durationMs: 3, invocation: 1, partitions: 1, part: 0, ...(ok ? {} : { error: new Error('fenced') }) };
  }

  /** A kafkajs stand-in: the admin calls the collector makes. */
  function fakeKafka(ends: Record<string, Array<[low: number, high: number]>>, groups: Record<string, number[]>): Kafka {
    const admin = {
      connect: async () => undefined,
      disconnect: async () => undefined,
      listTopics: async () => Object.keys(ends),
      fetchTopicOffsets: async (topic: string) => ends[topic]!.map(([low, high], partition) => ({ partition, low: String(low), high: String(high), offset: String(high) })),
      fetchOffsets: async ({ groupId, topics }: { groupId: string; topics: string[] }) =>
        topics.map((topic) => ({ topic, partitions: (groups[groupId] ?? ends[topic]!.map(() => -1)).map((o, partition) => ({ partition, offset: String(o), metadata: null })) })),
    };
    return { admin: () => admin as unknown as Admin } as unknown as Kafka;
  }

  it('counts deliveries, reports and offsets into snapshots', async () => {
    let now = T0;
    const kafka = fakeKafka({ 'ui-clicks': [[0, 100], [0, 40]], 'ui.by-user.in': [[0, 12], [0, 0], [0, 0]] }, { 'sluice-local-ui-parse-ui-clicks': [-1, 40] });
    const c = new SnapshotCollector({ topology, kafka, now: () => now });
    const invoker = c.invoker({ invoke: async () => ({ stage: 'parse', tasks: [{ task: 'parse.0', kind: 'data', outputs: 28, deadLetters: 2, watermark: T0 - 500 }] }) });
    c.onInvocation(info('ui-clicks', 0, 29, 30, 'parse'));
    await invoker.invoke('parse', {} as never);
    c.onInvocation(info('ui.parse.control', 0, 3, 1, 'parse')); // control: not data
    c.onInvocation(info('ui.by-user.in', 0, 10, 11, 'by-user', false));
    c.report('not a report');
    c.report({ stage: 'by-user', tasks: [{ task: 'nope.9', outputs: 5 }, null] });
    now += 1_000;
    const s = await c.refresh();
    const [parse, byUser] = s.stages;
    expect(parse!.partitions.map((p) => [p.recordsIn, p.recordsOut, p.deadLetters, p.position, p.lag, p.watermark])).toEqual([
      [30, 28, 2, 30, 70, T0 - 500],
      [0, 0, 0, 40, 0, null], // the trigger's group had committed 40 before this run
    ]);
    expect(parse).toMatchObject({ invocations: 2, failures: 0, lastError: null, inPerSec: 30 });
    expect(byUser).toMatchObject({ invocations: 1, failures: 1, lastError: 'fenced', recordsIn: 0, lag: 10 }); // 12 offsets, up to 2 of them trailing markers
    expect(c.snapshot()).toBe(s);
    expect(s.topics.find((t) => t.name === 'ui-counts')).toMatchObject({ endOffsets: [null, null, null], total: null }); // not created
    expect(s.warnings).toEqual([]);
  });

  it('keeps counting when offsets cannot be read, and says so', async () => {
    const kafka = { admin: () => ({ connect: async () => undefined, disconnect: async () => undefined, listTopics: async () => Promise.reject(new Error('broker gone')) }) } as unknown as Kafka;
    const c = new SnapshotCollector({ topology, kafka });
    c.onInvocation(info('ui-clicks', 1, 4, 5, 'parse'));
    const s = await c.refresh();
    expect(s.warnings).toEqual(['cannot read offsets: broker gone']);
    expect(s.stages[0]).toMatchObject({ recordsIn: 5, lag: null });
  });
});

describe('layoutTopology', () => {
  const layout = layoutTopology(describeJson(topology));
  const node = (id: string): LayoutNode => layout.nodes.find((n) => n.id === id)!;

  it('draws every stage as a box and every source, internal, sink and late topic as an edge', () => {
    expect(layout.nodes.filter((n) => n.kind === 'stage').map((n) => n.label)).toEqual(['parse', 'by-user']);
    expect(layout.edges.map((e) => [e.from, e.to, e.topic, e.kind])).toEqual([
      ['source:ui-clicks', 'stage:parse', 'ui-clicks', 'source'],
      ['stage:parse', 'stage:by-user', 'ui.by-user.in', 'internal'],
      ['stage:by-user', 'late:ui.by-user.late', 'ui.by-user.late', 'late'],
      ['stage:by-user', 'sink:ui-counts', 'ui-counts', 'sink'],
    ]);
  });

  it('places layers left to right, without overlaps, inside the drawing', () => {
    expect(node('source:ui-clicks').x + node('source:ui-clicks').width).toBeLessThan(node('stage:parse').x);
    expect(node('stage:parse').x + node('stage:parse').width).toBeLessThan(node('stage:by-user').x);
    expect(node('stage:by-user').x + node('stage:by-user').width).toBeLessThan(node('sink:ui-counts').x);
    expect(node('stage:by-user').rows).toBe(3);
    expectNoOverlap(layout);
    for (const e of layout.edges) {
      const from = node(e.from);
      const to = node(e.to);
      // The label fits between the two nodes it connects.
      expect(e.labelX - e.labelWidth / 2).toBeGreaterThanOrEqual(from.x + from.width);
      expect(e.labelX + e.labelWidth / 2).toBeLessThanOrEqual(to.x);
      expect(e.path).toMatch(/^M [\d.]+ [\d.]+ C /);
    }
  });

  it('puts a stage after the longest path to it and fans several stages out in one column', () => {
    const p = pipeline('fan', { partitions: 2 });
    const src = p.source<{ k: string }>('fan-in', { serde: json(), partitions: 2 }).stage('read');
    const a = src.keyBy((e) => e.k, { name: 'a' }).aggregate(count());
    a.sink('fan-a', { serde: json() });
    a.map((r) => ({ k: r.key })).keyBy((e) => e.k, { name: 'b' }).aggregate(count()).sink('fan-b', { serde: json() });
    src.keyBy((e) => e.k.toUpperCase(), { name: 'c' }).aggregate(count()).sink('fan-c', { serde: json() });
    const fan = layoutTopology(describeJson(compile(p.plan())));
    const layer = Object.fromEntries(fan.nodes.map((n) => [n.id, n.layer]));
    expect(layer).toMatchObject({ 'source:fan-in': 0, 'stage:read': 1, 'stage:by-a': 2, 'stage:by-c': 2, 'stage:by-b': 3, 'sink:fan-b': 4 });
    for (const e of fan.edges) expect(layer[e.to]).toBeGreaterThan(layer[e.from]!);
    expectNoOverlap(fan);
  });

  function expectNoOverlap(l: GraphLayout): void {
    for (const a of l.nodes) {
      expect(a.x).toBeGreaterThanOrEqual(0);
      expect(a.y).toBeGreaterThanOrEqual(0);
      expect(a.x + a.width).toBeLessThanOrEqual(l.width);
      expect(a.y + a.height).toBeLessThanOrEqual(l.height);
      for (const b of l.nodes) {
        if (a === b) continue;
        const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
        expect(apart, `${a.id} overlaps ${b.id}`).toBe(true);
      }
    }
  }
});

describe('the page', () => {
  it('is self-contained and embeds names as data that cannot end its script', () => {
    const evil = build('x');
    const description = { ...describeJson(evil), app: 'x</script><script>alert(1)</script>' };
    const html = renderPage(description, layoutTopology(description));
    expect(html).not.toContain('</script><script>alert(1)');
    expect(html).toContain('x&lt;/script&gt;');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i); // nothing loaded from elsewhere
    expect(html.match(/https?:\/\/[^\s"'<]+/g) ?? []).toEqual(['http://www.w3.org/2000/svg', 'http://www.w3.org/2000/svg']); // only the SVG namespace
    expect(JSON.parse(jsonForScript({ s: '</script>\u2028' }))).toEqual({ s: '</script>\u2028' });
  });

  it('has a script that parses', () => {
    const html = renderPage(describeJson(topology), layoutTopology(describeJson(topology)));
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    expect(() => new Function(scripts[0]!)).not.toThrow(); // compiles only, does not run
  });
});

describe('startDevUi', () => {
  let ui: DevUi | undefined;
  afterEach(async () => {
    await ui?.close();
    ui = undefined;
  });

  it('serves the page, the snapshot, the topology and an event stream on 127.0.0.1', async () => {
    let n = 0;
    ui = await startDevUi({ topology, snapshot: () => ({ ...buildSnapshot(topology, emptyFacts(T0)), at: T0 + ++n }), pushIntervalMs: 50 });
    expect(ui.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

    const page = await fetch(ui.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('<svg id="graph"');

    const snap = (await (await fetch(new URL('api/snapshot', ui.url))).json()) as { app: string; stages: unknown[] };
    expect(snap.app).toBe('ui');
    expect(snap.stages).toHaveLength(2);
    const topo = (await (await fetch(new URL('api/topology', ui.url))).json()) as { description: { app: string }; layout: { edges: unknown[] } };
    expect(topo.description.app).toBe('ui');
    expect(topo.layout.edges).toHaveLength(4);

    const controller = new AbortController();
    const events = await fetch(new URL('api/events', ui.url), { signal: controller.signal });
    expect(events.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = events.body!.getReader();
    let text = '';
    while ((text.match(/^data: /gm) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value);
    const pushed = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => (JSON.parse(l.slice(6)) as { at: number }).at);
    expect(pushed[1]).toBeGreaterThan(pushed[0]!); // the first on connect, then one per interval
    controller.abort();

    expect((await fetch(new URL('nope', ui.url))).status).toBe(404);
    expect((await fetch(ui.url, { method: 'POST' })).status).toBe(405);
  });

  it('says which port is taken', async () => {
    ui = await startDevUi({ topology, snapshot: () => buildSnapshot(topology, emptyFacts(T0)) });
    const port = Number(new URL(ui.url).port);
    await expect(startDevUi({ topology, snapshot: () => buildSnapshot(topology, emptyFacts(T0)), port })).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE .*--ui/);
  });
});
