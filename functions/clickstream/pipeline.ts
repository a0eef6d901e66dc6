/**
 * Clickstream: per-user session summaries from raw click events.
 *
 *   clicks ─▶ [enrich]   drop bots → look up each page's site section (mapAsync)
 *          ─keyBy user─▶ [sessions] per-user session stats in ValueState
 *                                   → a summary every SUMMARY_EVERY clicks    ─▶ user-sessions
 *                                   └ clicks on pages with no known section  ─▶ unknown-pages
 *
 * A session ends after SESSION_GAP of event time without a click; the state's TTL only
 * cleans up users who went away, it does not decide sessions (it runs on processing time).
 */
import { z } from 'zod';
import { json, outputTag, pipeline, string, valueState } from '../../framework/index.js';

/** A raw click as the website's collector writes it to `clicks`. */
export const Click = z.object({
  userId: z.string().min(1),
  page: z.string().startsWith('/'),
  userAgent: z.string(),
  /** Event time, epoch ms. */
  at: z.number().int().nonnegative(),
});
/** A raw click. */
export type Click = z.infer<typeof Click>;

/** A click with the site section of its page; null when the page is in no known section. */
export interface EnrichedClick extends Click {
  readonly section: string | null;
}

/** A user's current session. */
export interface SessionStats {
  /** Event time of the session's first click. */
  readonly start: number;
  /** Event time of the session's latest click. */
  readonly last: number;
  readonly clicks: number;
  /** Clicks per site section. */
  readonly sections: Readonly<Record<string, number>>;
}

/** What `user-sessions` receives: a user's session so far. */
export interface SessionSummary extends SessionStats {
  readonly userId: string;
}

/** A summary is emitted after every this many clicks of a session. */
export const SUMMARY_EVERY = 5;
/** Event time without a click after which the next click starts a new session. */
export const SESSION_GAP_MS = 30 * 60_000;

const BOT = /bot|crawler|spider|headless/i;

/** Whether a click came from a person (not a crawler or a headless browser). */
export function isHuman(click: Click): boolean {
  return !BOT.test(click.userAgent);
}

/** Site sections by page prefix; the longest matching prefix wins. */
const SECTIONS: ReadonlyArray<readonly [prefix: string, section: string]> = [
  ['/pricing', 'sales'],
  ['/signup', 'sales'],
  ['/docs', 'docs'],
  ['/blog', 'blog'],
];

/**
 * The site section of a page. Async because in production this is a catalogue lookup;
 * the example keeps a static table so it runs anywhere.
 */
export async function sectionOf(page: string): Promise<string | null> {
  if (page === '/') return 'home';
  const match = SECTIONS.filter(([prefix]) => page === prefix || page.startsWith(`${prefix}/`)).sort((a, b) => b[0].length - a[0].length)[0];
  return match ? match[1] : null;
}

/** Clicks on pages with no known section, for whoever maintains the section table. */
export const unknownPage = outputTag<EnrichedClick>('unknown-page');

/** The session of one user; expires a day after the user's last click. */
export const session = valueState<SessionStats>('session', { ttl: '1d' });

/** Adds a click to a session, starting a new one after a gap. */
export function addClick(current: SessionStats | undefined, click: EnrichedClick, section: string): SessionStats {
  if (!current || click.at - current.last > SESSION_GAP_MS) {
    return { start: click.at, last: click.at, clicks: 1, sections: { [section]: 1 } };
  }
  return {
    start: current.start,
    last: Math.max(current.last, click.at),
    clicks: current.clicks + 1,
    sections: { ...current.sections, [section]: (current.sections[section] ?? 0) + 1 },
  };
}

/** The clickstream pipeline: stages `enrich` and `sessions`. */
export const clickstream = pipeline('clickstream', { partitions: 4 });

const summaries = clickstream
  .source('clicks', { serde: json({ schema: Click }), eventTime: (c) => c.at, partitions: 4 })
  .filter(isHuman)
  .mapAsync(async (c): Promise<EnrichedClick> => ({ ...c, section: await sectionOf(c.page) }), { concurrency: 16 })
  .stage('enrich')
  // string() keys, so consumers of the output topics read plain user ids.
  .keyBy((c) => c.userId, { name: 'user', keySerde: string(), serde: json<EnrichedClick>() })
  .stage('sessions')
  .process<SessionSummary>(
    (click, ctx) => {
      if (click.section === null) {
        ctx.output(unknownPage, click);
        return;
      }
      const state = ctx.state(session);
      const next = addClick(state.get(), click, click.section);
      state.set(next);
      if (next.clicks % SUMMARY_EVERY === 0) ctx.emit({ userId: ctx.key, ...next });
    },
    { state: [session] },
  );

summaries.sink('user-sessions', { serde: json<SessionSummary>() });
summaries.sideOutput(unknownPage).sink('unknown-pages', { serde: json<EnrichedClick>() });
