/** A deterministic pseudo-random source, so a failure can be replayed from its seed: n => [0, n). */
export function prng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) >>> 0;
    return s % n;
  };
}
