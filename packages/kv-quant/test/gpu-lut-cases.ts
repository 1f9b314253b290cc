/**
 * Parity cases of kv-quant's LUT and dense-and-sparse outlier kernels on a GPU backend against the
 * CPU kernels, bit for bit: codes word for word, scale/zero as their f16/f32 bits, outlier indices
 * and values, inliers and dequantized/merged values as f32 bits. Random rows around fixed edge
 * scenarios: values exactly between two levels (in exact arithmetic, and only after float64
 * rounding), magnitude ties, NaN, ±∞, ±0, subnormals, f16 parameter overflow, strided views and
 * f16/bf16 inputs. Used by the WebGPU (SwiftShader) and CUDA-emulator suites and by
 * tooling/gpu/kv-quant-check.ts.
 */
import { type Backend, cpuBackend, type DType, randomNormal, type Rng, type Tensor, tensor, toBackend, transpose } from '@kvkit/tensor-core';
import { relativeError } from '@kvkit/tensor-core/testing';
import { dequantizeLut, KVCalibration, kvquant, type LutQuantAttrs, mergeOutliers, type OutlierAttrs, quantizeLut, splitOutliers } from '../src/index.js';
import { compare, type GpuParityCase } from './gpu-parity-cases.js';
import { layerSpec, positions, randomArray, withOutlierChannels } from './helpers.js';

const cpu = cpuBackend();

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng.uniform() * items.length)];
}

