import { describe, expect, it } from 'vitest';
import { compile, count, json, pipeline, string, valueState } from '../../../framework/index.js';
import { keyBytes, stateDescriptor } from '../../../framework/ops/state-get.js';

const session = valueState<number>('session');
const topo = (() => {
  const p = pipeline('shop', { partitions: 2 });
  const orders = p.source<{ user: string; n: number }>('orders', { serde: json(), partitions: 2 });
  orders.keyBy((o) => o.user, { name: 'json-user' }).aggregate(count()).sink('counts', { serde: json() });
  orders
    .keyBy((o) => o.user, { name: 'text-user', keySerde: string() })
    .process<number>((o, ctx) => ctx.state(session).set(o.n), { state: [session] })
    .sink('sessions', { serde: json() });
  return compile(p.plan());
})();
const [source, jsonKeyed, stringKeyed] = topo.stages;

describe('keyBytes', () => {
  it('parses the argument as JSON and writes it with the stage key serde', () => {
    expect(keyBytes(jsonKeyed!, '"ann"', 'json')).toEqual(Buffer.from('"ann"'));
    expect(keyBytes(stringKeyed!, '"ann"', 'json')).toEqual(Buffer.from('ann'));
  });

  it('takes the argument as a string value with --key-format string', () => {
    expect(keyBytes(jsonKeyed!, 'ann', 'string')).toEqual(Buffer.from('"ann"'));
    expect(keyBytes(stringKeyed!, 'ann', 'string')).toEqual(Buffer.from('ann'));
  });

  it('takes raw key bytes with --key-format base64', () => {
    expect(keyBytes(stringKeyed!, Buffer.from([0, 255]).toString('base64'), 'base64')).toEqual(Buffer.from([0, 255]));
  });

  it('says how to pass a plain string when the argument is not JSON', () => {
    expect(() => keyBytes(jsonKeyed!, 'ann', 'json')).toThrow(/key "ann" is not JSON .*--key-format string/);
  });

  it('refuses a stage that is not keyed', () => {
    expect(() => keyBytes(source!, '"ann"', 'json')).toThrow(/is not keyed/);
  });
});

describe('stateDescriptor', () => {
  it("takes the stage's only state when none is named", () => {
    expect(stateDescriptor(stringKeyed!, undefined).name).toBe('session');
  });

  it('finds a named state and lists the states when the name is wrong', () => {
    expect(stateDescriptor(stringKeyed!, 'session')).toBe(session);
    expect(() => stateDescriptor(stringKeyed!, 'sesion')).toThrow(/no state "sesion" .*states: session/);
  });

  it('refuses a stage without state', () => {
    expect(() => stateDescriptor(source!, undefined)).toThrow(/has 0 states/);
  });
});
