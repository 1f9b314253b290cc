// WebAssembly text sources are imported as their compiled bytes (tsup and vitest use @kvkit/wat).
declare module '*.wat' {
  const bytes: Uint8Array;
  export default bytes;
}
