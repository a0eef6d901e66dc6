import { inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { launcherJar, manifest, noopAgentClass, noopAgentJar } from '../../../framework/local/infra/localstack-seed.js';

/** Names and contents of the entries of a zip written by zip.ts (deflated, central directory at the end). */
function entries(archive: Buffer): Map<string, Buffer> {
  const end = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let at = archive.readUInt32LE(end + 16);
  const out = new Map<string, Buffer>();
  for (let i = 0; i < archive.readUInt16LE(end + 10); i += 1) {
    const size = archive.readUInt32LE(at + 20);
    const nameLength = archive.readUInt16LE(at + 28);
    const local = archive.readUInt32LE(at + 42);
    const name = archive.toString('utf8', at + 46, at + 46 + nameLength);
    const dataAt = local + 30 + archive.readUInt16LE(local + 26) + archive.readUInt16LE(local + 28);
    out.set(name, inflateRawSync(archive.subarray(dataAt, dataAt + size)));
    at += 46 + nameLength + archive.readUInt16LE(at + 30) + archive.readUInt16LE(at + 32);
  }
  return out;
}

describe('JAR manifests', () => {
  it('wrap long values at 72 bytes with continuation lines that start with a space', () => {
    const text = manifest({ 'Class-Path': Array.from({ length: 12 }, (_, i) => `DynamoDBLocal_lib/library-number-${i}.jar`).join(' ') }).toString('utf8');
    const lines = text.split('\r\n');
    expect(lines[0]).toBe('Manifest-Version: 1.0');
    expect(lines.every((l) => Buffer.byteLength(l) <= 72)).toBe(true);
    expect(lines.slice(2).filter((l) => l !== '').every((l) => l.startsWith(' '))).toBe(true);
    // Joined back as a reader does (drop the newline and the leading space), the value is whole.
    expect(lines.slice(1).join('\r\n').replace(/\r\n /g, '')).toContain('library-number-0.jar DynamoDBLocal_lib/library-number-1.jar');
    expect(text.endsWith('\r\n\r\n')).toBe(true);
  });

  it("of the launcher jar name the main class and the lib jars, and nothing else is in it", () => {
    const jar = entries(launcherJar('com.example.Main', ['lib/a.jar', 'lib/b.jar']));
    expect([...jar.keys()]).toEqual(['META-INF/MANIFEST.MF']);
    expect(jar.get('META-INF/MANIFEST.MF')!.toString('utf8')).toBe('Manifest-Version: 1.0\r\nMain-Class: com.example.Main\r\nClass-Path: lib/a.jar lib/b.jar\r\n\r\n');
  });
});

describe('the no-op Java agent', () => {
  it('is a Java 8 class file declaring premain(String, Instrumentation) that only returns', () => {
    const cls = noopAgentClass();
    expect(cls.readUInt32BE(0)).toBe(0xcafebabe);
    expect(cls.readUInt16BE(6)).toBe(52);
    expect(cls.includes(Buffer.from('(Ljava/lang/String;Ljava/lang/instrument/Instrumentation;)V'))).toBe(true);
    // The Code attribute: max_stack 0, max_locals 2, one byte of code, `return` (0xb1).
    expect(cls.includes(Buffer.from([0, 0, 0, 2, 0, 0, 0, 1, 0xb1, 0, 0, 0, 0]))).toBe(true);
  });

  it('ships in a jar whose manifest names it as the Premain-Class', () => {
    const jar = entries(noopAgentJar());
    expect([...jar.keys()]).toEqual(['META-INF/MANIFEST.MF', 'SluiceNoopAgent.class']);
    expect(jar.get('META-INF/MANIFEST.MF')!.toString('utf8')).toContain('Premain-Class: SluiceNoopAgent\r\n');
    expect(jar.get('SluiceNoopAgent.class')).toEqual(noopAgentClass());
  });
});
