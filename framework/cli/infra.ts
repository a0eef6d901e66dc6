/**
 * `sluice infra up|down|status|logs|fetch`: the local Kafka broker and DynamoDB Local.
 * Progress goes to stderr so `--json` output on stdout stays machine-readable.
 */
import { spawn } from 'node:child_process';
import { Argument, InvalidArgumentError, type Command } from 'commander';
import {
  ALL_SERVICES,
  SERVICES,
  infraDown,
  infraFetch,
  infraLogFile,
  infraLogs,
  infraStatus,
  infraUp,
  type InfraStatus,
  type ServiceName,
} from '../local/infra/index.js';
import { KAFKA_ENV, KAFKA_VERSION, KAFKA_VERSIONS } from '../local/infra/config.js';

const progress = (line: string): void => console.error(`  ${line}`);
const servicesArgument = (defaults: string): Argument => new Argument('[services...]', `kafka, dynamodb and/or localstack (default: ${defaults})`).choices(ALL_SERVICES);

/** Adds the `infra` command family to the program. */
export function registerInfraCommands(program: Command): void {
  const infra = program.command('infra').description('run the local Kafka broker and DynamoDB Local (from Maven jars, no Docker), and LocalStack on request (from PyPI)');

  infra
    .command('up')
    .description('start the services, or reuse them if they are already running and healthy')
    .addArgument(servicesArgument('kafka and dynamodb'))
    .option('--timeout <seconds>', 'startup timeout per service', parsePositive)
    .option('--kafka-version <version>', `Kafka broker version (default ${KAFKA_VERSION}; tested: ${KAFKA_VERSIONS.join(', ')}; same as SLUICE_KAFKA_VERSION)`)
    .option('--transaction-version <n>', 'format a new Kafka 4.x cluster with this transaction.version (1 or 2; same as SLUICE_KAFKA_TRANSACTION_VERSION)')
    .option('--json', 'print the result as JSON')
    .action(async (services: ServiceName[], opts: { timeout?: number; json?: boolean; kafkaVersion?: string; transactionVersion?: string }) => {
      applyKafkaOptions(opts);
      const info = await infraUp({
        services: services.length > 0 ? services : SERVICES,
        log: progress,
        ...(opts.timeout !== undefined ? { timeoutMs: opts.timeout * 1000 } : {}),
      });
      if (opts.json) return void console.log(JSON.stringify(info, null, 2));
      if (info.kafka) {
        const k = info.kafka;
        console.log(`kafka     up  ${k.brokers.join(',')}  pid ${k.pid}  Kafka ${k.version}  ${k.reused ? '(already running)' : '(started)'}`);
      }
      if (info.dynamodb) {
        const d = info.dynamodb;
        console.log(`dynamodb  up  ${d.endpoint}  pid ${d.pid}  DynamoDB Local ${d.version}  ${d.reused ? '(already running)' : '(started)'}`);
      }
      if (info.localstack) {
        const l = info.localstack;
        console.log(`localstack up ${l.endpoint}  pid ${l.pid}  localstack-core ${l.version}  ${l.reused ? '(already running)' : '(started)'}`);
      }
    });

  infra
    .command('down')
    .description('stop the services started from this project')
    .addArgument(servicesArgument('all'))
    .action(async (services: ServiceName[]) => {
      const outcomes = await infraDown({ services: services.length > 0 ? services : ALL_SERVICES });
      for (const [service, outcome] of Object.entries(outcomes)) console.log(`${service.padEnd(9)} ${outcome}`);
    });

  infra
    .command('status')
    .description('show whether each service is up, with ports, pids and versions')
    .option('--json', 'print the status as JSON')
    .action(async (opts: { json?: boolean }) => {
      const status = await infraStatus();
      if (opts.json) return void console.log(JSON.stringify(status, null, 2));
      printStatus(status);
    });

  infra
    .command('logs')
    .description('show the last lines of a service log')
    .addArgument(new Argument('[service]', 'kafka, dynamodb or localstack (default: kafka and dynamodb)').choices(ALL_SERVICES))
    .option('-n, --lines <count>', 'how many lines', parsePositive, 100)
    .option('-f, --follow', 'keep printing new lines (tail -f)')
    .action(async (service: ServiceName | undefined, opts: { lines: number; follow?: boolean }) => {
      if (opts.follow) {
        const files = (service ? [service] : SERVICES).map((s) => infraLogFile(s));
        await new Promise<void>((resolve) => {
          spawn('tail', ['-n', String(opts.lines), '-F', ...files], { stdio: 'inherit' }).on('exit', () => resolve());
        });
        return;
      }
      for (const s of service ? [service] : SERVICES) {
        if (!service) console.log(`==> ${infraLogFile(s)} <==`);
        console.log(await infraLogs(s, { lines: opts.lines }));
      }
    });

  infra
    .command('fetch')
    .description('download the Kafka and DynamoDB Local jars from Maven Central (needs mvn), and LocalStack from PyPI when named, without starting anything')
    .addArgument(servicesArgument('kafka and dynamodb'))
    .option('--kafka-version <version>', `Kafka version to fetch (default ${KAFKA_VERSION}; same as SLUICE_KAFKA_VERSION)`)
    .action(async (services: ServiceName[], opts: { kafkaVersion?: string }) => {
      applyKafkaOptions(opts);
      const dirs = await infraFetch({ log: progress, services: services.length > 0 ? services : SERVICES });
      for (const [service, dir] of Object.entries(dirs)) console.log(`${service.padEnd(9)} ${dir}`);
    });
}

function printStatus(status: InfraStatus): void {
  for (const s of Object.values(status)) {
    const cells = [
      s.service.padEnd(9),
      s.state.padEnd(9),
      `ports ${s.ports.join(',')}`.padEnd(18),
      (s.pid !== undefined ? `pid ${s.pid}` : 'pid -').padEnd(11),
      `version ${s.version}`,
      s.startedAt ? ` since ${s.startedAt}` : '',
    ];
    console.log(cells.join(' '));
    if (s.note) console.log(`          note: ${s.note}`);
  }
}

/** The broker options are the environment variables' CLI form: set them for this process. */
function applyKafkaOptions(opts: { kafkaVersion?: string; transactionVersion?: string }): void {
  if (opts.kafkaVersion !== undefined) process.env[KAFKA_ENV.version] = opts.kafkaVersion;
  if (opts.transactionVersion !== undefined) process.env[KAFKA_ENV.transactionVersion] = opts.transactionVersion;
}

function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}
