// mulberry32: a small seeded generator of numbers in [0, 1), so that tests and benchmarks that
// draw random cases draw the same ones on every run. Plain JavaScript: the bench (.mjs) uses it too.

/** @param {number} seed @returns {() => number} */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
