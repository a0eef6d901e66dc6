/**
 * `sluice ysb generate`: writes the YSB example's ad events (functions/ysb/generator.ts) to a
 * topic, e.g. to feed `sluice dev`, and prints what it wrote and the window counts the pipeline
 * must produce (the oracle's).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { SluiceError } from '../errors.js';
import { createKafka } from '../kafka/client.js';
import { infraUp } from '../local/infra/index.js';
import { runGenerator } from '../../functions/ysb/generator.js';
import { WINDOW_MS } from '../../functions/ysb/pipeline.js';
import { clock } from './dev.js';

interface GenerateOptions {
  readonly topic: string;
  readonly brokers?: string;
  readonly rate: number;
  readonly duration: number;
  readonly seed: number;
  readonly skew: number;
  readonly jitter: number;
  readonly realtime: boolean;
  readonly close: boolean;
  readonly expected?: boolean;
}

/** Adds the `ysb` command family to the program. */
export function registerYsbCommands(program: Command): void {
  const ysb = program.command('ysb').description('the Yahoo Streaming Benchmark example (functions/ysb)');
  ysb
    .command('generate')
    .description('write a deterministic stream of YSB ad events to Kafka (live, at the given rate) and print the expected window counts')
    .option('--topic <name>', 'topic to write (it must exist: `sluice dev` creates it)', 'ad-events')
    .option('--brokers <list>', 'Kafka bootstrap servers (env SLUICE_KAFKA_BROKERS; default: start/reuse the local broker)')
    .option('--rate <events/s>', 'events per second', parsePositive, 1_000)
    .option('--duration <seconds>', 'seconds of events', parsePositive, 10)
    .option('--seed <n>', 'seed of the stream (same seed, same events)', parseInteger, 1)
    .option('--skew <s>', 'Zipf exponent of campaign popularity (0 = uniform)', parseNonNegative, 1)
    .option('--jitter <ms>', 'out-of-orderness: how far an event time may lag (≤ 2000 keeps every record on time)', parseInteger, 1_000)
    .option('--no-realtime', 'write as fast as possible instead of at the rate (event times are still spaced by the rate)')
    .option('--no-close', 'do not end with the end-of-stream events that close the last windows')
    .option('--expected', 'print the expected count of every window and campaign')
    .action(async (opts: GenerateOptions) => {
      process.env.KAFKAJS_LOG_LEVEL ??= 'NOTHING';
      const brokersFlag = opts.brokers ?? process.env.SLUICE_KAFKA_BROKERS;
      const brokers = brokersFlag ? brokersFlag.split(',').filter(Boolean) : ((await infraUp({ services: ['kafka'], log: (l) => console.error(`  infra     ${l}`) })).kafka?.brokers ?? []);
      const kafka = createKafka({ brokers, clientId: 'sluice-ysb-generator' });
      const admin = kafka.admin();
      await admin.connect();
      let partitions: number;
      try {
        if (!(await admin.listTopics()).includes(opts.topic)) {
          throw new SluiceError('SLUICE_YSB_TOPIC', `topic ${opts.topic} does not exist`, { topic: opts.topic }, 'start `npx sluice dev` first (it creates the pipeline\'s topics), or pass --topic');
        }
        const meta = await admin.fetchTopicMetadata({ topics: [opts.topic] });
        partitions = meta.topics[0]?.partitions.length ?? 1;
      } finally {
        await admin.disconnect();
      }
      console.log(`writing ${opts.duration} s × ${opts.rate.toLocaleString('en-US')} events/s to ${opts.topic} (${partitions} partitions, seed ${opts.seed}, skew ${opts.skew}, jitter ≤ ${opts.jitter} ms${opts.realtime ? ', live' : ''})`);
      const r = await runGenerator(kafka, opts.topic, {
        seed: opts.seed,
        rate: opts.rate,
        durationMs: Math.round(opts.duration * 1000),
        skew: opts.skew,
        maxJitterMs: opts.jitter,
        partitions,
        realtime: opts.realtime,
        closeWindows: opts.close,
      });
      console.log(
        `wrote ${r.events.toLocaleString('en-US')} events (${r.views.toLocaleString('en-US')} views) + ${r.endOfStream} end-of-stream in ${(r.elapsedMs / 1000).toFixed(1)} s; event times ${clock(r.firstEventTime)}–${clock(r.lastEventTime)} UTC`,
      );
      const expected = r.oracle.expected();
      for (const [start, campaigns] of [...expected].sort((a, b) => a[0] - b[0])) {
        const total = [...campaigns.values()].reduce((a, b) => a + b, 0);
        console.log(`  window ${clock(start)}–${clock(start + WINDOW_MS)}  ${campaigns.size} campaigns  ${total.toLocaleString('en-US')} views`);
        if (opts.expected) for (const [c, n] of [...campaigns].sort((a, b) => b[1] - a[1])) console.log(`    ${c}  ${n}`);
      }
    });
}

function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

function parseNonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number ≥ 0');
  return n;
}

function parseInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}
