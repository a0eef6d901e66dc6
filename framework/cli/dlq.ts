/**
 * `sluice dlq list|show|replay`: a stage's dead letters, one of them in full, and writing chosen
 * ones back to the stage's input (each at most once: see framework/ops/dlq.ts).
 * Progress goes to stderr so `--json` on stdout stays machine-readable.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { deadLetterJson, formatDeadLetter, formatDeadLetterList } from '../ops/dlq-format.js';
import { listDeadLetters, parseSelection, replayDeadLetters, showDeadLetter, summarizeOffsets, type DeadLetterList, type ReplayProgress } from '../ops/dlq.js';
import { OpsError } from '../ops/errors.js';
import { requireStage } from '../ops/stages.js';
import { addTargetOptions, parseCount, withTarget, type TargetOptions } from './target-options.js';

interface ListOptions extends TargetOptions {
  readonly limit: number;
  readonly json?: boolean;
}

/** Adds the `dlq` command family to the program. */
export function registerDlqCommands(program: Command): void {
  const dlq = program.command('dlq').description("inspect and replay a stage's dead letters");

  addTargetOptions(dlq.command('list').description('count each stage\'s dead letters and show the latest, with reason and origin').argument('[stage]', 'only this stage'))
    .option('-n, --limit <count>', 'how many recent entries to show per stage', parseCount, 10)
    .option('--json', 'print every entry as JSON')
    .action(async (stage: string | undefined, opts: ListOptions) => {
      await withTarget(opts, async (target) => {
        const stages = stage === undefined ? target.topology.stages : [requireStage(target.topology, stage)];
        const lists: Array<DeadLetterList | { stage: string; topic: string; missing: true }> = [];
        for (const s of stages) {
          try {
            lists.push(await listDeadLetters(target, s.name));
          } catch (err) {
            // Listing every stage: a stage whose topic is missing (never deployed here) is a line, not a failure.
            if (stage !== undefined || !(err instanceof OpsError) || err.code !== 'SLUICE_OPS_TOPIC_MISSING') throw err;
            lists.push({ stage: s.name, topic: s.deadLetterTopic, missing: true });
          }
        }
        if (opts.json) {
          console.log(JSON.stringify(lists.map((l) => ('missing' in l ? l : { stage: l.stage, topic: l.topic, count: l.entries.length, replayed: l.replayedCount, entries: l.entries.slice(-opts.limit).map(deadLetterJson) })), null, 2));
        } else {
          console.log(lists.map((l) => ('missing' in l ? `stage ${l.stage} · ${l.topic} · topic missing` : formatDeadLetterList(l, opts.limit))).join('\n\n'));
        }
      });
    });

  addTargetOptions(dlq.command('show').description('show one dead letter: origin, error, key, value, headers, replay state').argument('<stage>').argument('<offset>', 'offset in the dead-letter topic', parseOffset))
    .option('--json', 'print it as JSON')
    .action(async (stage: string, offset: number, opts: TargetOptions & { json?: boolean }) => {
      const entry = await withTarget(opts, (target) => showDeadLetter(target, stage, offset));
      console.log(opts.json ? JSON.stringify(deadLetterJson(entry), null, 2) : formatDeadLetter(entry));
    });

  addTargetOptions(
    dlq
      .command('replay')
      .description("write dead letters back to the input partition they came from; ones already replayed are skipped")
      .argument('<stage>')
      .argument('<offsets...>', 'dead-letter offsets (12), ranges (3-7), or all'),
  )
    .option('--json', 'print the result as JSON')
    .action(async (stage: string, offsets: string[], opts: TargetOptions & { json?: boolean }) => {
      const selection = parseSelection(offsets);
      const result = await withTarget(opts, (target) => replayDeadLetters(target, stage, selection, { onProgress: progressPrinter() }));
      if (opts.json) return void console.log(JSON.stringify(result, null, 2));
      console.log(`replayed ${result.replayed.length} dead letter(s)${result.replayed.length > 0 ? `: offsets ${summarizeOffsets(result.replayed.map((p) => p.offset))}` : ''}`);
      if (result.alreadyReplayed.length > 0) console.log(`skipped ${result.alreadyReplayed.length} already replayed: offsets ${summarizeOffsets(result.alreadyReplayed.map((p) => p.offset))}`);
    });
}

/** Progress on stderr: one updating line on a terminal, a line per transaction otherwise. */
function progressPrinter(): (p: ReplayProgress) => void {
  const tty = process.stderr.isTTY === true;
  return ({ done, total }) => {
    if (total === 0) return;
    const pct = Math.floor((done / total) * 100);
    if (tty) process.stderr.write(`\r  replaying ${done}/${total} (${pct}%)${done === total ? '\n' : ''}`);
    else if (done > 0) process.stderr.write(`  replayed ${done}/${total}\n`);
  };
}

function parseOffset(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected an offset (a non-negative integer)');
  return n;
}
