import { describe, expect, it } from 'vitest';
import { json } from '../../framework/index.js';
import { stageHarness } from '../../framework/testing/index.js';
import { clickstream, SESSION_GAP_MS, session, SUMMARY_EVERY } from './pipeline.js';
import type { EnrichedClick, SessionStats, SessionSummary } from './pipeline.js';

const T0 = Date.UTC(2026, 2, 1, 9, 0);
const MINUTE = 60_000;

/** A click as the enrich stage hands it over: keyed by user, stamped with its event time. */
function click(userId: string, section: string | null, at: number, page = '/') {
  const value: EnrichedClick = { userId, page, userAgent: 'Firefox', at, section };
  return { key: userId, value, timestamp: at };
}

/** `n` clicks of one user, a minute apart, starting at `from`. */
function clicks(userId: string, n: number, from = T0, section = 'docs') {
  return Array.from({ length: n }, (_, i) => click(userId, section, from + i * MINUTE));
}

function summaries(h: ReturnType<typeof stageHarness>): SessionSummary[] {
  return h.outputs('user-sessions', json<SessionSummary>()).map((o) => o.value);
}

describe('sessions stage', () => {
  it(`emits nothing before a session has ${SUMMARY_EVERY} clicks`, async () => {
    const h = stageHarness(clickstream, 'sessions');
    await h.send(clicks('ann', SUMMARY_EVERY - 1));
    expect(summaries(h)).toEqual([]);
  });

  it(`emits a summary every ${SUMMARY_EVERY} clicks of a session`, async () => {
    const h = stageHarness(clickstream, 'sessions');
    await h.send(clicks('ann', 2 * SUMMARY_EVERY));
    expect(summaries(h)).toEqual([
      { userId: 'ann', start: T0, last: T0 + 4 * MINUTE, clicks: 5, sections: { docs: 5 } },
      { userId: 'ann', start: T0, last: T0 + 9 * MINUTE, clicks: 10, sections: { docs: 10 } },
    ]);
  });

  it('keeps counting a session across batches', async () => {
    const h = stageHarness(clickstream, 'sessions');
    await h.send(clicks('ann', 3));
    await h.send(clicks('ann', 2, T0 + 3 * MINUTE, 'sales'));
    expect(summaries(h)).toEqual([{ userId: 'ann', start: T0, last: T0 + 4 * MINUTE, clicks: 5, sections: { docs: 3, sales: 2 } }]);
  });

  it('keeps the session in state, readable per user', async () => {
    const h = stageHarness(clickstream, 'sessions');
    await h.send([click('ann', 'docs', T0), click('ann', 'blog', T0 + MINUTE), click('bob', 'home', T0)]);
    expect(h.state<SessionStats>('ann', session)).toEqual({ start: T0, last: T0 + MINUTE, clicks: 2, sections: { docs: 1, blog: 1 } });
    expect(h.state<SessionStats>('bob', session)).toEqual({ start: T0, last: T0, clicks: 1, sections: { home: 1 } });
  });

  it('starts a new session after a gap longer than SESSION_GAP_MS in event time', async () => {
    const h = stageHarness(clickstream, 'sessions');
    const later = T0 + 4 * MINUTE + SESSION_GAP_MS + 1;
    await h.send([...clicks('ann', 4), ...clicks('ann', SUMMARY_EVERY, later)]);
    expect(summaries(h)).toEqual([{ userId: 'ann', start: later, last: later + 4 * MINUTE, clicks: 5, sections: { docs: 5 } }]);
  });

  it('writes summaries keyed by the user id', async () => {
    const h = stageHarness(clickstream, 'sessions');
    await h.send(clicks('ann', SUMMARY_EVERY));
    expect(h.outputs('user-sessions').map((o) => o.key)).toEqual([Buffer.from('ann')]);
  });

  it('sends clicks on unknown pages to unknown-pages and leaves them out of the session', async () => {
    const h = stageHarness(clickstream, 'sessions');
    await h.send([click('ann', 'docs', T0), click('ann', null, T0 + MINUTE, '/careers')]);
    expect(h.outputs('unknown-pages', json<EnrichedClick>()).map((o) => o.value)).toEqual([
      { userId: 'ann', page: '/careers', userAgent: 'Firefox', at: T0 + MINUTE, section: null },
    ]);
    expect(h.state<SessionStats>('ann', session)?.clicks).toBe(1);
  });

  it('forgets a user a day after their last click (state TTL)', async () => {
    const h = stageHarness(clickstream, 'sessions');
    await h.send(clicks('ann', 1));
    h.advanceClock(24 * 60 * MINUTE);
    expect(h.state('ann', session)).toBeUndefined();
  });
});
