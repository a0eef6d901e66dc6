/**
 * The check after a run: the sink (and Sluice's late topic) read again from the start,
 * read_committed, independently of what the observers saw, and compared with the oracle; and
 * Sluice's dead-letter topics, which must be empty.
 */
import type { Kafka } from 'kafkajs';
import { readProvenance } from '../framework/record/provenance.js';
import { readToEnd } from '../framework/kafka/read-to-end.js';
import type { RecordHeader } from '../framework/record/record.js';
import type { GeneratorResult } from '../functions/ysb/generator.js';
import type { WindowCounts } from '../functions/ysb/oracle.js';
import type { CampaignView } from '../functions/ysb/pipeline.js';
import { checkCounts, checkCountsAtLeastOnce, checkViews, expectedViews, SinkLog, type PhaseCheck } from './outputs.js';
import type { ConfigSpec } from './run.js';

/** The bottom phases to check (YSB): where their event times start, and the oracle's counts of the burst and the low-rate stream together. */
export interface BottomExpectation {
  readonly split: number;
  readonly counts: WindowCounts;
}

/** Reads the sink (and late topic) again from the start and checks each phase against the oracle: [drain, live, bottom]. */
export async function checkOutputs(
  spec: ConfigSpec,
  kafka: Kafka,
  sinkTopic: string,
  lateTopic: string | undefined,
  split: number,
  backlog: GeneratorResult,
  backlogOptions: Parameters<typeof expectedViews>[0],
  live: GeneratorResult | undefined,
  liveOptions: Parameters<typeof expectedViews>[0] | undefined,
  bottom?: BottomExpectation,
): Promise<[PhaseCheck, PhaseCheck, PhaseCheck]> {
  const none: PhaseCheck = { ok: true, outputs: 0, expected: 0, problems: [] };
  const records = await readToEnd(kafka, sinkTopic, { isolation: 'read_committed', timeoutMs: 120_000 });
  const atLeastOnce = spec.engine === 'sluice' && spec.mode === 'at-least-once';
  const log = new SinkLog(spec.job === 'stateless' ? 'views' : 'counts', split, atLeastOnce);
  if (bottom) log.splitBottom(bottom.split);
  log.add(records.map((r) => ({ partition: r.partition, offset: r.offset, timestamp: r.timestamp, key: r.key, value: r.value, provenance: provenanceKey(r.headers), visibleAt: 0 })));
  if (log.malformed.length > 0) {
    const bad: PhaseCheck = { ok: false, outputs: records.length, expected: 0, problems: [`${log.malformed.length} outputs are not JSON: ${log.malformed[0]}`] };
    return [bad, bad, bad];
  }
  const dedupe = { duplicates: log.duplicates };
  if (spec.job === 'stateless') {
    return [
      { ...checkViews(log.views.drain, expectedViews(backlogOptions), backlog.oracle.expected(), atLeastOnce), ...dedupe },
      live && liveOptions ? { ...checkViews(log.views.live, expectedViews(liveOptions), live.oracle.expected(), atLeastOnce), ...dedupe } : none,
      none,
    ];
  }
  const late: CampaignView[] = lateTopic
    ? (await readToEnd(kafka, lateTopic, { isolation: 'read_committed' })).map((r) => JSON.parse(r.value?.toString('utf8') ?? 'null') as CampaignView)
    : [];
  const bottomSplit = bottom?.split ?? Number.POSITIVE_INFINITY;
  const lateDrain = late.filter((v) => v.event_time < split);
  const lateLive = late.filter((v) => v.event_time >= split && v.event_time < bottomSplit);
  const lateBottom = late.filter((v) => v.event_time >= bottomSplit);
  if (atLeastOnce) {
    return [
      { ...checkCountsAtLeastOnce(log.counts.drain, backlog.oracle.expected(), lateDrain), ...dedupe },
      live ? { ...checkCountsAtLeastOnce(log.counts.live, live.oracle.expected(), lateLive), ...dedupe } : none,
      bottom ? { ...checkCountsAtLeastOnce(log.counts.bottom, bottom.counts, lateBottom), ...dedupe } : none,
    ];
  }
  const running = spec.engine === 'kstreams';
  return [
    checkCounts(log.counts.drain, backlog.oracle.expected(), lateDrain, running),
    live ? checkCounts(log.counts.live, live.oracle.expected(), lateLive, running) : none,
    bottom ? checkCounts(log.counts.bottom, bottom.counts, lateBottom, running) : none,
  ];
}

/** `task|seq|idx`, the key a reader dedupes by. */
function provenanceKey(headers: readonly RecordHeader[]): string | undefined {
  const p = readProvenance(headers);
  return p === undefined ? undefined : `${p.task}|${p.seq}|${p.idx}`;
}

/** Problems for every non-empty dead-letter topic. */
export async function deadLetters(kafka: Kafka, topics: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const topic of topics) {
    const records = await readToEnd(kafka, topic, { isolation: 'read_committed' });
    if (records.length > 0) problems.push(`${records.length} records dead-lettered to ${topic}`);
  }
  return problems;
}
