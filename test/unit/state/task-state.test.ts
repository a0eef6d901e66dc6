/**
 * The in-memory state of one task (framework/state/task-state.ts): reads and writes of a batch,
 * the batch's change list, per-record and per-batch rollback, and keeping the object warm between
 * batches.
 */
import { describe, expect, it } from 'vitest';
import type { StateValue } from '../../../framework/commit/ports.js';
import { count } from '../../../framework/dsl/aggregate.js';
import type { StateEntry } from '../../../framework/state/codec.js';
import { aggregatingState, listState, mapState, reducingState, valueState, type StateDescriptor } from '../../../framework/state/descriptors.js';
import { parseStateMapKey, stateMapKey, TaskState, UndeclaredStateError } from '../../../framework/state/task-state.js';

const NOW = 1_700_000_000_000;
const total = valueState<number>('total');
const seen = valueState<string>('seen', { ttl: '1m' });
const DESCRIPTORS: StateDescriptor[] = [total, seen] as StateDescriptor[];
const A = Buffer.from('a');
const B = Buffer.from('b');
const C = Buffer.from('c');

function val(text: string, expiresAt?: number): StateValue {
  return { bytes: Buffer.from(text), expiresAt };
}

function entry(key: Buffer, name: string, value: StateValue | undefined): StateEntry {
  return { key, name, value };
}

/** A task state with a clock the test moves. */
function taskState(entries: StateEntry[] = [], descriptors: StateDescriptor[] = DESCRIPTORS): { state: TaskState; clock: { now: number } } {
  const clock = { now: NOW };
  return { state: TaskState.fromEntries('count', descriptors, () => clock.now, entries), clock };
}

/** The state's live values as `key/name=value` strings, sorted. */
function contents(state: TaskState): string[] {
  return [...state.snapshot()].map(([id, v]) => {
    const { key, name } = parseStateMapKey(id);
    return `${key.toString()}/${name}=${v!.bytes.toString()}`;
  }).sort();
}

/** A change list as `key/name=value` strings (a deletion as `(deleted)`), sorted. */
function listed(entries: readonly StateEntry[]): string[] {
  return entries.map((e) => `${e.key.toString()}/${e.name}=${e.value === undefined ? '(deleted)' : e.value.bytes.toString()}`).sort();
}

const named = (list: Array<{ key: Buffer; name: string }>): string[] => list.map((e) => `${e.key.toString()}/${e.name}`).sort();

describe('map keys', () => {
  it('tell key bytes and state name apart, and parse back', () => {
    const key = Buffer.from([0, 1, 255]);
    expect(parseStateMapKey(stateMapKey(key, 'total'))).toEqual({ key, name: 'total' });
    expect(stateMapKey(A, 'total')).not.toBe(stateMapKey(A, 'seen'));
  });
});

describe('put and get', () => {
  it('reads what was put, per key and name', () => {
    const { state } = taskState();
    state.put(A, 'total', val('1'));
    expect(state.get(A, 'total')).toEqual(val('1'));
    expect(state.get(A, 'seen')).toBeUndefined();
    expect(state.get(B, 'total')).toBeUndefined();
  });

  it('reads a cleared entry as absent', () => {
    const { state } = taskState([entry(A, 'total', val('1'))]);
    state.put(A, 'total', undefined);
    expect(state.get(A, 'total')).toBeUndefined();
  });

  it('counts a value as absent from its expiry on', () => {
    const { state, clock } = taskState();
    state.put(A, 'total', val('1', NOW + 10));
    clock.now = NOW + 9;
    expect(state.get(A, 'total')).toEqual(val('1', NOW + 10));
    clock.now = NOW + 10;
    expect(state.get(A, 'total')).toBeUndefined();
  });

  it('lists the live entries of one state name', () => {
    const { state, clock } = taskState([entry(A, 'total', val('1')), entry(B, 'total', val('2', NOW + 5)), entry(C, 'seen', val('x'))]);
    clock.now = NOW + 5;
    expect([...state.entriesOf('total')].map((e) => `${e.key.toString()}=${e.value.bytes.toString()}`)).toEqual(['a=1']);
  });
});

describe('fromEntries', () => {
  it('holds the entries as committed, leaving out deletions and values already expired', () => {
    const { state } = taskState([entry(A, 'total', val('1')), entry(B, 'total', undefined), entry(C, 'total', val('3', NOW))]);
    expect(contents(state)).toEqual(['a/total=1']);
    expect(state.size).toBe(1);
    expect(state.changed).toBe(false);
    expect(state.changes()).toEqual([]);
  });
});

