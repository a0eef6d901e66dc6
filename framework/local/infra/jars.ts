/**
 * The jar cache: Kafka and DynamoDB Local come from Maven Central through
 * infra/local/pom.xml, copied into `<home>/jars/<product>-<version>/`. A copy goes to a
 * temporary folder first and is renamed into place with a marker file, so an interrupted
 * download never looks complete.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError } from '../../errors.js';
import { DYNAMODB_LOCAL_VERSION, kafkaMajor, type InfraConfig, type ServiceName } from './config.js';

/** Name of the file that marks a jar folder as completely copied. */
export const COMPLETE_MARKER = '.sluice-complete.json';

/** Oldest Java that runs both products (DynamoDB Local 2.x needs 17). */
export const MIN_JAVA = 17;

interface Product {
  readonly folder: string;
  readonly profile: string;
  readonly versionProperty: string;
  readonly version: string;
}

/** What Maven fetches for a service under this config (Kafka 3.x and 4.x need different logging bindings). */
function productOf(config: InfraConfig, service: ServiceName): Product {
  // LocalStack's DynamoDB runs the DynamoDB Local jars (localstack-seed.ts).
  if (service === 'dynamodb' || service === 'localstack') {
    return { folder: `dynamodb-local-${DYNAMODB_LOCAL_VERSION}`, profile: 'dynamodb', versionProperty: 'dynamodb.local.version', version: DYNAMODB_LOCAL_VERSION };
  }
  const version = config.kafka.version;
  return { folder: `kafka-${version}`, profile: kafkaMajor(version) >= 4 ? 'kafka4' : 'kafka3', versionProperty: 'kafka.version', version };
}

/** The jar folder of a service (may not exist yet). */
export function jarsDirOf(config: InfraConfig, service: ServiceName): string {
  return join(config.jarsDir, productOf(config, service).folder);
}

/** True if the service's jars were copied completely. */
export function jarsPresent(config: InfraConfig, service: ServiceName): boolean {
  const dir = jarsDirOf(config, service);
  try {
    const marker = JSON.parse(readFileSync(join(dir, COMPLETE_MARKER), 'utf8')) as { files?: unknown };
    const files = Array.isArray(marker.files) ? (marker.files as string[]) : [];
    return files.length > 0 && files.every((f) => existsSync(join(dir, f)));
  } catch {
    return false;
  }
}

/** Makes sure the service's jars are in the cache, running Maven if they are not; returns the folder. */
export function ensureJars(config: InfraConfig, service: ServiceName, log: (line: string) => void = () => undefined): string {
  const dir = jarsDirOf(config, service);
  if (jarsPresent(config, service)) return dir;
  const product = productOf(config, service);
  requireMaven();
  log(`fetching ${product.folder} jars from Maven Central into ${dir}`);
  mkdirSync(config.jarsDir, { recursive: true });
  const tmp = `${dir}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const args = [
    '-q',
    '-B',
    '-f',
    config.pomFile,
    `-P${product.profile}`,
    // The TS constants are the single source of the versions; the pom's values are defaults.
    `-D${product.versionProperty}=${product.version}`,
    'dependency:copy-dependencies',
    `-DoutputDirectory=${tmp}`,
  ];
  const result = spawnSync('mvn', args, { encoding: 'utf8', timeout: 600_000 });
  if (result.error || result.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
    throw new InfraError(
      `Maven could not fetch the ${product.folder} jars (${result.error ? result.error.message : `exit ${String(result.status)}`}):\n${output}`,
      'check network access to Maven Central (or your Maven mirror in ~/.m2/settings.xml), then run: npx sluice infra fetch',
      { cause: result.error },
    );
  }
  const files = readdirSync(tmp).filter((f) => !f.startsWith('.'));
  writeFileSync(join(tmp, COMPLETE_MARKER), `${JSON.stringify({ version: product.version, files }, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  log(`fetched ${files.length} files for ${product.folder}`);
  return dir;
}

/** The java executable to use (JAVA_HOME first), after checking it is Java 17 or newer. */
export function requireJava(): string {
  const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  const result = spawnSync(java, ['-version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new InfraError(
      `Java is needed to run Kafka and DynamoDB Local, but \`${java} -version\` failed (${result.error?.message ?? `exit ${String(result.status)}`})`,
      process.env.JAVA_HOME
        ? `JAVA_HOME is set to ${process.env.JAVA_HOME}: point it at a Java ${MIN_JAVA}+ installation or unset it to use java from PATH`
        : `install a JDK or JRE ${MIN_JAVA}+ (Debian/Ubuntu: apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17) or set JAVA_HOME`,
    );
  }
  const major = javaMajor(`${result.stderr}${result.stdout}`);
  if (major !== undefined && major < MIN_JAVA) {
    throw new InfraError(
      `Java ${major} found, but DynamoDB Local ${DYNAMODB_LOCAL_VERSION} needs Java ${MIN_JAVA} or newer`,
      `install Java ${MIN_JAVA}+ and put it first on PATH or set JAVA_HOME`,
    );
  }
  return java;
}

/** Checks that Maven is installed (only needed to fill the jar cache). */
export function requireMaven(): void {
  const result = spawnSync('mvn', ['-v'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new InfraError(
      'Maven (mvn) is needed once to fetch the Kafka and DynamoDB Local jars from Maven Central, but `mvn -v` failed',
      'install Maven 3.6+ (Debian/Ubuntu: apt-get install maven; macOS: brew install maven), then run: npx sluice infra fetch',
    );
  }
}

// `java -version` prints e.g. `openjdk version "17.0.15"` or, before Java 9, `java version "1.8.0_392"`.
function javaMajor(output: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  if (!match?.[1]) return undefined;
  const first = Number(match[1]);
  return first === 1 && match[2] ? Number(match[2]) : first;
}
