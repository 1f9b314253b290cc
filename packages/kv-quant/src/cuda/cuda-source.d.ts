// CUDA C sources and headers are bundled as text (tsup loaders `.cu`/`.cuh` → text; the vitest config loads them the same way).
declare module '*.cu' {
  const source: string;
  export default source;
}

declare module '*.cuh' {
  const source: string;
  export default source;
}
