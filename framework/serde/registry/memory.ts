/**
 * An in-memory schema registry with Confluent's wire format and id semantics (one global id
 * per distinct schema), for unit tests, the stage harness and the benchmark. `available`
 * turns it off to simulate an outage.
 */
import { confluentFraming } from './framing.js';
import type { RegisteredSchema, SchemaFormat, SchemaRegistry, SubjectNaming, WriterSchema } from './registry.js';
import { RegistryUnavailableError } from './registry.js';

/** The in-memory registry: the port plus what tests need to arrange it. */
export interface MemorySchemaRegistry extends SchemaRegistry {
  /** Registers `text` under `subject` (as a producer would) and returns its id. */
  register(subject: string, format: SchemaFormat, text: string): number;
  /** Subjects and the ids registered under each, in order. */
  readonly subjects: ReadonlyMap<string, readonly number[]>;
  /** Calls made, for tests that count them. */
  readonly calls: { byId: number; forWriting: number };
  /** False makes every call throw RegistryUnavailableError. */
  available: boolean;
}

/** An empty in-memory registry. */
export function memoryRegistry(options: { readonly subjectNaming?: SubjectNaming } = {}): MemorySchemaRegistry {
  const schemas: RegisteredSchema[] = [];
  const subjects = new Map<string, number[]>();
  const calls = { byId: 0, forWriting: 0 };
  const name = 'memory';

  function register(subject: string, format: SchemaFormat, text: string): number {
    let index = schemas.findIndex((s) => s.format === format && s.text === text);
    if (index < 0) {
      schemas.push({ id: String(schemas.length + 1), format, text });
      index = schemas.length - 1;
    }
    const id = index + 1;
    const list = subjects.get(subject) ?? [];
    if (!list.includes(id)) list.push(id);
    subjects.set(subject, list);
    return id;
  }

  const registry: MemorySchemaRegistry = {
    name,
    framing: confluentFraming,
    subjectNaming: options.subjectNaming ?? 'topic',
    iamActions: { read: [], write: [] },
    available: true,
    subjects,
    calls,
    register,
    schemaById(id) {
      calls.byId += 1;
      if (!registry.available) return Promise.reject(new RegistryUnavailableError(name, 'unavailable (simulated outage)'));
      return Promise.resolve(schemas[Number(id) - 1]);
    },
    idForWriting(schema: WriterSchema, subject: string, doRegister: boolean) {
      calls.forWriting += 1;
      if (!registry.available) return Promise.reject(new RegistryUnavailableError(name, 'unavailable (simulated outage)'));
      const index = schemas.findIndex((s) => s.format === schema.format && s.text === schema.text);
      if (index >= 0 && subjects.get(subject)?.includes(index + 1)) return Promise.resolve(String(index + 1));
      if (!doRegister) return Promise.reject(new RegistryUnavailableError(name, `schema not registered under "${subject}" (autoRegister: false)`));
      return Promise.resolve(String(register(subject, schema.format, schema.text)));
    },
  };
  return registry;
}
