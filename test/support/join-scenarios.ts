/**
 * Fault-driver scenarios (./fault-driver.ts) for the two join stages whose results follow from
 * their input alone, without watermarks, so every schedule has one exact answer:
 *
 *  - `tableJoin`: payments ⋈ accounts table (left join) in the stage both are keyed into. The stage
 *    is fed its internal topic directly, table changes (upserts, tombstones) and payments of each
 *    account interleaved in one partition; each payment must be answered once with the row its
 *    account had at that point of the partition, in order, and the committed table state must be
 *    each account's last row.
 *  - `intervalJoin`: clicks ⋈ impressions (inner, −10..+5 ms) fed out of order on both sides with no
 *    watermark: every matching pair must be emitted exactly once, and both buffers must hold every
 *    record (nothing is dropped before the watermark says so).
 *
 * The oracles are plain TypeScript over plain values, like ./oracle.ts: they do not call the join
 * operators. Records are placed with the runtime's partitioner only as input (where a keyBy would
 * have written them), never to compute expectations.
 */
import { json, pipeline, string } from '../../framework/index.js';
import { partitionForKey } from '../../framework/record/partitioner.js';
import type { KafkaRecord } from '../../framework/record/record.js';
import { EDGE_HEADER } from '../../framework/runtime/input.js';
import { compile } from '../../framework/topology/compile.js';
import type { Topology } from '../../framework/topology/topology.js';
import type { PipelineOptions } from '../../framework/index.js';
import type { Rng, Scenario } from './fault-driver.js';
import type { Discrepancy } from './oracle.js';

/** A payment to enrich. */
export interface Payment {
  readonly id: string;
  readonly account: string;
}
/** An account's row; `version` counts its updates. */
export interface Account {
  readonly owner: string;
  readonly version: number;
}
/** What the table-join stage writes per payment. */
export interface Enriched {
  readonly id: string;
  readonly account: string;
  readonly owner: string | null;
  readonly version: number | null;
}
/** A click or an impression of an ad, at an event time. */
export interface AdEvent {
  readonly id: string;
  readonly ad: string;
  readonly at: number;
}

/** Options of the join scenarios. */
export interface JoinScenarioOptions {
  readonly partitions?: number;
  readonly keys?: number;
  readonly pipeline?: Pick<PipelineOptions, 'functionTimeout' | 'transactionTimeout' | 'commit'>;
}

const STAGE = 'by-key';

// --- stream-table join --------------------------------------------------------------------------

/** payments ─keyBy account─▶ [by-key] ⋈ accounts table (left) ─▶ enriched. */
export function tableJoinTopology(app: string, options: JoinScenarioOptions = {}): Topology {
  const partitions = options.partitions ?? 3;
  const p = pipeline(app, { partitions, ...options.pipeline });
  const accounts = p.table<string, Account>(`${app}-accounts`, { keySerde: string(), serde: json<Account>(), partitions, name: 'accounts' });
  p.source<Payment>(`${app}-payments`, { serde: json<Payment>(), partitions })
    .stage('payments')
    .keyBy((x) => x.account, { name: 'key', keySerde: string() })
    .join(accounts, { type: 'left' })
    .stage(STAGE)
    .map((r): Enriched => ({ id: r.left.id, account: r.key, owner: r.right?.owner ?? null, version: r.right?.version ?? null }))
    .sink(`${app}-enriched`, { serde: json<Enriched>(), keySerde: string() });
  return compile(p.plan());
}

