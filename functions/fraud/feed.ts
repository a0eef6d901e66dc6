/**
 * Feeds the fraud example running in `sluice dev` and checks what it wrote:
 *
 *   npx sluice dev --pipeline functions/fraud/pipeline.ts#fraud        (one terminal)
 *   npx tsx functions/fraud/feed.ts --brokers localhost:9092 --check    (another)
 *
 * Writes the accounts first and waits `--settle` seconds (the account join is in processing
 * order: payments must reach `enrich` after the rows they should meet), then logins and payments
 * in event-time order (out of order by under 2 s), then one end-of-stream login and payment per
 * partition so the watermark passes every payment's login window. With `--check` it reads the
 * alert and cleared topics (read_committed) until they hold what oracle.ts expects, or times out.
 */
import { parseArgs } from 'node:util';
import { createKafka } from '../../framework/kafka/client.js';
import { readToEnd } from '../../framework/kafka/read-to-end.js';
import { generateFraud } from './generator.js';
import { describeScored, expectFraud } from './oracle.js';
import type { ScoredPayment } from './pipeline.js';

const PARTITIONS = 4;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      brokers: { type: 'string', default: process.env.SLUICE_KAFKA_BROKERS ?? 'localhost:9092' },
      seed: { type: 'string', default: '1' },
      accounts: { type: 'string', default: '50' },
      payments: { type: 'string', default: '300' },
      settle: { type: 'string', default: '5' },
      check: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '90' },
    },
  });
  const payments = Number(values.payments);
  // Event times end about now, so the run looks live in `sluice dev`'s status line.
  const start = Date.now() - payments * 2_000 - 15 * 60_000;
  const input = generateFraud({ seed: Number(values.seed), accounts: Number(values.accounts), payments, start });
  const kafka = createKafka({ brokers: values.brokers.split(','), clientId: 'sluice-fraud-feed' });
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic: 'accounts', messages: input.accounts.map((c) => ({ key: c.key, value: c.value === null ? null : JSON.stringify(c.value) })) });
    console.log(`accounts  ${input.accounts.length} changes (${input.accounts.filter((c) => c.value === null).length} closures); waiting ${values.settle} s for enrich to read them`);
    await new Promise((resolve) => setTimeout(resolve, Number(values.settle) * 1_000));
    // Logins and payments interleaved by event time, as they would happen.
    const events = [...input.logins.map((l) => ({ topic: 'logins', at: l.at, value: l })), ...input.payments.map((p) => ({ topic: 'payments', at: p.at, value: p }))].sort((a, b) => a.at - b.at);
    for (let i = 0; i < events.length; i += 200) {
      const chunk = events.slice(i, i + 200);
      await producer.sendBatch({ topicMessages: ['logins', 'payments'].map((topic) => ({ topic, messages: chunk.filter((e) => e.topic === topic).map((e) => ({ value: JSON.stringify(e.value) })) })) });
    }
    const end = input.endOfStream(PARTITIONS);
    await producer.send({ topic: 'logins', messages: end.logins.map((l, partition) => ({ partition, value: JSON.stringify(l) })) });
    await producer.send({ topic: 'payments', messages: end.payments.map((p, partition) => ({ partition, value: JSON.stringify(p) })) });
    console.log(`events    ${input.logins.length} logins, ${input.payments.length} payments, + end-of-stream records at ${new Date(input.end).toISOString()}`);
  } finally {
    await producer.disconnect();
  }
  if (!values.check) return;

  const expected = expectFraud(input.accounts, input.logins, input.payments, input.end - 5_000);
  const deadline = Date.now() + Number(values.timeout) * 1_000;
  for (;;) {
    const [alerts, cleared] = await Promise.all(
      ['fraud-alerts', 'payments-cleared'].map(async (topic) => (await readToEnd(kafka, topic, { isolation: 'read_committed' })).map((r) => describeScored(JSON.parse(r.value!.toString()) as ScoredPayment)).sort()),
    );
    const same = JSON.stringify(alerts) === JSON.stringify(expected.alerts) && JSON.stringify(cleared) === JSON.stringify(expected.cleared);
    if (same || Date.now() > deadline) {
      console.log(`results   ${alerts!.length} alerts (expected ${expected.alerts.length}), ${cleared!.length} cleared (expected ${expected.cleared.length})`);
      console.log(same ? '✓ exactly the oracle’s results' : '✗ results differ from the oracle (run on fresh topics: `sluice dev` keeps them between runs)');
      if (!same) process.exitCode = 1;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

await main();