function shuffled(rng: Rng, items: number[]): number[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** `fixed` values, then `fill()` up to `length`, shuffled. */
function row(rng: Rng, length: number, fixed: readonly number[], fill: () => number): number[] {
  const out = [...fixed];
  while (out.length < length) out.push(fill());
  return shuffled(rng, out);
}

/** 2^bits sorted levels in [−1, 1] on a 1/64 grid (so midpoints are exact), −1 and 1 included, one repeated when there is room. */
function dyadicLevels(rng: Rng, bits: number): Float32Array {
  const count = 2 ** bits;
  const inner = Array.from({ length: count - 2 }, () => Math.round((rng.uniform() * 2 - 1) * 64) / 64);
  if (count > 4) inner[1] = inner[0];
  return Float32Array.from([-1, 1, ...inner].sort((a, b) => a - b));
}

/**
 * Values for a table, times `spread`: exactly on midpoints and levels, beyond ±1 ('none'), random
 * in [−1, 1]. For 'minmax' (`extremes`), ±spread instead of values beyond ±1, so most groups have
 * zero 0 and scale `spread` and their midpoints stay exact ties after normalizing.
 */
function nearLevels(rng: Rng, levels: Float32Array, spread: number, extremes = false): () => number {
  return () => {
    const k = Math.floor(rng.uniform() * (levels.length - 1));
    const u = rng.uniform();
    const far = extremes ? pick(rng, [-1, 1]) : (rng.uniform() * 2 - 1) * 1.5;
    const normalized = u < 0.3 ? (levels[k] + levels[k + 1]) / 2 : u < 0.4 ? levels[k] : u < 0.6 ? far : rng.uniform() * 2 - 1;
    return normalized * spread;
  };
}

function on(data: Float32Array, shape: number[], dtype: DType, backend: Backend, view?: (t: Tensor) => Tensor): Tensor {
  const t = tensor(data, shape, { dtype, backend });
  return view ? view(t) : t;
}

async function runLut(gpu: Backend, data: Float32Array, shape: number[], dtype: DType, levels: Float32Array, attrs: LutQuantAttrs, view?: (t: Tensor) => Tensor) {
  const x = on(data, shape, dtype, cpu, view);
  const length = x.shape[x.rank - 1];
  const ref = quantizeLut(x, tensor(levels, [levels.length]), attrs);
  const gpuLevels = tensor(levels, [levels.length], { backend: gpu });
  const got = quantizeLut(on(data, shape, dtype, gpu, view), gpuLevels, attrs);
  return (
    (await compare('codes', got.codes, ref.codes)) ??
    (await compare('scale', got.scale, ref.scale)) ??
    (await compare('zero', got.zero, ref.zero, true)) ??
    compare('dequantized', dequantizeLut(got, gpuLevels, length, attrs), dequantizeLut(ref, tensor(levels, [levels.length]), length, attrs), true)
  );
}

interface LutShape {
  shape: number[];
  groupSize: number;
  dtype: DType;
  perChannel?: boolean;
}

const LUT_SHAPES: LutShape[] = [
  { shape: [3, 37], groupSize: 16, dtype: 'f32' },
  { shape: [2, 3, 40], groupSize: 8, dtype: 'f16' },
  { shape: [2, 24, 13], groupSize: 24, dtype: 'f32', perChannel: true },
  { shape: [5, 19], groupSize: 64, dtype: 'bf16' },
  { shape: [4, 33], groupSize: 11, dtype: 'f32' },
];

function lutRandomCases(): GpuParityCase[] {
  const cases: GpuParityCase[] = [];
  [1, 2, 3, 4, 8].forEach((bits, b) => {
    for (const normalize of ['none', 'minmax'] as const) {
      const c = LUT_SHAPES[(b + (normalize === 'none' ? 0 : 2)) % LUT_SHAPES.length];
      const paramDType = b % 2 === 0 ? 'f16' : 'f32';
      const attrs: LutQuantAttrs = { bits, groupSize: c.groupSize, normalize, paramDType };
      cases.push({
        name: `lut ${bits}-bit ${normalize} ${c.dtype}→${paramDType} [${c.shape}] g${c.groupSize}${c.perChannel ? ' per-channel' : ''}`,
        run(gpu, rng) {
          const levels = dyadicLevels(rng, bits);
          const fill = normalize === 'none' ? nearLevels(rng, levels, 1) : nearLevels(rng, levels, 2.5, true);
          const data = Float32Array.from({ length: c.shape.reduce((a, x) => a * x, 1) }, fill);
          return runLut(gpu, data, c.shape, c.dtype, levels, attrs, c.perChannel ? (t) => transpose(t, [0, 2, 1]) : undefined);
        },
      });
    }
  });
  return cases;
}

/** A 4-bit table whose neighbours 0.25 and 0.75 have the midpoint 0.5 (for the float64 tie rows). */
const EDGE_LEVELS = Float32Array.of(-1, -0.875, -0.75, -0.625, -0.5, -0.375, -0.25, -0.125, 0, 0.125, 0.25, 0.75, 0.8125, 0.875, 0.9375, 1);
const EDGE_ROW = 16;

/** One min–max group per scenario. */
function lutMinmaxEdgeRows(rng: Rng): number[][] {
  const r = (fixed: number[], fill: () => number) => row(rng, EDGE_ROW, fixed, fill);
  const signed = () => (rng.uniform() * 2 - 1) * 4;
  const midpoints = () => {
    const k = Math.floor(rng.uniform() * (EDGE_LEVELS.length - 1));
    return (EDGE_LEVELS[k] + EDGE_LEVELS[k + 1]) / 2;
  };
  return [
    // min −1, max 1: zero 0, scale 1, so each value is its normalized self — exact midpoints tie to the lower level.
    r([-1, 1], midpoints),
    // zero −½, scale 1: x = ±2^−m gives (x + ½) / 1 = ½ ± 2^−m, which float64 rounds to the tie ½ for
    // m ≥ 54 (the CPU then takes 0.25, exact arithmetic would not).
    r([-1.5, 0.5], () => pick(rng, [1, -1]) * 2 ** -pick(rng, [2, 20, 52, 53, 54, 60, 100, 149])),
    r([], () => 1.25), // constant group: scale 0, every value coded as 0's nearest level
    r([-0], () => pick(rng, [0, -0])),
    r([NaN], signed),
    r([Infinity], signed),
    r([-Infinity, Infinity], signed),
    r([], () => -Infinity),
    // f16 parameters overflow: the midpoint (→ ∞, so (x − ∞)/∞ is NaN, code 0) or the spread (scale ∞).
    r([1e5], () => 1e5 + rng.uniform() * 100),
    r([-7e4, 7e4], signed),
    r([3e38, -3.4e38], () => signed() * 1e37),
    // f32 subnormals; spreads whose f16 scale is subnormal or the smallest subnormal.
    r([1e-45, -1e-40], () => signed() * 1e-39),
    r([], () => signed() * 1e-6),
    r([], () => 1 + signed() * 1e-9),
    r([], signed),
  ];
}

/** Already normalized values: levels, exact midpoints, beyond the table, ±0, NaN, ±∞, subnormals. */
function lutNoneEdgeRows(rng: Rng): number[][] {
  const r = (fixed: number[], fill: () => number) => row(rng, EDGE_ROW, fixed, fill);
  const table = nearLevels(rng, EDGE_LEVELS, 1);
  return [
    r([NaN, Infinity, -Infinity, 0, -0, 1e-45, -1e-45, 1.5, -1.5, 0.5], table),
    r([...EDGE_LEVELS.slice(0, 8)], table),
    r([], () => (EDGE_LEVELS[7] + EDGE_LEVELS[8]) / 2 + pick(rng, [0, 2 ** -30, -(2 ** -30)])),
    r([], table),
  ];
}

function lutEdgeCases(): GpuParityCase[] {
  const attrs = (normalize: 'none' | 'minmax', paramDType: 'f16' | 'f32'): LutQuantAttrs => ({ bits: 4, groupSize: EDGE_ROW, normalize, paramDType });
  const cases: GpuParityCase[] = (['f16', 'f32'] as const).map((paramDType) => ({
    name: `lut edges 4-bit minmax f32→${paramDType}: exact and float64-rounded ties, constant, ±0, NaN, ±∞, f16 overflow, subnormals`,
    run: (gpu, rng) => {
      const rows = lutMinmaxEdgeRows(rng);
      return runLut(gpu, Float32Array.from(rows.flat()), [rows.length, EDGE_ROW], 'f32', EDGE_LEVELS, attrs('minmax', paramDType));
    },
  }));
  cases.push({
    name: 'lut edges 4-bit none f32: levels, midpoints, NaN, ±∞, ±0, subnormals, beyond ±1',
    run: (gpu, rng) => {
      const rows = lutNoneEdgeRows(rng);
      return runLut(gpu, Float32Array.from(rows.flat()), [rows.length, EDGE_ROW], 'f32', EDGE_LEVELS, attrs('none', 'f16'));
    },
  });
  cases.push({
    name: 'lut edges 4-bit minmax f16→f16: f16 subnormals, ±65504, ∞, NaN',
    run: (gpu, rng) => {
      const rows = [
        row(rng, EDGE_ROW, [2 ** -24, -(2 ** -20)], () => (rng.uniform() * 2 - 1) * 2 ** -15),
        row(rng, EDGE_ROW, [65504, -65504], () => (rng.uniform() * 2 - 1) * 6e4),
        row(rng, EDGE_ROW, [Infinity, NaN], () => rng.uniform()),
        row(rng, EDGE_ROW, [], () => rng.uniform() * 2 - 1),
      ];
      return runLut(gpu, Float32Array.from(rows.flat()), [rows.length, EDGE_ROW], 'f16', EDGE_LEVELS, attrs('minmax', 'f16'));
    },
  });
  return cases;
}

async function runSplitMerge(
  gpu: Backend,
  select: Float32Array,
  source: Float32Array | undefined,
  shape: number[],
  dtypes: { select: DType; source: DType },
  attrs: OutlierAttrs,
  view?: (t: Tensor) => Tensor
): Promise<string | undefined> {
  const split = (backend: Backend) => {
    const s = on(select, shape, dtypes.select, backend, view);
    return splitOutliers(s, attrs, source ? on(source, shape, dtypes.source, backend, view) : s);
  };
  const ref = split(cpu);
  const got = split(gpu);
  const mismatch =
    (await compare('indices', got.indices, ref.indices)) ?? (await compare('values', got.values, ref.values, true)) ?? (await compare('inliers', got.inliers, ref.inliers, true));
  if (mismatch) return mismatch;
  // Merge the outliers back into the inliers, each backend its own (equal, checked above).
  return compare('merged', mergeOutliers(got.inliers, got.indices, got.values), mergeOutliers(ref.inliers, ref.indices, ref.values), true);
}

/** Values with many equal magnitudes (multiples of ¼ with random signs) and a few large ones. */
function tiedMagnitudes(rng: Rng, count: number): Float32Array {
  return Float32Array.from({ length: count }, () => {
    const u = rng.uniform();
    const sign = rng.uniform() < 0.5 ? -1 : 1;
    return sign * (u < 0.7 ? Math.floor(rng.uniform() * 8) / 4 : u < 0.9 ? rng.uniform() * 3 : 4 + Math.floor(rng.uniform() * 3));
  });
}

function outlierRandomCases(): GpuParityCase[] {
  const shapes: { shape: number[]; count: number; attrs: Omit<OutlierAttrs, 'count'>; select: DType; source?: DType; perChannel?: boolean }[] = [
    { shape: [6, 16], count: 3, attrs: { center: 'zero', valueDType: 'f16', indexDType: 'u8' }, select: 'f32' },
    { shape: [2, 3, 32], count: 4, attrs: { center: 'mean', valueDType: 'f32', indexDType: 'i32' }, select: 'f16', source: 'f32' },
    { shape: [2, 24, 9], count: 5, attrs: { center: 'mean', valueDType: 'f32', indexDType: 'u8' }, select: 'f32', perChannel: true },
    { shape: [4, 20], count: 1, attrs: { center: 'zero', valueDType: 'f16', indexDType: 'i32' }, select: 'bf16', source: 'f16' },
    { shape: [3, 65], count: 64, attrs: { center: 'mean', valueDType: 'f16', indexDType: 'u8' }, select: 'f32' },
  ];
  return shapes.map((c) => ({
    name: `outliers split + merge ${c.count} of ${c.perChannel ? c.shape[1] : c.shape.at(-1)} center ${c.attrs.center}, ${c.select}${c.source ? ` (values from ${c.source})` : ''} → ${c.attrs.valueDType} values, ${c.attrs.indexDType} indices [${c.shape}]${c.perChannel ? ' per-channel view' : ''}`,
    run(gpu, rng) {
      const size = c.shape.reduce((a, x) => a * x, 1);
      return runSplitMerge(
        gpu,
        tiedMagnitudes(rng, size),
        c.source ? Float32Array.from({ length: size }, () => (rng.uniform() * 2 - 1) * 10) : undefined,
        c.shape,
        { select: c.select, source: c.source ?? c.select },
        { ...c.attrs, count: c.count },
        c.perChannel ? (t) => transpose(t, [0, 2, 1]) : undefined
      );
    },
  }));
}

const OUTLIER_ROW = 12;

/** One vector per scenario. */
function outlierEdgeRows(rng: Rng): number[][] {
  const r = (fixed: number[], fill: () => number) => row(rng, OUTLIER_ROW, fixed, fill);
  const signed = () => (rng.uniform() * 2 - 1) * 4;
  return [
    r([NaN, 9, -9], signed), // NaN ranks above every distance
    r([NaN, NaN, NaN, NaN, NaN], signed), // more NaNs than outliers: the lowest indices
    r([Infinity, -Infinity, 5], signed), // ±∞ tie (∞ − ∞ on the CPU's comparator); with center 'mean' the center is NaN
    r([Infinity], signed), // center 'mean' = ∞: |∞ − ∞| is NaN, the ∞ ranks first
    r([], () => 2.5), // all equal: the first indices
    r([], () => pick(rng, [0.5, -0.5, 1, -1])), // magnitude ties at the boundary
    r([-0, 0], () => pick(rng, [0, -0])),
    r([1e-45, -1e-45, 1e-40], () => signed() * 1e-42),
    r([3.4e38, -3.4e38, 3e38], () => signed() * 1e38),
    // |2^−60 − mean| and |0 − mean| are equal only after float64 rounding: a tie the index breaks.
    r([1, 1, 1, 0, 0], () => pick(rng, [1, 0, 2 ** -60, 1 + 2 ** -23])),
    r([], signed),
  ];
}

function outlierEdgeCases(): GpuParityCase[] {
  const cases: GpuParityCase[] = [];
  for (const center of ['zero', 'mean'] as const) {
    for (const [valueDType, indexDType] of [['f16', 'u8'], ['f32', 'i32']] as const) {
      cases.push({
        name: `outliers edges center ${center}, ${valueDType} values, ${indexDType} indices: NaN, ±∞, ties, ±0, subnormals, f32 max`,
        run(gpu, rng) {
          const rows = outlierEdgeRows(rng);
          const data = Float32Array.from(rows.flat());
          return runSplitMerge(gpu, data, undefined, [rows.length, OUTLIER_ROW], { select: 'f32', source: 'f32' }, { count: 3, center, valueDType, indexDType });
        },
      });
    }
  }
  // Merge alone: repeated indices (the last wins), indices outside the row (skipped), f16 dense and values with specials.
  for (const indexDType of ['u8', 'i32'] as const) {
    cases.push({
      name: `outliers merge ${indexDType} indices: repeats (last wins), out of range (skipped), f16 dense and values with NaN, ±∞`,
      async run(gpu, rng) {
        const rows = 5;
        const d = 10;
        const count = 4;
        const dense = Float32Array.from({ length: rows * d }, () => (rng.uniform() * 2 - 1) * 3);
        const outside = indexDType === 'u8' ? [d, 255] : [-1, d, 1000];
        const indices = Float32Array.from({ length: rows * count }, () =>
          rng.uniform() < 0.25 ? pick(rng, outside) : Math.floor(rng.uniform() * 4) // a small range: repeats within a row
        );
        const values = Float32Array.from({ length: rows * count }, () => (rng.uniform() < 0.2 ? pick(rng, [NaN, Infinity, -Infinity]) : rng.uniform() * 100));
        const merge = (backend: Backend) =>
          mergeOutliers(
            tensor(dense, [rows, d], { dtype: 'f16', backend }),
            tensor(indices, [rows, count], { dtype: indexDType, backend }),
            tensor(values, [rows, count], { dtype: 'f16', backend })
          );
        return compare('merged', merge(gpu), merge(cpu), true);
      },
    });
  }
  return cases;
}

export function gpuLutCases(): GpuParityCase[] {
  return [...lutRandomCases(), ...lutEdgeCases(), ...outlierRandomCases(), ...outlierEdgeCases()];
}

/**
 * A KVQuant layer (per-channel normalized pre-RoPE keys, LUT codes, dense-and-sparse outliers) with
 * its tensors on `gpu` next to one on the CPU, fed the same prefill and decode steps: the relative
 * error of the GPU layer's attention against the CPU layer's.
 */
export async function kvquantLayerError(gpu: Backend, rng: Rng): Promise<number> {
  const [kvHeads, headDim, qHeads, n] = [2, 16, 4, 64];
  const spec = (backend?: Backend) => layerSpec({ headDim, kvHeads, qHeads, backend });
  const calibration = KVCalibration.fromSamples({
    kvHeads,
    headDim,
    qHeads,
    rope: spec().rope,
    layers: [{ keys: withOutlierChannels(rng, kvHeads, n, headDim, [4], 12), values: randomArray(rng, kvHeads * n * headDim), positions: positions(0, n) }],
  });
  const method = kvquant({ calibration, bits: 3, outliers: 0.1 });
  const layers = [method(spec()), method(spec(gpu))];
  let start = 0;
  for (const count of [20, 1, 1]) {
    const k = randomNormal([kvHeads, count, headDim], rng, { backend: cpu });
    const v = randomNormal([kvHeads, count, headDim], rng, { backend: cpu });
    const step = { positions: positions(start, count), phase: start === 0 ? ('prefill' as const) : ('decode' as const) };
    layers[0].append(k, v, step);
    layers[1].append(await toBackend(k, gpu), await toBackend(v, gpu), step);
    start += count;
  }
  const q = randomNormal([qHeads, 2, headDim], rng, { backend: cpu });
  const at = { positions: positions(start - 2, 2) };
  const ref = await layers[0].attend(q, at).output.read();
  const got = await layers[1].attend(await toBackend(q, gpu), at).output.read();
  return relativeError(got as Float32Array, ref as Float32Array);
}
