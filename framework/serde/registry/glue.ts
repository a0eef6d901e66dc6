/**
 * AWS Glue Schema Registry. Records carry the schema version UUID in Glue's own header
 * (framing.ts); a reader calls GetSchemaVersion once per version id per container, a writer
 * GetSchemaByDefinition once (and RegisterSchemaVersion / CreateSchema when it registers).
 * Access is IAM: the serverless plugin grants each stage only the actions its serdes need
 * (`iamActions`). The AWS calls sit behind GlueSchemaApi so tests can run without AWS.
 */
import {
  CreateSchemaCommand,
  GetSchemaByDefinitionCommand,
  GetSchemaVersionCommand,
  GlueClient,
  RegisterSchemaVersionCommand,
} from '@aws-sdk/client-glue';
import { glueFraming } from './framing.js';
import type { RegisteredSchema, SchemaFormat, SchemaRegistry, SubjectNaming, WriterSchema } from './registry.js';
import { RegistryUnavailableError } from './registry.js';

/** The Glue calls the adapter makes; `undefined` answers mean "not found". */
export interface GlueSchemaApi {
  getSchemaVersion(versionId: string): Promise<{ format: SchemaFormat; definition: string; status: string } | undefined>;
  getSchemaByDefinition(registryName: string, schemaName: string, definition: string): Promise<{ versionId: string; status: string } | undefined>;
  registerSchemaVersion(registryName: string, schemaName: string, definition: string): Promise<{ versionId: string; status: string } | undefined>;
  createSchema(registryName: string, schemaName: string, format: SchemaFormat, definition: string): Promise<{ versionId: string; status: string }>;
}

/** Options of glueRegistry(). */
export interface GlueRegistryOptions {
  /** The Glue registry schemas are registered in (reading needs only the version ids records carry). */
  readonly registryName: string;
  /** AWS region (default: the Lambda's own, from the environment). */
  readonly region?: string;
  /** Schema naming when a serde does not choose one (default `topic`: `<topic>-value`, `<topic>-key`). */
  readonly subjectNaming?: SubjectNaming;
  /** The Glue calls (default: the AWS SDK's GlueClient); tests pass an in-memory one. */
  readonly api?: GlueSchemaApi;
}

/** IAM actions a reading stage needs. */
export const GLUE_READ_ACTIONS = ['glue:GetSchemaVersion'] as const;
/** IAM actions a writing stage needs (lookup, and registration of new versions). */
export const GLUE_WRITE_ACTIONS = ['glue:GetSchemaVersion', 'glue:GetSchemaByDefinition', 'glue:RegisterSchemaVersion', 'glue:CreateSchema', 'glue:GetSchema'] as const;

/** An AWS Glue Schema Registry. */
export function glueRegistry(options: GlueRegistryOptions): SchemaRegistry {
  const name = `glue ${options.registryName}`;
  let api = options.api;
  const glue = (): GlueSchemaApi => (api ??= sdkApi(new GlueClient(options.region ? { region: options.region } : {})));
  const byId = new Map<string, RegisteredSchema>();
  const writing = new Map<string, Promise<string>>();

  async function guarded<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (cause) {
      throw new RegistryUnavailableError(name, `${what} failed: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`, { cause });
    }
  }

  return {
    name,
    framing: glueFraming,
    subjectNaming: options.subjectNaming ?? 'topic',
    iamActions: { read: GLUE_READ_ACTIONS, write: GLUE_WRITE_ACTIONS },
    async schemaById(id) {
      const cached = byId.get(id);
      if (cached) return cached;
      const found = await guarded(`GetSchemaVersion ${id}`, () => glue().getSchemaVersion(id));
      if (!found) return undefined;
      const schema: RegisteredSchema = { id, format: found.format, text: found.definition };
      byId.set(id, schema);
      return schema;
    },
    idForWriting(schema, schemaName, register) {
      const key = `${register ? 'r' : 'l'}\u0000${schemaName}\u0000${schema.text}`;
      let pending = writing.get(key);
      if (!pending) {
        pending = resolveId(schema, schemaName, register);
        writing.set(key, pending);
        pending.catch(() => writing.delete(key));
      }
      return pending;
    },
  };

  async function resolveId(schema: WriterSchema, schemaName: string, register: boolean): Promise<string> {
    const registry = options.registryName;
    let found = await guarded(`GetSchemaByDefinition ${schemaName}`, () => glue().getSchemaByDefinition(registry, schemaName, schema.text));
    if (!found && register) {
      found =
        (await guarded(`RegisterSchemaVersion ${schemaName}`, () => glue().registerSchemaVersion(registry, schemaName, schema.text))) ??
        (await guarded(`CreateSchema ${schemaName}`, () => glue().createSchema(registry, schemaName, schema.format, schema.text)));
    }
    if (!found) {
      throw new RegistryUnavailableError(name, `the schema is not registered as "${schemaName}" and the serde does not register schemas (autoRegister: false)`);
    }
    if (found.status !== 'AVAILABLE') {
      throw new RegistryUnavailableError(name, `schema version ${found.versionId} of "${schemaName}" is ${found.status}, not AVAILABLE (a compatibility check may be running or have failed)`);
    }
    byId.set(found.versionId, { id: found.versionId, format: schema.format, text: schema.text });
    return found.versionId;
  }
}

/** The Glue calls over the AWS SDK. */
function sdkApi(client: GlueClient): GlueSchemaApi {
  const notFound = (e: unknown): boolean => e instanceof Error && e.name === 'EntityNotFoundException';
  return {
    async getSchemaVersion(versionId) {
      try {
        const out = await client.send(new GetSchemaVersionCommand({ SchemaVersionId: versionId }));
        return { format: (out.DataFormat ?? 'AVRO') as SchemaFormat, definition: out.SchemaDefinition ?? '', status: out.Status ?? 'AVAILABLE' };
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },
    async getSchemaByDefinition(registryName, schemaName, definition) {
      try {
        const out = await client.send(new GetSchemaByDefinitionCommand({ SchemaId: { RegistryName: registryName, SchemaName: schemaName }, SchemaDefinition: definition }));
        return { versionId: out.SchemaVersionId ?? '', status: out.Status ?? 'AVAILABLE' };
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },
    async registerSchemaVersion(registryName, schemaName, definition) {
      try {
        const out = await client.send(new RegisterSchemaVersionCommand({ SchemaId: { RegistryName: registryName, SchemaName: schemaName }, SchemaDefinition: definition }));
        return { versionId: out.SchemaVersionId ?? '', status: out.Status ?? 'AVAILABLE' };
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },
    async createSchema(registryName, schemaName, format, definition) {
      const out = await client.send(
        new CreateSchemaCommand({ RegistryId: { RegistryName: registryName }, SchemaName: schemaName, DataFormat: format, Compatibility: 'BACKWARD', SchemaDefinition: definition }),
      );
      return { versionId: out.SchemaVersionId ?? '', status: out.SchemaVersionStatus ?? 'AVAILABLE' };
    },
  };
}
