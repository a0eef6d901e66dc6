/** Side outputs: a typed name a process function can emit extra records under. */

/** Names a side output carrying records of type T. */
export interface OutputTag<T> {
  readonly id: string;
  /** Phantom field carrying the record type; never set. */
  readonly __type?: T;
}

/** Creates a side-output tag. */
export function outputTag<T>(id: string): OutputTag<T> {
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(id)) {
    throw new TypeError(`output tag "${id}" must be letters, digits, _ and -, at most 64`);
  }
  return { id };
}
