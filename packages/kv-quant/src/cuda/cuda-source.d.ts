// CUDA C sources are bundled as text (tsup loader `.cu` → text; the vitest config loads them the same way).
declare module '*.cu' {
  const source: string;
  export default source;
}
