/**
 * Dead letters: list, show and replay the records a stage wrote to `<app>.<stage>.dlq`.
 *
 * Invariant kept by replay: a dead letter is written back to its input at most once. Each replayed
 * record and a marker naming its dead-letter position go to Kafka in ONE transaction (the marker
 * to `<app>.<stage>.dlq-replays`), so a marker exists exactly when its replay was committed.
 * A replay run first fences every earlier run of the stage (one transactional id per stage:
 * InitProducerId aborts an open transaction and lets no older producer commit), then reads the
 * markers read_committed, then writes only what has no marker. Two runs at once cannot both
 * write a record: the later one fences the earlier, whose next commit fails.
 */
import type { IHeaders, Transaction } from 'kafkajs';
import { ensureTopics } from '../kafka/admin.js';
import { DEAD_LETTER_HEADERS, PROVENANCE_HEADERS, readDeadLetter, readProvenance, type DeadLetter, type Provenance } from '../record/provenance.js';
import { readToEnd } from '../kafka/read-to-end.js';
import type { KafkaRecord, OutgoingRecord, RecordHeader } from '../record/record.js';
import type { Stage } from '../topology/topology.js';
import { OpsError } from './errors.js';
import { requireStage } from './stages.js';
import { connectAdmin, describe, kafkaUnreachable, type OpsTarget } from './target.js';

/** Header a replayed record carries: `<dlq topic>/<partition>/<offset>` of the dead letter it replays. */
export const REPLAY_HEADER = 'sluice-replay-of';

/** Topic of a stage's replay markers. */
export { replayTopicName } from '../topology/names.js';
import { replayTopicName } from '../topology/names.js';

/** Transactional id of a stage's replays: one per stage, so a new run fences an old one. */
export const replayTxnId = (app: string, stage: string): string => `${app}.${stage}.dlq-replay`;

/** A position in a dead-letter topic. */
export interface DlqPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** The record a replay marker holds. */
export interface ReplayMarker {
  /** The dead letter replayed. */
  readonly of: DlqPosition;
  /** Where it was written back. */
  readonly to: { readonly topic: string; readonly partition: number };
  /** Epoch ms of the replay. */
  readonly at: number;
}

/** One dead letter as read from the topic. */
export interface DeadLetterEntry {
  readonly record: KafkaRecord;
  /** Where it came from and why it failed; undefined when its headers are missing or broken (see `problem`). */
  readonly origin: DeadLetter | undefined;
  readonly problem: string | undefined;
  /** The task and commit that dead-lettered it. */
  readonly writtenBy: Provenance | undefined;
  /** Set when the record was already replayed. */
  readonly replayed: ReplayMarker | undefined;
}

/** A stage's dead letters. */
export interface DeadLetterList {
  readonly stage: string;
  readonly topic: string;
  /** Every committed dead letter, oldest first (partition, then offset). */
  readonly entries: readonly DeadLetterEntry[];
  readonly replayedCount: number;
}

/** `<topic>/<partition>/<offset>` (pure). */
export function positionKey(p: DlqPosition): string {
  return `${p.topic}/${p.partition}/${p.offset}`;
}

/** The record that writes dead letter `record` back to the input partition `origin` names (pure). */
export function replayRecord(record: KafkaRecord, origin: DeadLetter): OutgoingRecord {
  const dropped = new Set<string>([...Object.values(DEAD_LETTER_HEADERS), ...Object.values(PROVENANCE_HEADERS), REPLAY_HEADER]);
  // The dead-letter and provenance headers describe the dead-letter write, not the record; a replay
  // is a new record with no task behind it (its provenance would make deduping readers drop it).
  const headers: RecordHeader[] = record.headers.filter((h) => !dropped.has(h.name));
  headers.push({ name: REPLAY_HEADER, value: Buffer.from(positionKey(record), 'utf8') });
  // Dead-letter topics keep the broker's append time; the record's own timestamp travels in a header.
  return { topic: origin.topic, partition: origin.partition, key: record.key, value: record.value, headers, timestamp: origin.timestamp ?? record.timestamp };
}

/** The marker record of one replay (pure). */
export function markerRecord(stageApp: { app: string; stage: string }, marker: ReplayMarker): OutgoingRecord {
  return {
    topic: replayTopicName(stageApp.app, stageApp.stage),
    partition: 0,
    key: Buffer.from(positionKey(marker.of), 'utf8'),
    value: Buffer.from(JSON.stringify(marker), 'utf8'),
    headers: [],
  };
}

