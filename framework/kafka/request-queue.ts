/**
 * kafkajs 2.2.4's request queue without its idle timer loop (see fixKafkajsRequestQueue).
 *
 * Every broker connection has a RequestQueue. After each response it calls
 * `scheduleCheckPendingRequests`, which, with nothing queued and no throttling, computes a
 * negative delay (`throttledUntil` is -1) and sets a timer anyway; Node runs a negative timeout
 * after 1 ms, and the check it runs schedules the next one. So every connection that has answered
 * once wakes its process about a thousand times a second for as long as it is open
 * (tulios/kafkajs#1556, #1704; unfixed in 2.2.4, the last release). Profiled on the benchmark's
 * stage functions, those timers were about a third of their CPU: most of it between invocations,
 * which Lambda freezes and does not bill, the rest billed duration; on a shared machine it is CPU
 * the work does not get.
 *
 * The replacement keeps what the check is for — sending queued requests once a broker's
 * throttling ends, and a 10 ms safety poll while requests wait behind the in-flight limit — and
 * sets no timer when nothing is queued: a request pushed later is sent at once or queued and
 * schedules its own check.
 */
import RequestQueue from 'kafkajs/src/network/requestQueue/index.js';

/** kafkajs's poll while requests wait behind the in-flight limit (CHECK_PENDING_REQUESTS_INTERVAL). */
export const PENDING_CHECK_INTERVAL_MS = 10;

/**
 * When to check the queue again (pure): undefined when nothing is queued (nothing to send, so no
 * timer), the rest of the throttle when throttled, else the safety poll.
 */
export function pendingCheckDelay(pending: number, throttledUntil: number, now: number): number | undefined {
  if (pending === 0) return undefined;
  const throttled = throttledUntil - now;
  return throttled > 0 ? throttled : PENDING_CHECK_INTERVAL_MS;
}

/** The fields of kafkajs's RequestQueue the fix reads and writes (kafkajs-internals.d.ts). */
type KafkajsRequestQueue = (typeof RequestQueue)['prototype'];

let installed = false;

/**
 * Replaces `RequestQueue.prototype.scheduleCheckPendingRequests` process-wide, once. Every
 * connection kafkajs opens (producers, consumers, admins, in functions, the trigger emulator and
 * the benchmark's raw kafkajs loop alike) builds its queue from that class.
 */
export function fixKafkajsRequestQueue(): void {
  if (installed) return;
  installed = true;
  RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: KafkajsRequestQueue): void {
    if (this.throttleCheckTimeoutId) return;
    const delay = pendingCheckDelay(this.pending.length, this.throttledUntil, Date.now());
    if (delay === undefined) return;
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, delay);
  };
}
