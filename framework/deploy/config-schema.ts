/**
 * `custom.sluice` as a JSON schema, declared to the Serverless framework
 * (`configSchemaHandler.defineCustomProperties`) so the framework itself rejects a typo or a wrong
 * type with the path of the bad field, before any plugin code runs — as it does for its own
 * settings (osls validates in `error` mode unless the service sets `configValidationMode`).
 * settings.ts and trigger-settings.ts check the same shapes again, plus what a schema cannot
 * say (stage and topic names that must exist in the pipeline, retry limits that need
 * provisioned mode, a destination that is the trigger's own topic).
 *
 * Plain data with no imports beyond types: the plugin's entry (plugin-entry.ts) loads it
 * synchronously in its constructor, which is where Serverless wants schemas declared. Written
 * for osls's ajv (strict mode): every keyword sits beside the `type` it applies to, and choices
 * between types are `anyOf` (ajv's type coercion would otherwise rewrite a value in place).
 */

/** A JSON schema node (the subset used here). */
export type JsonSchema = { readonly [keyword: string]: unknown };

const int = (minimum: number, maximum: number): JsonSchema => ({ type: 'integer', minimum, maximum });
const str = (pattern?: string): JsonSchema => (pattern === undefined ? { type: 'string', minLength: 1 } : { type: 'string', pattern });
const obj = (properties: Record<string, JsonSchema>, required: readonly string[] = []): JsonSchema => ({
  type: 'object',
  properties,
  ...(required.length > 0 ? { required } : {}),
  additionalProperties: false,
});
/** A list of strings, or one comma-separated string (what `${env:...}` yields). */
const list = (itemPattern: string): JsonSchema => ({ anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', minItems: 1, items: str(itemPattern) }] });
const orFalse = (schema: JsonSchema): JsonSchema => ({ anyOf: [{ type: 'boolean' }, schema] });

const SECRET_ARN = str('^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\\d{12}:secret:.+$');
const HOST_PORTS = list('^[^\\s:,]+:\\d{1,5}$');
const VPC = obj({ subnetIds: list('^subnet-[a-z0-9]+$'), securityGroupIds: list('^sg-[a-z0-9]+$') }, ['subnetIds', 'securityGroupIds']);
const STARTING_POSITION: JsonSchema = { type: 'string', enum: ['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP'] };
/** Unix seconds, or an ISO-8601 date-time. */
const TIMESTAMP: JsonSchema = { anyOf: [{ type: 'number', minimum: 0 }, { type: 'string', minLength: 1 }] };

const MSK = obj(
  {
    type: { type: 'string', const: 'msk' },
    clusterArn: str('^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\\d{12}:cluster/[A-Za-z0-9-]+/[A-Za-z0-9-]+$'),
    bootstrapServers: HOST_PORTS,
    auth: obj({ saslScram512: SECRET_ARN }),
    vpc: VPC,
  },
  ['type', 'clusterArn'],
);

const SELF_MANAGED = obj(
  {
    type: { type: 'string', const: 'self-managed' },
    bootstrapServers: HOST_PORTS,
    tls: { type: 'boolean' },
    auth: obj({ saslScram512: SECRET_ARN, saslScram256: SECRET_ARN, mtls: SECRET_ARN, rootCa: SECRET_ARN, vpc: VPC }),
  },
  ['type', 'bootstrapServers'],
);

const PROVISIONED = orFalse(obj({ minimumPollers: int(1, 200), maximumPollers: int(1, 2_000), pollerGroup: str('^[A-Za-z0-9_-]{1,128}$') }));

const ON_FAILURE_DESTINATION = '^(kafka://[A-Za-z0-9._-]{1,249}|arn:aws[a-z-]*:(sqs|sns):[a-z0-9-]+:\\d{12}:[A-Za-z0-9._-]+|arn:aws[a-z-]*:s3:::[a-z0-9.-]{3,63})$';
const ON_FAILURE: JsonSchema = {
  anyOf: [{ type: 'boolean' }, str(ON_FAILURE_DESTINATION), obj({ destination: str(ON_FAILURE_DESTINATION), maximumRetryAttempts: int(0, 10_000) }, ['destination'])],
};

/** What every stage's triggers take (root defaults) and each stage may override. */
const TRIGGER_PROPERTIES: Record<string, JsonSchema> = {
  batchSize: int(1, 10_000),
  maximumBatchingWindow: int(0, 300),
  provisioned: PROVISIONED,
  onFailure: ON_FAILURE,
  memorySize: int(128, 10_240),
  architecture: { type: 'string', enum: ['arm64', 'x86_64'] },
};

/** The schema of `custom.sluice`. */
export const SLUICE_CONFIG_SCHEMA: JsonSchema = obj(
  {
    pipeline: str('^.+#[A-Za-z_$][\\w$]*$'),
    handlers: { type: 'object', additionalProperties: str('^.+\\.[A-Za-z_$][\\w$]*$') },
    kafka: {
      type: 'object',
      required: ['type'],
      properties: { type: { type: 'string', enum: ['msk', 'self-managed'] } },
      if: { type: 'object', properties: { type: { type: 'string', const: 'msk' } } },
      then: MSK,
      else: SELF_MANAGED,
    },
    table: obj({ name: str('^[A-Za-z0-9_.-]{3,255}$'), pointInTimeRecovery: { type: 'boolean' }, retain: { type: 'boolean' } }),
    ticker: orFalse(obj({ rate: str('^\\d+ (minute|minutes|hour|hours|day|days)$'), intervalSeconds: int(1, 86_400) })),
    topics: obj({
      replicationFactor: int(1, 32),
      configs: { type: 'object', additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] } },
    }),
    ...TRIGGER_PROPERTIES,
    startingPosition: STARTING_POSITION,
    startingPositionTimestamp: TIMESTAMP,
    sources: { type: 'object', additionalProperties: obj({ startingPosition: STARTING_POSITION, startingPositionTimestamp: TIMESTAMP }, ['startingPosition']) },
    stages: { type: 'object', additionalProperties: obj(TRIGGER_PROPERTIES) },
  },
  ['pipeline', 'kafka'],
);

/** What `defineCustomProperties` takes: `custom.sluice`, required. */
export const CUSTOM_PROPERTIES: JsonSchema = { properties: { sluice: SLUICE_CONFIG_SCHEMA }, required: ['sluice'] };