describe('changes', () => {
  it('lists every entry the batch wrote, with its value now; a clear as a deletion', () => {
    const { state } = taskState([entry(A, 'total', val('1')), entry(B, 'total', val('2'))]);
    state.put(A, 'total', val('10'));
    state.put(B, 'total', undefined);
    state.put(C, 'seen', val('x', NOW + 60_000));
    expect(state.changed).toBe(true);
    expect(listed(state.changes())).toEqual(['a/total=10', 'b/total=(deleted)', 'c/seen=x']);
    expect(state.changes().find((e) => e.key.equals(C))?.value).toEqual(val('x', NOW + 60_000));
  });

  it('lists an entry written several times once, with its last value', () => {
    const { state } = taskState();
    state.put(A, 'total', val('1'));
    state.commitRecord();
    state.put(A, 'total', val('2'));
    state.put(A, 'total', val('3'));
    expect(listed(state.changes())).toEqual(['a/total=3']);
  });

  it('is empty, and `changed` false, for a batch that wrote nothing', () => {
    const { state } = taskState([entry(A, 'total', val('1'))]);
    expect(state.get(A, 'total')).toEqual(val('1'));
    expect(state.changed).toBe(false);
    expect(state.changes()).toEqual([]);
  });
});

describe('rollbackRecord', () => {
  it('undoes only the current record\'s writes and returns the entries it restored', () => {
    const { state } = taskState([entry(A, 'total', val('committed'))]);
    state.put(A, 'total', val('record 1'));
    state.commitRecord();
    state.put(A, 'total', val('record 2'));
    state.put(B, 'total', val('record 2'));
    state.put(A, 'total', val('record 2 again'));
    expect(named(state.rollbackRecord())).toEqual(['a/total', 'b/total']);
    expect(contents(state)).toEqual(['a/total=record 1']);
  });

  it('leaves the batch\'s change list consistent with the state: the committed state plus the changes is the state now', () => {
    const committedEntries = [entry(A, 'total', val('committed'))];
    const { state } = taskState(committedEntries);
    state.put(A, 'total', val('record 1'));
    state.commitRecord();
    state.put(B, 'total', val('record 2'));
    state.put(A, 'total', undefined);
    state.rollbackRecord();
    const { state: replayed } = taskState(committedEntries);
    replayed.apply(state.changes());
    expect(contents(replayed)).toEqual(['a/total=record 1']);
    expect(contents(replayed)).toEqual(contents(state));
  });

  it('restores a value the record cleared', () => {
    const { state } = taskState([entry(A, 'total', val('1'))]);
    state.put(A, 'total', undefined);
    state.rollbackRecord();
    expect(state.get(A, 'total')).toEqual(val('1'));
  });

  it('undoes nothing once the record was kept (commitRecord)', () => {
    const { state } = taskState();
    state.put(A, 'total', val('1'));
    state.commitRecord();
    expect(state.rollbackRecord()).toEqual([]);
    expect(contents(state)).toEqual(['a/total=1']);
  });
});

describe('rollbackBatch', () => {
  it('restores the committed state and returns every entry it restored', () => {
    const { state } = taskState([entry(A, 'total', val('1')), entry(C, 'total', val('3'))]);
    state.put(A, 'total', val('2'));
    state.commitRecord();
    state.put(B, 'total', val('new'));
    state.put(C, 'total', undefined);
    expect(named(state.rollbackBatch())).toEqual(['a/total', 'b/total', 'c/total']);
    expect(contents(state)).toEqual(['a/total=1', 'c/total=3']);
    expect(state.changed).toBe(false);
    expect(state.changes()).toEqual([]);
  });

  it('keeps a warm container correct: after a failed batch, the next batch starts from the committed state and lists only its own changes', () => {
    const { state } = taskState([entry(A, 'total', val('1'))]);
    // Batch 1 commits.
    state.put(A, 'total', val('2'));
    state.put(B, 'total', val('1'));
    state.markCommitted();
    const committed = contents(state);
    // Batch 2 fails after writing (its prepare lost a race, say).
    state.put(A, 'total', val('3'));
    state.put(C, 'total', val('1'));
    state.rollbackBatch();
    expect(contents(state)).toEqual(committed);
    // Batch 2 again, on the same object.
    state.put(C, 'total', val('9'));
    expect(listed(state.changes())).toEqual(['c/total=9']);
    expect(contents(state)).toEqual(['a/total=2', 'b/total=1', 'c/total=9']);
  });

  it('equals a cold load of the committed entries after the failed batch', () => {
    const committedEntries = [entry(A, 'total', val('1')), entry(B, 'seen', val('x', NOW + 60_000))];
    const { state: warm } = taskState(committedEntries);
    warm.put(A, 'total', undefined);
    warm.put(B, 'seen', val('y', NOW + 120_000));
    warm.put(C, 'total', val('7'));
    warm.rollbackBatch();
    const { state: cold } = taskState(committedEntries);
    expect(warm.snapshot()).toEqual(cold.snapshot());
  });
});

