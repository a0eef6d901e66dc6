import { describe, expect, it } from 'vitest';
import { compile, json, pipeline } from '../../../framework/index.js';
import { externalTopics, topicsManifest, topicsToCreate } from '../../../framework/deploy/topics.js';

function topology() {
  const p = pipeline('shop', { partitions: 3 });
  p.source<{ user: string }>('orders', { serde: json(), partitions: 2 })
    .keyBy((o) => o.user, { name: 'user' })
    .process<string>((o, ctx) => ctx.emit(o.user))
    .sink('out', { serde: json() });
  return compile(p.plan());
}

describe('topicsToCreate', () => {
  it('creates the managed topics only, every one with LogAppendTime (retention must not key on old event times) and the manifest\'s configs', () => {
    const manifest = topicsManifest(topology(), { replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
    const specs = topicsToCreate(manifest);
    const byName = new Map(specs.map((s) => [s.topic, s]));
    expect(byName.has('orders')).toBe(false);
    expect(byName.has('out')).toBe(false);
    expect(byName.get('shop.by-user.in')).toEqual({ topic: 'shop.by-user.in', partitions: 3, replicationFactor: 3, configs: { 'message.timestamp.type': 'LogAppendTime', 'min.insync.replicas': '2' } });
    // Changelogs also keep every record until Sluice no longer needs them.
    for (const spec of specs) expect(spec.configs).toEqual({ 'message.timestamp.type': 'LogAppendTime', 'min.insync.replicas': '2', ...(spec.topic.endsWith('.changelog') ? { 'retention.ms': '-1' } : {}) });
    expect(specs.filter((s) => s.topic.endsWith('.changelog')).map((s) => s.topic).sort()).toEqual(['shop.by-user.changelog', 'shop.orders.changelog']);
    expect(externalTopics(manifest).map((t) => t.name).sort()).toEqual(['orders', 'out']);
  });
});
