/**
 * The bottom of the rate range, after a configuration's live phase (YSB configurations only):
 *
 *  1. burst — a few seconds at the live rate, without end-of-stream events, so its last windows
 *     stay open; then the processor settles (every trigger has caught up with its topic);
 *  2. idle — no input at all for `idleMs` (10 minutes in the full run), windows still open: what
 *     a deployed pipeline costs while nothing flows (control invocations, ticks, DynamoDB units);
 *  3. low — `lowRate` events/s (10) for `lowDurationMs`, ending with the end-of-stream events.
 *     Its first events move event time past the burst's windows, which fire then.
 *
 * Idle and low are measured (counters between stats messages, CPU from /proc); the burst is not.
 * The outputs of burst and low together are checked against the oracle with the other phases.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { runGenerator, type RunGeneratorOptions } from '../functions/ysb/generator.js';
import type { AdEvent } from '../functions/ysb/pipeline.js';
import { windowStartOf, type WindowCounts } from '../functions/ysb/oracle.js';
import { phaseOps, type PhaseOps } from './ops.js';
import type { SinkLog } from './outputs.js';
import { cpuMs, type Processor } from './processors/processor.js';
import type { InvocationSample } from './processors/protocol.js';
import { int, secondsSince } from './progress.js';
import type { BottomExpectation } from './verify.js';

/** Lengths and rates of the bottom phases. */
export interface BottomSettings {
  readonly burstMs: number;
  readonly idleMs: number;
  readonly lowRate: number;
  readonly lowDurationMs: number;
}

/** One measured bottom phase. */
export interface BottomPhase {
  /** `idle` or `low`. */
  readonly name: 'idle' | 'low';
  /** Source events per second written (0 while idle). */
  readonly rate: number;
  readonly seconds: number;
  readonly events: number;
  /** Totals over the phase. */
  readonly ops: PhaseOps;
  /** The invocations of the phase (for the cost model; not saved). */
  readonly samples: readonly InvocationSample[];
}

/** What the bottom phases did. */
export interface BottomResult {
  readonly burst: { readonly events: number; readonly rate: number; readonly seconds: number };
  readonly idle: BottomPhase;
  readonly low: BottomPhase;
  /** When the low phase's first event was due (epoch ms): source events appended from then on are its. */
  readonly lowStartedAt: number;
  readonly expectation: BottomExpectation;
}

/** What the bottom phases need from the configuration's run. */
export interface BottomContext {
  readonly kafka: Kafka;
  readonly sourceTopic: string;
  readonly processor: Processor;
  readonly log: SinkLog;
  /** The burst starts no earlier than this (epoch ms): its events must come after the live phase's end-of-stream events in event time. */
  readonly startAfter: number;
  /** The generator settings of the live phase (seed, skew, jitter, partitions, rate). */
  readonly generator: Required<Pick<RunGeneratorOptions, 'seed' | 'rate' | 'skew' | 'maxJitterMs' | 'partitions'>>;
  readonly encode?: (event: AdEvent) => string | Buffer;
  /** Shows a status line until the next one (or `done`). */
  readonly show: (status: () => string) => void;
  readonly done: () => void;
}

/** Runs burst, idle and low; throws if the outputs are not complete in time. */
export async function runBottomPhases(c: BottomContext, s: BottomSettings): Promise<BottomResult> {
  const p = c.processor;
  if (!p.settle) throw new Error(`${p.label} cannot settle: the bottom phases need a Sluice processor`);
  const g = c.generator;
  const common = { seed: g.seed, skew: g.skew, maxJitterMs: g.maxJitterMs, partitions: g.partitions, realtime: true, ...(c.encode ? { encode: c.encode } : {}) };

  // ---- burst: windows left open ------------------------------------------------------------------
  const burstStart = Math.max(Date.now() + 300, c.startAfter);
  c.log.splitBottom(windowStartOf(burstStart - g.maxJitterMs));
  c.show(() => `burst  ${int(g.rate)} ev/s for ${s.burstMs / 1000} s, windows left open  ${secondsSince(burstStart)}`);
  const burst = await runGenerator(c.kafka, c.sourceTopic, { ...common, seed: g.seed + 2, rate: g.rate, durationMs: s.burstMs, startTime: burstStart, closeWindows: false });
  c.show(() => `burst  processing  ${secondsSince(burstStart)}`);
  await p.settle(300_000);

  // ---- idle: nothing written ------------------------------------------------------------------------
  const before = await p.stats();
  const cpuBefore = cpuMs(p.pid) ?? 0;
  const idleStart = Date.now();
  c.show(() => `idle  no input for ${Math.round(s.idleMs / 1000)} s, windows open  ${secondsSince(idleStart)}`);
  await sleep(s.idleMs);
  const idleStats = await p.stats();
  const cpuIdle = cpuMs(p.pid) ?? 0;
  const idle: BottomPhase = { name: 'idle', rate: 0, seconds: (Date.now() - idleStart) / 1000, events: 0, ops: phaseOps(before, idleStats, cpuIdle - cpuBefore), samples: idleStats.invocations ?? [] };

  // ---- low: a trickle, then end-of-stream ----------------------------------------------------------------
  const lowStart = Date.now() + 300;
  let written = 0;
  c.show(() => `low  ${s.lowRate} ev/s for ${s.lowDurationMs / 1000} s  written ${int(written)}  ${secondsSince(lowStart)}`);
  const low = await runGenerator(c.kafka, c.sourceTopic, {
    ...common,
    seed: g.seed + 3,
    rate: s.lowRate,
    durationMs: s.lowDurationMs,
    startTime: lowStart,
    closeWindows: true,
    onProgress: (n) => (written = n),
  });
  const lowStats = await p.stats();
  const cpuLow = cpuMs(p.pid) ?? 0;
  const lowPhase: BottomPhase = { name: 'low', rate: s.lowRate, seconds: (Date.now() - lowStart) / 1000, events: low.events, ops: phaseOps(idleStats, lowStats, cpuLow - cpuIdle), samples: lowStats.invocations ?? [] };

  const counts = mergeCounts(burst.oracle.expected(), low.oracle.expected());
  c.log.expect('bottom', { counts });
  c.show(() => `low  window counts ${int(c.log.progress('bottom')[0])}/${int(c.log.progress('bottom')[1] ?? 0)}  ${secondsSince(lowStart)}`);
  try {
    await c.log.waitUntil(() => c.log.complete('bottom'), 180_000, () => p.failure, 'bottom', 90_000);
  } finally {
    c.done();
  }
  return {
    burst: { events: burst.events, rate: g.rate, seconds: burst.elapsedMs / 1000 },
    idle,
    low: lowPhase,
    lowStartedAt: lowStart,
    expectation: { split: windowStartOf(burstStart - g.maxJitterMs), counts },
  };
}

/** The counts of two streams together. */
function mergeCounts(a: WindowCounts, b: WindowCounts): WindowCounts {
  const out: WindowCounts = new Map([...a].map(([w, m]) => [w, new Map(m)]));
  for (const [w, m] of b) {
    let into = out.get(w);
    if (!into) out.set(w, (into = new Map()));
    for (const [campaign, n] of m) into.set(campaign, (into.get(campaign) ?? 0) + n);
  }
  return out;
}