/** The stream-table join stage under faults. */
export function tableJoin(options: JoinScenarioOptions = {}): Scenario {
  const keys = options.keys ?? 5;
  return {
    name: 'joins/stream-table',
    app: 'jst',
    stages: [STAGE],
    topology: (app) => tableJoinTopology(app, options),
    input: (rng, topology, records) => {
      const { left: payments, right: accounts } = writers(topology);
      const versions = new Map<string, number>();
      return place(rng, topology, records, (i) => {
        const account = `acc-${rng.int(keys)}`;
        if (rng.chance(0.4)) {
          // A table change: mostly upserts, some tombstones.
          const version = (versions.get(account) ?? 0) + 1;
          versions.set(account, version);
          const row: Account | null = rng.chance(0.2) ? null : { owner: `owner-${account}-${version}`, version };
          return { key: account, value: row === null ? null : Buffer.from(JSON.stringify(row)), writer: accounts };
        }
        return { key: account, value: Buffer.from(JSON.stringify({ id: `p${i}`, account } satisfies Payment)), writer: payments };
      });
    },
    check: (view) => {
      const fed = view.fed.get(STAGE)!;
      const { right: accounts } = writers(view.topology);
      const found: Discrepancy[] = [];
      // Per account, in partition order: the expected answer of each payment, and the last row.
      const expected = new Map<string, Enriched[]>();
      const rows = new Map<string, Account | undefined>();
      for (const r of fed) {
        const account = r.key!.toString('utf8');
        if (edgeOf(r) === accounts) {
          rows.set(account, r.value === null ? undefined : (JSON.parse(r.value.toString('utf8')) as Account));
        } else {
          const row = rows.get(account);
          const p = JSON.parse(r.value!.toString('utf8')) as Payment;
          expected.set(account, [...(expected.get(account) ?? []), { id: p.id, account, owner: row?.owner ?? null, version: row?.version ?? null }]);
        }
      }
      const seen = new Map<string, Enriched[]>();
      for (const r of view.committed(`${view.topology.app}-enriched`)) {
        const e = JSON.parse(r.value!.toString('utf8')) as Enriched;
        seen.set(e.account, [...(seen.get(e.account) ?? []), e]);
      }
      for (const account of new Set([...expected.keys(), ...seen.keys(), ...rows.keys()])) {
        const want = expected.get(account) ?? [];
        const got = seen.get(account) ?? [];
        const gotIds = got.map((e) => e.id);
        for (const w of want) {
          const n = gotIds.filter((id) => id === w.id).length;
          if (n === 0) found.push({ kind: 'lost', message: `account ${account}: payment ${w.id} has no committed output` });
          if (n > 1) found.push({ kind: 'duplicate', message: `account ${account}: payment ${w.id} was answered ${n} times` });
        }
        for (const g of got) {
          const w = want.find((x) => x.id === g.id);
          if (!w) found.push({ kind: 'unexpected', message: `account ${account}: output for payment ${g.id}, which it was not fed` });
          else if (JSON.stringify(w) !== JSON.stringify(g)) found.push({ kind: 'value', message: `account ${account}: payment ${g.id} joined ${JSON.stringify(g)}, expected the row it had then: ${JSON.stringify(w)}` });
        }
        if (found.length === 0 && JSON.stringify(gotIds) !== JSON.stringify(want.map((w) => w.id))) {
          found.push({ kind: 'order', message: `account ${account}: outputs in order ${gotIds.join(',')}, input order ${want.map((w) => w.id).join(',')}` });
        }
        const bytes = view.state(STAGE, Buffer.from(account), 'table-accounts');
        const state = bytes ? (JSON.parse(bytes.toString('utf8')) as Account) : undefined;
        if (JSON.stringify(state) !== JSON.stringify(rows.get(account))) {
          found.push({ kind: 'state', message: `account ${account}: committed table row ${JSON.stringify(state)}, expected ${JSON.stringify(rows.get(account))}` });
        }
      }
      return found;
    },
  };
}

// --- interval join ------------------------------------------------------------------------------

const LOWER = -10;
const UPPER = 5;

/** clicks, impressions ─keyBy ad─▶ [by-key] clicks ⋈ impressions (−10 .. +5 ms) ─▶ attributed. */
export function intervalJoinTopology(app: string, options: JoinScenarioOptions = {}): Topology {
  const partitions = options.partitions ?? 3;
  const p = pipeline(app, { partitions, ...options.pipeline });
  const impressions = p.source<AdEvent>(`${app}-impressions`, { serde: json<AdEvent>(), eventTime: (e) => e.at, partitions }).stage('impressions').keyBy((e) => e.ad, { name: 'imp', keySerde: string() });
  p.source<AdEvent>(`${app}-clicks`, { serde: json<AdEvent>(), eventTime: (e) => e.at, partitions })
    .stage('clicks')
    .keyBy((e) => e.ad, { name: 'key', keySerde: string() })
    .intervalJoin(impressions, { lower: LOWER, upper: UPPER })
    .stage(STAGE)
    .map((r) => ({ click: r.left.id, impression: r.right.id, ad: r.key }))
    .sink(`${app}-attributed`, { serde: json(), keySerde: string() });
  return compile(p.plan());
}

