// CUDA C sources are bundled as text (tsup loader `.cu`/`.cuh` → text).
declare module '*.cu' {
  const source: string;
  export default source;
}
declare module '*.cuh' {
  const source: string;
  export default source;
}