/** Reads a marker record; undefined if it is not one (pure). */
export function parseMarker(record: KafkaRecord): ReplayMarker | undefined {
  try {
    const m = JSON.parse(record.value?.toString('utf8') ?? '') as Partial<ReplayMarker>;
    const ok = m.of && typeof m.of.topic === 'string' && Number.isInteger(m.of.partition) && Number.isInteger(m.of.offset) && m.to && typeof m.at === 'number';
    return ok ? (m as ReplayMarker) : undefined;
  } catch {
    return undefined;
  }
}

/** Decodes a dead-letter record (pure). */
export function toEntry(record: KafkaRecord, markers: ReadonlyMap<string, ReplayMarker>): DeadLetterEntry {
  const place = { topic: record.topic, partition: record.partition, offset: record.offset };
  let origin: DeadLetter | undefined;
  let problem: string | undefined;
  try {
    origin = readDeadLetter(record.headers, place);
    if (origin === undefined) problem = 'no sluice-dlq-* headers: not written by Sluice';
  } catch (err) {
    problem = err instanceof Error ? err.message : String(err);
  }
  return { record, origin, problem, writtenBy: lastProvenance(record.headers), replayed: markers.get(positionKey(record)) };
}

/**
 * The provenance of the dead-letter write: the last occurrence of each provenance header (a dead
 * letter of an internal topic also keeps the provenance its upstream writer gave it, earlier).
 */
export function lastProvenance(headers: readonly RecordHeader[]): Provenance | undefined {
  const names = Object.values(PROVENANCE_HEADERS) as string[];
  const last = new Map<string, RecordHeader>();
  for (const h of headers) if (names.includes(h.name)) last.set(h.name, h);
  try {
    return readProvenance([...last.values()]);
  } catch {
    return undefined;
  }
}

/** Which dead letters to replay: every one not yet replayed, or exact offsets. */
export type ReplaySelection = { readonly all: true } | { readonly offsets: readonly number[] };

/** Parses `all`, `12`, `3-7` (inclusive) and lists of them (pure). */
export function parseSelection(args: readonly string[]): ReplaySelection {
  if (args.length === 1 && args[0] === 'all') return { all: true };
  if (args.length === 0) throw new OpsError('SLUICE_OPS_DLQ', 'no offsets given', {}, 'name dead-letter offsets (`12`, `3-7`) or `all`');
  const offsets = new Set<number>();
  for (const arg of args) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(arg);
    if (!m) throw new OpsError('SLUICE_OPS_DLQ', `"${arg}" is not an offset or a range`, { field: 'offsets' }, 'use offsets like 12, ranges like 3-7, or all');
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new OpsError('SLUICE_OPS_DLQ', `range ${arg} runs backwards`, { field: 'offsets' }, 'write ranges low-high');
    if (to - from > 1_000_000) throw new OpsError('SLUICE_OPS_DLQ', `range ${arg} is too long`, { field: 'offsets' }, 'use `all`, or ranges of at most a million offsets');
    for (let o = from; o <= to; o++) offsets.add(o);
  }
  return { offsets: [...offsets].sort((a, b) => a - b) };
}

