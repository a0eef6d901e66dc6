/**
 * Protocol Buffers through protobufjs, which parses `.proto` source at run time — the form
 * registries store — so writer schemas fetched by id can be checked against the reader.
 * Values are plain objects (`toObject`: int64 as decimal strings, enums as names, defaults
 * filled in). Schema evolution follows protobuf's rules: fields are matched by number, unknown
 * ones skipped, missing ones default; a field number whose wire type changed is incompatible.
 *
 * Confluent's framing puts the message indexes (which message of the .proto file, as
 * zigzag varints; `[0]` as the single byte 0) between the schema id and the message bytes.
 */
import pb from 'protobufjs';
import { ConfigError } from '../errors.js';
import type { SchemaCodec, SchemaSerdeOptions } from './registered.js';
import { IncompatibleSchema, schemaSerde } from './registered.js';
import type { Serde } from './serde.js';

/** Options of protobuf(). */
export interface ProtobufOptions extends SchemaSerdeOptions {
  /** The `.proto` source (proto3 or proto2) holding the message. */
  readonly schema: string;
  /** Full name of the message, e.g. `ysb.AdEvent` (default: the file's first message). */
  readonly type?: string;
}

/** How decoded messages become plain values. */
const TO_OBJECT: pb.IConversionOptions = { longs: String, enums: String, defaults: true, arrays: true, objects: true };

/** Protobuf messages of type T, as plain objects (T is trusted to match the message). */
export function protobuf<T>(options: ProtobufOptions & { readonly nullable?: false }): Serde<T>;
/** Protobuf messages of type T, with tombstones read and written as null. */
export function protobuf<T>(options: ProtobufOptions & { readonly nullable: true }): Serde<T | null>;
export function protobuf<T>(options: ProtobufOptions): Serde<T | null> {
  return schemaSerde<T | null>(protobufCodec<T>(options), options);
}

function protobufCodec<T>(options: ProtobufOptions): SchemaCodec<T> {
  let type: pb.Type;
  try {
    const parsed = pb.parse(options.schema, { keepCase: true });
    type = options.type ? parsed.root.lookupType(options.type) : firstMessage(parsed.root);
    parsed.root.resolveAll();
  } catch (cause) {
    throw new ConfigError(
      `protobuf schema is not usable: ${cause instanceof Error ? cause.message : String(cause)}`,
      { field: options.type && String(cause).includes(options.type) ? 'type' : 'schema' },
      'pass the .proto source and the full name of the message (package.Message)',
    );
  }
  const fullName = type.fullName.replace(/^\./, '');
  const ownIndexes = encodeIndexes(indexPathOf(type));
  const decode = (bytes: Uint8Array): T => type.toObject(type.decode(bytes), TO_OBJECT) as T;
  return {
    serde: 'protobuf',
    schema: { format: 'PROTOBUF', text: options.schema, recordName: fullName },
    framedPrefix: ownIndexes,
    readerFor(writer) {
      let root: pb.Root;
      try {
        root = pb.parse(writer.text, { keepCase: true }).root;
        root.resolveAll();
      } catch (cause) {
        throw new IncompatibleSchema(`writer schema ${writer.id} is not valid .proto source: ${cause instanceof Error ? cause.message : String(cause)}`);
      }
      // Compatibility is a property of (writer message, reader): checked once per message index path.
      const checked = new Map<string, true>();
      return (payload) => {
        const reader = pb.Reader.create(payload);
        const path = readIndexes(reader);
        const key = path.join('.');
        if (!checked.has(key)) {
          const message = messageAt(root, path);
          if (!message) throw new IncompatibleSchema(`writer schema ${writer.id} has no message at index path [${key}]`);
          checkCompatible(message, type);
          checked.set(key, true);
        }
        return decode(payload.subarray(reader.pos));
      };
    },
    readOwn: (payload) => decode(payload),
    fromJson(value) {
      const message = type.fromObject(value as Record<string, unknown>);
      const problem = type.verify(message);
      if (problem) throw new Error(problem);
      return type.toObject(message, TO_OBJECT) as T;
    },
    encode(value) {
      const message = type.fromObject(value as Record<string, unknown>);
      const problem = type.verify(message);
      if (problem) throw new Error(problem);
      return Buffer.from(type.encode(message).finish());
    },
  };
}

