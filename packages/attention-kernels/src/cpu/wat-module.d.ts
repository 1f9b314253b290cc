// WebAssembly text sources are imported as their compiled bytes (tsup and vitest use @kvkit/wat):
// the plain module, and `fused`, the variant keeping its relaxed multiply-adds (null without any).
declare module '*.wat' {
  const bytes: Uint8Array;
  export default bytes;
  export const fused: Uint8Array | null;
}
