/**
 * The Standard Schema v1 interface (https://standardschema.dev), the part Sluice uses.
 * Inlined rather than depending on `@standard-schema/spec`, as the spec invites: it is a
 * types-only contract, so zod 4, valibot, arktype and others satisfy it structurally.
 */

/** A validator any Standard Schema library provides under the `~standard` key. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

/** The Standard Schema v1 member types. */
// eslint-disable-next-line @typescript-eslint/no-namespace -- the spec's own shape; merges with the interface.
export declare namespace StandardSchemaV1 {
  /** The `~standard` properties. */
  export interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown, options?: Options) => Result<Output> | Promise<Result<Output>>;
    readonly types?: Types<Input, Output> | undefined;
  }
  /** Options passed to validate. */
  export interface Options {
    readonly libraryOptions?: Record<string, unknown> | undefined;
  }
  /** What validate returns. */
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  /** Validation passed. */
  export interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  /** Validation failed. */
  export interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  /** One problem found. */
  export interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  /** A path segment given as an object. */
  export interface PathSegment {
    readonly key: PropertyKey;
  }
  /** Inferred input and output types. */
  export interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }
  /** The output type of a schema. */
  export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['output'];
}