/** Reads a stage's dead letters (read_committed) and which of them were replayed. */
export async function listDeadLetters(target: OpsTarget, stageName: string): Promise<DeadLetterList> {
  const stage = requireStage(target.topology, stageName);
  const admin = await connectAdmin(target);
  let topics: Set<string>;
  try {
    topics = new Set(await admin.listTopics());
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  if (!topics.has(stage.deadLetterTopic)) {
    throw new OpsError('SLUICE_OPS_TOPIC_MISSING', `dead-letter topic ${stage.deadLetterTopic} does not exist`, { stage: stage.name, topic: stage.deadLetterTopic }, 'the topic is created when the app is deployed; check --brokers and the pipeline');
  }
  const replays = replayTopicName(target.topology.app, stage.name);
  return readList(target, stage, topics.has(replays));
}

/** One dead letter by offset (partition 0 unless given). */
export async function showDeadLetter(target: OpsTarget, stageName: string, offset: number, partition = 0): Promise<DeadLetterEntry> {
  const list = await listDeadLetters(target, stageName);
  const entry = list.entries.find((e) => e.record.offset === offset && e.record.partition === partition);
  if (!entry) {
    throw new OpsError(
      'SLUICE_OPS_DLQ',
      `no dead letter at offset ${offset} of ${list.topic}/${partition}`,
      { stage: stageName, topic: list.topic, partition, offset },
      `committed dead letters: ${summarizeOffsets(list.entries.filter((e) => e.record.partition === partition).map((e) => e.record.offset))} (\`sluice dlq list\`)`,
    );
  }
  return entry;
}

/** Progress of a replay, after each committed transaction. */
export interface ReplayProgress {
  readonly done: number;
  readonly total: number;
}

/** Options of replayDeadLetters. */
export interface ReplayOptions {
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** Records per Kafka transaction, default 100. */
  readonly chunkSize?: number;
  /** Clock, epoch ms. */
  readonly now?: () => number;
}

/** What a replay did. */
export interface ReplayResult {
  readonly replayed: readonly DlqPosition[];
  /** Selected dead letters that an earlier run had replayed (not written again). */
  readonly alreadyReplayed: readonly DlqPosition[];
}

/**
 * Writes the selected dead letters back to the stage's input partitions they came from, each
 * with a marker in the same transaction; skips what was replayed before. Checks every selected
 * offset before writing anything.
 */
export async function replayDeadLetters(target: OpsTarget, stageName: string, selection: ReplaySelection, options: ReplayOptions = {}): Promise<ReplayResult> {
  const { topology } = target;
  const stage = requireStage(topology, stageName);
  const now = options.now ?? Date.now;
  const chunkSize = options.chunkSize ?? 100;
  const replays = replayTopicName(topology.app, stage.name);
  const admin = await connectAdmin(target);
  try {
    const topics = new Set(await admin.listTopics());
    if (!topics.has(stage.deadLetterTopic)) {
      throw new OpsError('SLUICE_OPS_TOPIC_MISSING', `dead-letter topic ${stage.deadLetterTopic} does not exist`, { stage: stage.name, topic: stage.deadLetterTopic }, 'nothing was dead-lettered, or the app is not deployed on these brokers');
    }
    await ensureTopics(admin, [{ topic: replays, partitions: 1 }]);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }

  const producer = target.kafka.producer({
    transactionalId: replayTxnId(topology.app, stage.name),
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: topology.settings.transactionTimeoutMs,
    allowAutoTopicCreation: false,
  });
  try {
    await producer.connect();
  } catch (err) {
    throw kafkaUnreachable(target, err);
  }
  const done: DlqPosition[] = [];
  try {
    // kafkajs sends a transactional producer's InitProducerId with its first transaction(): from
    // here no earlier replay of this stage can commit. Read only after that, so every replay that
    // ever commits before ours is visible.
    let txn: Transaction | undefined = await producer.transaction();
    const list = await readList(target, stage, true);
    const { todo, already } = chooseReplays(stage, list, selection);
    options.onProgress?.({ done: 0, total: todo.length });
    for (let i = 0; i < todo.length; i += chunkSize) {
      const chunk = todo.slice(i, i + chunkSize);
      const at = now();
      const records = chunk.flatMap((e) => [
        replayRecord(e.record, e.origin!),
        markerRecord({ app: topology.app, stage: stage.name }, { of: positionOf(e.record), to: { topic: e.origin!.topic, partition: e.origin!.partition }, at }),
      ]);
      const open: Transaction = txn ?? (await producer.transaction());
      txn = undefined;
      try {
        await open.sendBatch({ acks: -1, topicMessages: toTopicMessages(records) });
        await open.commit();
      } catch (err) {
        if (open.isActive()) await open.abort().catch(() => undefined);
        throw err;
      }
      done.push(...chunk.map((e) => positionOf(e.record)));
      options.onProgress?.({ done: done.length, total: todo.length });
    }
    // Nothing to replay: the fencing transaction holds no partition, so abort sends nothing.
    if (txn) await txn.abort();
    return { replayed: done, alreadyReplayed: already.map((e) => positionOf(e.record)) };
  } catch (err) {
    if (err instanceof OpsError) throw err;
    const fenced = ['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED'].includes(String((err as { type?: unknown }).type));
    throw new OpsError(
      'SLUICE_OPS_REPLAY',
      fenced
        ? `another replay of stage ${stage.name} started and took over after ${done.length} record(s) were replayed here`
        : `replay of stage ${stage.name} failed after ${done.length} record(s): ${describe(err)}`,
      { stage: stage.name, topic: stage.deadLetterTopic },
      'run the replay again: dead letters already replayed are skipped, so nothing is written twice',
      { cause: err },
    );
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

/** Splits the selection into what to replay and what was replayed before; throws for offsets that are no replayable dead letter (pure). */
export function chooseReplays(stage: Stage, list: DeadLetterList, selection: ReplaySelection): { todo: DeadLetterEntry[]; already: DeadLetterEntry[] } {
  let chosen: DeadLetterEntry[];
  if ('all' in selection) {
    chosen = [...list.entries];
  } else {
    const byOffset = new Map(list.entries.filter((e) => e.record.partition === 0).map((e) => [e.record.offset, e]));
    const missing = selection.offsets.filter((o) => !byOffset.has(o));
    if (missing.length > 0) {
      throw new OpsError(
        'SLUICE_OPS_DLQ',
        `offset(s) ${summarizeOffsets(missing)} of ${list.topic} hold no committed dead letter`,
        { stage: stage.name, topic: list.topic, offset: missing[0] },
        `committed dead letters: ${summarizeOffsets([...byOffset.keys()])}; nothing was replayed`,
      );
    }
    chosen = selection.offsets.map((o) => byOffset.get(o)!);
  }
  const unreadable = chosen.filter((e) => e.replayed === undefined && !replayable(stage, e));
  if (unreadable.length > 0) {
    const first = unreadable[0]!;
    throw new OpsError(
      'SLUICE_OPS_DLQ',
      `dead letter(s) at offset ${summarizeOffsets(unreadable.map((e) => e.record.offset))} cannot be replayed: ${first.problem ?? `it came from ${first.origin?.topic}/${first.origin?.partition}, which stage ${stage.name} does not read`}`,
      { stage: stage.name, topic: list.topic, offset: first.record.offset },
      'leave them out of the selection (replay only names records whose headers say where they came from); nothing was replayed',
    );
  }
  return { todo: chosen.filter((e) => e.replayed === undefined), already: chosen.filter((e) => e.replayed !== undefined) };
}

/** `1-3, 7, 9-12` (pure). */
export function summarizeOffsets(offsets: readonly number[]): string {
  const sorted = [...new Set(offsets)].sort((a, b) => a - b);
  if (sorted.length === 0) return 'none';
  const parts: string[] = [];
  let start = sorted[0]!;
  let prev = start;
  for (const o of [...sorted.slice(1), Number.NaN]) {
    if (o === prev + 1) {
      prev = o;
      continue;
    }
    parts.push(start === prev ? String(start) : `${start}-${prev}`);
    start = o;
    prev = o;
  }
  return parts.join(', ');
}

function replayable(stage: Stage, e: DeadLetterEntry): boolean {
  const o = e.origin;
  if (!o || o.stage !== stage.name) return false;
  const input = stage.inputs.find((i) => i.topic === o.topic);
  return input !== undefined && o.partition < input.partitions;
}

function positionOf(r: KafkaRecord): DlqPosition {
  return { topic: r.topic, partition: r.partition, offset: r.offset };
}

async function readList(target: OpsTarget, stage: Stage, withMarkers: boolean): Promise<DeadLetterList> {
  const replays = replayTopicName(target.topology.app, stage.name);
  const [records, markerRecords] = await Promise.all([
    // What is committed now: a live stage's transaction still open is not waited for.
    readToEnd(target.kafka, stage.deadLetterTopic, { isolation: 'read_committed', end: 'stable' }),
    withMarkers ? readToEnd(target.kafka, replays, { isolation: 'read_committed', end: 'stable' }) : Promise.resolve([]),
  ]);
  const markers = new Map<string, ReplayMarker>();
  for (const r of markerRecords) {
    const m = parseMarker(r);
    if (m) markers.set(positionKey(m.of), m);
  }
  const entries = records.map((r) => toEntry(r, markers));
  return { stage: stage.name, topic: stage.deadLetterTopic, entries, replayedCount: entries.filter((e) => e.replayed).length };
}

function toTopicMessages(records: readonly OutgoingRecord[]): Array<{ topic: string; messages: Array<{ key: Buffer | null; value: Buffer | null; partition?: number; headers: IHeaders; timestamp?: string }> }> {
  const byTopic = new Map<string, Array<{ key: Buffer | null; value: Buffer | null; partition?: number; headers: IHeaders; timestamp?: string }>>();
  for (const r of records) {
    const list = byTopic.get(r.topic) ?? [];
    list.push({
      key: r.key,
      value: r.value,
      ...(r.partition !== undefined ? { partition: r.partition } : {}),
      headers: toIHeaders(r.headers),
      ...(r.timestamp !== undefined ? { timestamp: String(r.timestamp) } : {}),
    });
    byTopic.set(r.topic, list);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** kafkajs headers: an object of name → value, repeated names as arrays. */
function toIHeaders(headers: readonly RecordHeader[]): IHeaders {
  const out: Record<string, Buffer | Buffer[]> = {};
  for (const { name, value } of headers) {
    const seen = out[name];
    out[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}
