/**
 * Seeded randomness for the YSB example: the same seed gives the same campaigns and the same
 * events on every machine and Node version (Math.random cannot be seeded).
 */

/** A PRNG (mulberry32) returning uniform numbers in [0, 1) from a 32-bit seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A UUID-shaped id (version 4 layout) drawn from `next`, as YSB's ids are UUIDs. */
export function idFrom(next: () => number): string {
  // At most 6 hex digits per draw: a draw carries 32 random bits.
  const hex = (n: number): string => (n > 6 ? hex(6) + hex(n - 6) : Math.floor(next() * 16 ** n).toString(16).padStart(n, '0'));
  const variant = (8 + Math.floor(next() * 4)).toString(16);
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${variant}${hex(3)}-${hex(12)}`;
}

/** A uniform integer in [0, n). */
export function intBelow(next: () => number, n: number): number {
  return Math.floor(next() * n);
}
