// CUDA C sources are bundled as text (tsup and vitest load `.cu` files as strings).
declare module '*.cu' {
  const source: string;
  export default source;
}
declare module '*.cuh' {
  const source: string;
  export default source;
}
