/** The serde module's public surface. */
export { SerdeError } from './serde.js';
export type { Serde, SerdeContext, SerdeIssue } from './serde.js';
export { json } from './json.js';
export type { JsonOptions } from './json.js';
export { string, bytes } from './primitives.js';
export type { PrimitiveOptions } from './primitives.js';
export type { StandardSchemaV1 } from './standard-schema.js';