/** The interval join stage under faults, fed out of order on both sides, with no watermark. */
export function intervalJoin(options: JoinScenarioOptions = {}): Scenario {
  const keys = options.keys ?? 4;
  return {
    name: 'joins/interval',
    app: 'jij',
    stages: [STAGE],
    topology: (app) => intervalJoinTopology(app, options),
    input: (rng, topology, records) => {
      const { left: clicks, right: impressions } = writers(topology);
      return place(rng, topology, records, (i) => {
        const ad = `ad-${rng.int(keys)}`;
        const click = rng.chance(0.5);
        const at = 1_000 + rng.int(60);
        return { key: ad, value: Buffer.from(JSON.stringify({ id: `${click ? 'c' : 'i'}${i}`, ad, at } satisfies AdEvent)), writer: click ? clicks : impressions, timestamp: at };
      });
    },
    check: (view) => {
      const fed = view.fed.get(STAGE)!;
      const { left: clicks } = writers(view.topology);
      const events = fed.map((r) => ({ click: edgeOf(r) === clicks, e: JSON.parse(r.value!.toString('utf8')) as AdEvent }));
      const want = new Set<string>();
      for (const c of events.filter((x) => x.click)) {
        for (const i of events.filter((x) => !x.click && x.e.ad === c.e.ad)) if (c.e.at + LOWER <= i.e.at && i.e.at <= c.e.at + UPPER) want.add(`${c.e.id}+${i.e.id}`);
      }
      const found: Discrepancy[] = [];
      const got = new Map<string, number>();
      for (const r of view.committed(`${view.topology.app}-attributed`)) {
        const a = JSON.parse(r.value!.toString('utf8')) as { click: string; impression: string };
        got.set(`${a.click}+${a.impression}`, (got.get(`${a.click}+${a.impression}`) ?? 0) + 1);
      }
      for (const pair of want) if (!got.has(pair)) found.push({ kind: 'lost', message: `pair ${pair} matches but was never committed` });
      for (const [pair, n] of got) {
        if (!want.has(pair)) found.push({ kind: 'unexpected', message: `pair ${pair} was committed but does not match` });
        else if (n > 1) found.push({ kind: 'duplicate', message: `pair ${pair} was committed ${n} times` });
      }
      // No watermark came: every record is still buffered, each once.
      const joinState = view.topology.stages.find((s) => s.name === STAGE)!.state[0]!.name;
      for (const ad of new Set(events.map((x) => x.e.ad))) {
        const bytes = view.state(STAGE, Buffer.from(ad), joinState);
        const state = bytes ? (JSON.parse(bytes.toString('utf8')) as { l: Array<{ v: AdEvent }>; r: Array<{ v: AdEvent }> }) : { l: [], r: [] };
        const buffered = [...state.l, ...state.r].map((b) => b.v.id).sort();
        const expected = events.filter((x) => x.e.ad === ad).map((x) => x.e.id).sort();
        if (JSON.stringify(buffered) !== JSON.stringify(expected)) found.push({ kind: 'state', message: `ad ${ad}: buffers hold ${buffered.join(',')}, expected every record once: ${expected.join(',')}` });
      }
      return found;
    },
  };
}

// --- input ----------------------------------------------------------------------------------------

/** The two writers of the join stage's input: the join's left side (payments, clicks) and right side (the table's repartition, impressions). */
function writers(topology: Topology): { left: number; right: number } {
  const join = [...topology.nodes.values()].find((n) => n.kind === 'join');
  if (join?.kind !== 'join') throw new Error('the scenario pipeline has no join');
  return { left: join.left, right: join.right };
}

function edgeOf(r: KafkaRecord): number {
  return Number(r.headers.find((h) => h.name === EDGE_HEADER)!.value.toString('utf8'));
}

/**
 * `count` records of the join stage's input as its writers would write them: each keyed record in
 * the partition murmur2 gives its key, with the edge header naming its writer, offsets with gaps
 * (as aborted records and markers leave on a real topic).
 */
function place(rng: Rng, topology: Topology, count: number, make: (i: number) => { key: string; value: Buffer | null; writer: number; timestamp?: number }): KafkaRecord[] {
  const input = topology.stages.find((s) => s.name === STAGE)!.inputs[0]!;
  const next = new Map<number, number>();
  return Array.from({ length: count }, (_, i) => {
    const { key, value, writer, timestamp } = make(i);
    const keyBytes = Buffer.from(key);
    const partition = partitionForKey(keyBytes, input.partitions);
    const offset = next.get(partition) ?? rng.int(3);
    next.set(partition, offset + 1 + (rng.chance(0.15) ? 1 + rng.int(2) : 0));
    return {
      topic: input.topic,
      partition,
      offset,
      timestamp: timestamp ?? Date.UTC(2026, 0, 1) + i,
      timestampType: 'CREATE_TIME' as const,
      key: keyBytes,
      value,
      headers: [{ name: EDGE_HEADER, value: Buffer.from(String(writer)) }],
    };
  }).sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}