function firstMessage(ns: pb.NamespaceBase): pb.Type {
  for (const nested of ns.nestedArray) {
    if (nested instanceof pb.Type) return nested;
    if (nested instanceof pb.Namespace) {
      const found = firstMessageOrUndefined(nested);
      if (found) return found;
    }
  }
  throw new Error('the .proto source declares no message');
}

function firstMessageOrUndefined(ns: pb.NamespaceBase): pb.Type | undefined {
  try {
    return firstMessage(ns);
  } catch {
    return undefined;
  }
}

/** Messages declared directly in a namespace or message, in declaration order. */
function messagesOf(ns: pb.NamespaceBase): pb.Type[] {
  return ns.nestedArray.filter((n): n is pb.Type => n instanceof pb.Type);
}

/** A message's position: index among the file's top-level messages, then among each parent's nested ones. */
function indexPathOf(type: pb.Type): number[] {
  const path: number[] = [];
  let node: pb.ReflectionObject = type;
  while (node.parent instanceof pb.Type) {
    path.unshift(messagesOf(node.parent).indexOf(node as pb.Type));
    node = node.parent;
  }
  path.unshift(topLevelMessages(node.root).indexOf(node as pb.Type));
  return path;
}

/** Top-level messages of the file, in declaration order (inside its package namespace). */
function topLevelMessages(root: pb.Root): pb.Type[] {
  const out: pb.Type[] = [];
  const visit = (ns: pb.NamespaceBase): void => {
    for (const n of ns.nestedArray) {
      if (n instanceof pb.Type) out.push(n);
      else if (n instanceof pb.Namespace) visit(n);
    }
  };
  visit(root);
  return out;
}

function messageAt(root: pb.Root, path: readonly number[]): pb.Type | undefined {
  let message = topLevelMessages(root)[path[0] ?? 0];
  for (const i of path.slice(1)) message = message ? messagesOf(message)[i] : undefined;
  return message;
}

/** Confluent's message-index encoding: `[0]` is the single byte 0, else count then indexes, zigzag varints. */
function encodeIndexes(path: readonly number[]): Buffer {
  if (path.length === 1 && path[0] === 0) return Buffer.from([0]);
  const w = pb.Writer.create().sint32(path.length);
  for (const i of path) w.sint32(i);
  return Buffer.from(w.finish());
}

function readIndexes(reader: pb.Reader): number[] {
  const count = reader.sint32();
  if (count === 0) return [0];
  if (count < 0 || count > 100) throw new Error(`message index count ${count} is not valid`);
  const path: number[] = [];
  for (let i = 0; i < count; i += 1) path.push(reader.sint32());
  return path;
}

/** A field's wire encoding: fields whose number is shared must agree on it. */
function wireKind(field: pb.Field): string {
  if (field.map) return 'length-delimited';
  if (field.resolvedType instanceof pb.Type) return 'length-delimited';
  if (field.resolvedType instanceof pb.Enum) return 'varint';
  switch (field.type) {
    case 'string':
    case 'bytes':
      return 'length-delimited';
    case 'sint32':
    case 'sint64':
      return 'zigzag';
    case 'fixed32':
    case 'sfixed32':
    case 'float':
      return 'fixed32';
    case 'fixed64':
    case 'sfixed64':
    case 'double':
      return 'fixed64';
    default:
      return 'varint';
  }
}

function checkCompatible(writer: pb.Type, reader: pb.Type): void {
  for (const field of reader.fieldsArray) {
    const theirs = writer.fieldsById[field.id];
    if (!theirs) continue;
    const a = wireKind(theirs);
    const b = wireKind(field);
    if (a !== b || theirs.repeated !== field.repeated) {
      throw new IncompatibleSchema(
        `field ${field.id} is "${theirs.name}" (${theirs.repeated ? 'repeated ' : ''}${theirs.type}) in ${writer.fullName.replace(/^\./, '')} but "${field.name}" (${field.repeated ? 'repeated ' : ''}${field.type}) in the reader`,
      );
    }
  }
}