describe('markCommitted', () => {
  it('keeps the values and starts a new change list', () => {
    const { state } = taskState();
    state.put(A, 'total', val('1'));
    state.markCommitted();
    expect(state.changes()).toEqual([]);
    expect(state.changed).toBe(false);
    expect(contents(state)).toEqual(['a/total=1']);
  });

  it('makes the values the ones a later rollback returns to', () => {
    const { state } = taskState();
    state.put(A, 'total', val('1'));
    state.markCommitted();
    state.put(A, 'total', val('2'));
    state.rollbackBatch();
    expect(contents(state)).toEqual(['a/total=1']);
  });
});

describe('apply (other invocations\' committed batches)', () => {
  it('sets and deletes entries without listing them as this batch\'s changes', () => {
    const { state } = taskState([entry(A, 'total', val('1')), entry(B, 'total', val('2'))]);
    state.apply([entry(A, 'total', val('10')), entry(B, 'total', undefined), entry(C, 'total', val('3'))]);
    expect(contents(state)).toEqual(['a/total=10', 'c/total=3']);
    expect(state.changed).toBe(false);
    expect(state.changes()).toEqual([]);
  });

  it('applies changes in order: the last change of an entry wins', () => {
    const { state } = taskState();
    state.apply([entry(A, 'total', val('1')), entry(A, 'total', undefined), entry(B, 'total', val('1')), entry(B, 'total', val('2'))]);
    expect(contents(state)).toEqual(['b/total=2']);
  });

  it('drops an entry whose applied value has expired', () => {
    const { state } = taskState([entry(A, 'total', val('1'))]);
    state.apply([entry(A, 'total', val('2', NOW - 1))]);
    expect(state.get(A, 'total')).toBeUndefined();
    expect(state.size).toBe(0);
  });
});

describe('entries (what a snapshot writes)', () => {
  it('lists every live entry and leaves out expired values', () => {
    const { state, clock } = taskState([entry(A, 'total', val('1')), entry(B, 'seen', val('x', NOW + 100))]);
    state.put(C, 'total', val('3'));
    expect(listed(state.entries())).toEqual(['a/total=1', 'b/seen=x', 'c/total=3']);
    clock.now = NOW + 100;
    expect(listed(state.entries())).toEqual(['a/total=1', 'c/total=3']);
    // Held until a snapshot leaves it out.
    expect(state.size).toBe(3);
  });
});

describe('access (user code\'s state accessors)', () => {
  it('stores a value state as JSON bytes, without expiry', () => {
    const { state } = taskState();
    state.access(A).state(total).set(41);
    expect(state.access(A).state(total).get()).toBe(41);
    expect(state.get(A, 'total')).toEqual({ bytes: Buffer.from('41'), expiresAt: undefined });
  });

  it('stamps the expiry of a state with a ttl from the time of the write', () => {
    const { state } = taskState();
    state.access(A).state(seen).set('x');
    expect(state.get(A, 'seen')).toEqual({ bytes: Buffer.from('"x"'), expiresAt: NOW + 60_000 });
  });

  it('clears with a deletion listed in the batch\'s changes', () => {
    const { state } = taskState([entry(A, 'total', val('5'))]);
    state.access(A).state(total).clear();
    expect(state.access(A).state(total).get()).toBeUndefined();
    expect(state.changes()).toEqual([entry(A, 'total', undefined)]);
  });

  it('serves list, map, reducing and aggregating state', () => {
    const items = listState<string>('items');
    const tags = mapState<number>('tags');
    const max = reducingState<number>('max', (a, b) => Math.max(a, b));
    const n = aggregatingState('n', count<string>());
    const { state } = taskState([], [items, tags, max, n] as StateDescriptor[]);
    const s = state.access(A);
    s.state(items).add('x');
    s.state(items).add('y');
    s.state(tags).put('k', 1);
    s.state(tags).put('j', 2);
    s.state(tags).remove('k');
    s.state(max).add(3);
    s.state(max).add(1);
    s.state(n).add('p');
    s.state(n).add('q');
    expect([s.state(items).get(), s.state(tags).entries(), s.state(max).get(), s.state(n).get()]).toEqual([['x', 'y'], [['j', 2]], 3, 2]);
    expect(listed(state.changes())).toEqual(['a/items=["x","y"]', 'a/max=3', 'a/n=2', 'a/tags={"j":2}']);
  });

  it('throws UndeclaredStateError naming the stage and the state for a state not declared', () => {
    const { state } = taskState();
    const undeclared = valueState<number>('undeclared');
    let error: unknown;
    try {
      state.access(A).state(undeclared).get();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UndeclaredStateError);
    expect(error).toMatchObject({ code: 'SLUICE_STATE_UNDECLARED', place: { stage: 'count', field: 'undeclared' } });
    expect((error as Error).message).toContain('state "undeclared" is used but not declared');
    expect(() => state.access(A).state(undeclared).set(1)).toThrow(UndeclaredStateError);
    expect(state.changed).toBe(false);
  });
});
