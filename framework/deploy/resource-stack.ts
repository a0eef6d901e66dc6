/**
 * The part of a packaged stack that holds state and permissions, without what runs code: the
 * template `osls package` wrote, less its Lambda functions, versions, permissions, Kafka triggers
 * and schedules, and less everything that refers to what was removed (a role's policy that names a
 * function survives; an output that returns a function's ARN does not). What remains — the
 * DynamoDB table, the IAM roles, the deployment bucket, the log groups — is what an emulator
 * without Lambda (LocalStack's open-source runtime) can create through CloudFormation. Pure.
 */

/** A CloudFormation template, as far as this file reads it. */
export interface CfnTemplate {
  readonly AWSTemplateFormatVersion?: string;
  readonly Description?: string;
  readonly Resources: Readonly<Record<string, { readonly Type: string; readonly DependsOn?: string | readonly string[]; readonly [key: string]: unknown }>>;
  readonly Outputs?: Readonly<Record<string, unknown>>;
  readonly [key: string]: unknown;
}

/** The resources-only stack and what was left out. */
export interface ResourceStack {
  readonly template: CfnTemplate;
  /** Logical ids removed because they run code or point at something that does. */
  readonly removed: readonly string[];
  readonly removedOutputs: readonly string[];
}

/** Resource types that run code or deliver events to it: LocalStack's free runtime has no Lambda. */
export const CODE_RESOURCE_TYPES: ReadonlySet<string> = new Set([
  'AWS::Lambda::Function',
  'AWS::Lambda::Version',
  'AWS::Lambda::Alias',
  'AWS::Lambda::Permission',
  'AWS::Lambda::EventSourceMapping',
  'AWS::Lambda::EventInvokeConfig',
  'AWS::Lambda::Url',
  'AWS::Lambda::LayerVersion',
  'AWS::Events::Rule',
  'AWS::Scheduler::Schedule',
]);

/** The template without code resources and everything that refers to them. */
export function resourceStack(template: CfnTemplate): ResourceStack {
  const removed = new Set(Object.entries(template.Resources).filter(([, r]) => CODE_RESOURCE_TYPES.has(r.Type)).map(([id]) => id));
  // Removing one resource can orphan another that refers to it; repeat until nothing changes.
  for (let changed = true; changed; ) {
    changed = false;
    for (const [id, resource] of Object.entries(template.Resources)) {
      if (removed.has(id)) continue;
      if ([...references(resource)].some((ref) => removed.has(ref))) {
        removed.add(id);
        changed = true;
      }
    }
  }
  const resources = Object.fromEntries(Object.entries(template.Resources).filter(([id]) => !removed.has(id)));
  const outputs = Object.entries(template.Outputs ?? {});
  const keptOutputs = outputs.filter(([, o]) => ![...references(o)].some((ref) => removed.has(ref)));
  return {
    template: { ...template, Resources: resources, Outputs: Object.fromEntries(keptOutputs) },
    removed: [...removed],
    removedOutputs: outputs.filter(([, o]) => !keptOutputs.some(([, k]) => k === o)).map(([id]) => id),
  };
}

/** Logical ids a template fragment refers to: Ref, Fn::GetAtt, `${Id}` / `${Id.Attr}` in Fn::Sub, DependsOn. */
export function references(node: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(node)) {
    for (const item of node) references(item, into);
    return into;
  }
  if (typeof node !== 'object' || node === null) return into;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'Ref' && typeof value === 'string') into.add(value);
    else if (key === 'Fn::GetAtt') {
      const target = Array.isArray(value) ? value[0] : typeof value === 'string' ? value.split('.')[0] : undefined;
      if (typeof target === 'string') into.add(target);
    } else if (key === 'Fn::Sub') {
      const text = Array.isArray(value) ? value[0] : value;
      if (typeof text === 'string') for (const m of text.matchAll(/\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}/g)) into.add(m[1]!);
      if (Array.isArray(value)) references(value[1], into);
      continue;
    } else if (key === 'DependsOn') {
      for (const dep of Array.isArray(value) ? value : [value]) if (typeof dep === 'string') into.add(dep);
      continue;
    }
    references(value, into);
  }
  return into;
}
