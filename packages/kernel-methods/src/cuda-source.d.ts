// CUDA C sources and headers are bundled as text (tsup and vitest load `.cu` and `.cuh` files as strings).
declare module '*.cu' {
  const source: string;
  export default source;
}

declare module '*.cuh' {
  const source: string;
  export default source;
}
