/**
 * The watermark marks a task sends downstream with a batch, as a pure function of its event time
 * and the offsets its outputs got, when its mark policy says so (mark-policy.ts): one mark per
 * partition of every downstream control topic,
 * fenced by the last offset the task wrote to the matching data partition, so a mark is applied
 * only after the data it covers. Computed after the outputs were sent (their offsets are the
 * fences) and sent last in the same transaction.
 */
import type { SentOffsets } from '../commit/ports.js';
import type { OutgoingRecord } from '../record/record.js';
import type { Stage, Topology } from '../topology/topology.js';
import { controlRecord } from './control.js';
import { markPolicyOf, shouldSendMarks } from './mark-policy.js';
import { fenceFor, recordWritten, type TimeState } from './watermark.js';

/** The marks to send after `sent`, and the task's event time with what it sent recorded. */
export function marksAfterSend(topology: Topology, stage: Stage, taskId: string, time: TimeState, sent: SentOffsets): { marks: OutgoingRecord[]; time: TimeState } {
  const downstreamTopics = new Set(stage.outputs.filter((o) => o.kind === 'repartition').map((o) => o.topic));
  let t = recordWritten(time, sent.filter((o) => downstreamTopics.has(o.topic)));
  const marks: OutgoingRecord[] = [];
  if (!shouldSendMarks(markPolicyOf(topology, stage), t, t.now)) return { marks, time: t };
  for (const out of stage.outputs) {
    if (out.kind !== 'repartition') continue;
    const target = topology.stages.find((s) => s.name === out.toStage)!;
    const partitions = topology.topics.find((x) => x.name === target.controlTopic)!.partitions;
    for (let p = 0; p < partitions; p += 1) {
      marks.push(controlRecord(target.controlTopic, p, { kind: 'watermark', from: taskId, watermark: t.wm, fence: fenceFor(t, out.topic, p), idle: t.idle }));
    }
  }
  t = { ...t, sentWm: t.wm, sentIdle: t.idle, sentAt: t.now };
  return { marks, time: t };
}
