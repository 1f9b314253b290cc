/** The arrays one after the other, in a new array of `kind`. */
export function concatArrays<T extends Float32Array | Float64Array>(parts: readonly ArrayLike<number>[], kind: { new (length: number): T }): T {
  const out = new kind(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
