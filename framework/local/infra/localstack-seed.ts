/**
 * What LocalStack's DynamoDB needs in its package folder before it starts, so it never tries to
 * download a JDK and DynamoDB Local (it cannot here, and retries for minutes): under
 * `$FILESYSTEM_ROOT/var/lib/localstack/lib`,
 *   java/21/                    → a link to the Java home Sluice runs Kafka with (17+ is enough;
 *                                 LocalStack only checks for `bin/java`),
 *   dynamodb-local/2/DynamoDBLocal_lib/   the DynamoDB Local jars `sluice infra fetch` already has,
 *                                 and sqlite4java's native library under the name it loads,
 *   dynamodb-local/2/DynamoDBLocal.jar    a jar with only a manifest: the main class and a
 *                                 Class-Path of the lib jars (what `java -jar` LocalStack runs),
 *   dynamodb-local/2/ddb-local-loader-0.1.jar  a Java agent that does nothing: LocalStack always
 *                                 passes `-javaagent:` with this path (its real agent only lifts a
 *                                 limit of 20 secondary indexes, which Sluice's table has none of).
 * The two jars are built here, byte for byte the same every time (zip.ts, a hand-assembled class).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { zip } from '../../deploy/zip.js';
import { DYNAMODB_MAIN_CLASS } from './dynamodb.js';

/** The class of the no-op agent (default package). */
const AGENT_CLASS = 'SluiceNoopAgent';

/** Where LocalStack looks for installed packages under its filesystem root. */
export function localstackLibDir(filesystemRoot: string): string {
  return join(filesystemRoot, 'var', 'lib', 'localstack', 'lib');
}

/**
 * Fills LocalStack's package folder with Java and DynamoDB Local. `dynamodbJars` is the folder
 * `ensureJars(config, 'dynamodb')` returns, `java` the java executable Sluice uses.
 */
export function seedLocalstackPackages(filesystemRoot: string, dynamodbJars: string, java: string): void {
  const lib = localstackLibDir(filesystemRoot);
  const javaLink = join(lib, 'java', '21');
  mkdirSync(dirname(javaLink), { recursive: true });
  rmSync(javaLink, { recursive: true, force: true });
  symlinkSync(javaHome(java), javaLink, 'dir');

  const ddb = join(lib, 'dynamodb-local', '2');
  const libDir = join(ddb, 'DynamoDBLocal_lib');
  rmSync(ddb, { recursive: true, force: true });
  mkdirSync(libDir, { recursive: true });
  const files = readdirSync(dynamodbJars).filter((f) => !f.startsWith('.'));
  for (const f of files) copyFileSync(join(dynamodbJars, f), join(libDir, f));
  // System.loadLibrary("sqlite4java-linux-amd64") wants exactly this name; Maven's has the version in it.
  const sqlite = files.find((f) => /^libsqlite4java-linux-amd64.*\.so$/.test(f));
  if (sqlite) copyFileSync(join(dynamodbJars, sqlite), join(libDir, 'libsqlite4java-linux-amd64.so'));
  const jars = files.filter((f) => f.endsWith('.jar')).sort();
  writeFileSync(join(ddb, 'DynamoDBLocal.jar'), launcherJar(DYNAMODB_MAIN_CLASS, jars.map((j) => `DynamoDBLocal_lib/${j}`)));
  writeFileSync(join(ddb, 'ddb-local-loader-0.1.jar'), noopAgentJar());
}

/** A jar holding only a manifest: `java -jar` runs `mainClass` with `classPath` (relative to the jar). */
export function launcherJar(mainClass: string, classPath: readonly string[]): Buffer {
  return zip([{ path: 'META-INF/MANIFEST.MF', data: manifest({ 'Main-Class': mainClass, 'Class-Path': classPath.join(' ') }) }]);
}

/** A Java agent whose `premain` returns at once. */
export function noopAgentJar(): Buffer {
  return zip([
    { path: 'META-INF/MANIFEST.MF', data: manifest({ 'Premain-Class': AGENT_CLASS }) },
    { path: `${AGENT_CLASS}.class`, data: noopAgentClass() },
  ]);
}

/**
 * A JAR manifest. Lines are at most 72 bytes; longer values continue on lines that start with
 * one space, as the JAR specification requires (Java rejects longer lines).
 */
export function manifest(attributes: Readonly<Record<string, string>>): Buffer {
  const lines: string[] = [];
  for (const [name, value] of Object.entries({ 'Manifest-Version': '1.0', ...attributes })) {
    let rest = Buffer.from(`${name}: ${value}`, 'utf8');
    let first = true;
    while (rest.length > 0) {
      const room = first ? 72 : 71;
      lines.push(`${first ? '' : ' '}${rest.subarray(0, room).toString('utf8')}`);
      rest = rest.subarray(room);
      first = false;
    }
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
}

/**
 * The class file of `public class SluiceNoopAgent { public static void premain(String, Instrumentation) {} }`,
 * assembled by hand (Java 8 class format: a straight-line method needs no stack map), so seeding
 * needs a JRE only, not javac.
 */
export function noopAgentClass(): Buffer {
  const pool: Buffer[] = [];
  const utf8 = (s: string): number => {
    const bytes = Buffer.from(s, 'utf8');
    pool.push(Buffer.concat([u1(1), u2(bytes.length), bytes]));
    return pool.length;
  };
  const klass = (name: string): number => {
    const nameIndex = utf8(name);
    pool.push(Buffer.concat([u1(7), u2(nameIndex)]));
    return pool.length;
  };
  const thisClass = klass(AGENT_CLASS);
  const superClass = klass('java/lang/Object');
  const name = utf8('premain');
  const descriptor = utf8('(Ljava/lang/String;Ljava/lang/instrument/Instrumentation;)V');
  const code = utf8('Code');
  const RETURN = 0xb1;
  const codeAttribute = Buffer.concat([u2(0), u2(2), u4(1), u1(RETURN), u2(0), u2(0)]); // stack 0, locals 2, `return`, no handlers, no attributes
  return Buffer.concat([
    u4(0xcafebabe),
    u2(0),
    u2(52),
    u2(pool.length + 1),
    ...pool,
    u2(0x0021), // public, super
    u2(thisClass),
    u2(superClass),
    u2(0), // interfaces
    u2(0), // fields
    u2(1), // methods
    u2(0x0009), // public static
    u2(name),
    u2(descriptor),
    u2(1),
    u2(code),
    u4(codeAttribute.length),
    codeAttribute,
    u2(0), // class attributes
  ]);
}

/** The Java home of a java executable (`<home>/bin/java`, links resolved). */
export function javaHome(java: string): string {
  const resolved = java.includes('/') ? java : whichJava(java);
  return dirname(dirname(realpathSync(resolved)));
}

function whichJava(command: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = join(dir, command);
    if (dir !== '' && existsSync(candidate)) return candidate;
  }
  return command;
}

function u1(n: number): Buffer {
  return Buffer.from([n]);
}

function u2(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u4(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
