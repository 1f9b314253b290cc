import { CorruptModelFileError, InvalidConfigError, parseSafetensors, readSafetensorsData, type SafetensorsInput, serializeSafetensors } from '@kvkit/tensor-core';
import { type GroupBasis, KEY_SOURCES, type KeyBasisSource, type ProjectionSet, VALUE_SOURCES, type ValueBasisSource, validateProjectionSet } from '../fit/projection-set.js';
import { type RankAllocation, validateAllocation } from '../rank/allocation.js';

/** The JSON sidecar of a projections file: what the tensors are, and an optional rank allocation. */
export interface ProjectionSidecar {
  format: 'kvkit-kv-projections';
  version: 1;
  numLayers: number;
  kvHeads: number;
  headDim: number;
  keyInput: 'post-rope' | 'pre-rope';
  key: { source: KeyBasisSource; groupSize: number };
  value: { source: ValueBasisSource; groupSize: number };
  /** Dtype the bases were written in. */
  basisDtype: 'F32' | 'F64';
  /** Ranks chosen for this model (a rank search result), if saved with the bases. */
  ranks?: RankAllocation;
  /** Free-form provenance (model name, calibration text, tokens …). */
  metadata?: Record<string, unknown>;
}

export interface EncodeProjectionOptions {
  /** 'F32' (default: what cache layers upload) or 'F64' (bit-exact float64 round trip). */
  basisDtype?: 'F32' | 'F64';
  ranks?: RankAllocation;
  metadata?: Record<string, unknown>;
}

export interface EncodedProjections {
  safetensors: Uint8Array;
  sidecar: ProjectionSidecar;
}

const name = (part: string, layer: number, group: number, what: string) => `${part}.${layer}.${group}.${what}`;

/**
 * Serializes fitted projections: bases, spectra and total energies as safetensors tensors named
 * `{key|value}.{layer}.{group}.{basis|spectrum|total}`, everything else in the JSON sidecar.
 */
export function encodeProjections(set: ProjectionSet, options: EncodeProjectionOptions = {}): EncodedProjections {
  validateProjectionSet(set, 'encodeProjections');
  const basisDtype = options.basisDtype ?? 'F32';
  if (basisDtype !== 'F32' && basisDtype !== 'F64') throw new InvalidConfigError(`encodeProjections: basisDtype must be F32 or F64, got ${String(basisDtype)}`);
  if (options.ranks) validateAllocation(set, options.ranks, 'encodeProjections');
  const tensors: Record<string, SafetensorsInput> = {};
  for (const part of ['key', 'value'] as const) {
    set[part].layers.forEach((groups, l) =>
      groups.forEach((g, j) => {
        const shape = [g.basis.rows, g.basis.cols];
        tensors[name(part, l, j, 'basis')] =
          basisDtype === 'F32' ? { dtype: 'F32', shape, data: Float32Array.from(g.basis.data) } : { dtype: 'F64', shape, data: Float64Array.from(g.basis.data) };
        tensors[name(part, l, j, 'spectrum')] = { dtype: 'F64', shape: [g.spectrum.length], data: Float64Array.from(g.spectrum) };
        tensors[name(part, l, j, 'total')] = { dtype: 'F64', shape: [1], data: Float64Array.of(g.totalEnergy) };
      }),
    );
  }
  const sidecar: ProjectionSidecar = {
    format: 'kvkit-kv-projections',
    version: 1,
    numLayers: set.numLayers,
    kvHeads: set.kvHeads,
    headDim: set.headDim,
    keyInput: set.keyInput,
    key: { source: set.key.source, groupSize: set.key.groupSize },
    value: { source: set.value.source, groupSize: set.value.groupSize },
    basisDtype,
    ...(options.ranks ? { ranks: options.ranks } : {}),
    ...(options.metadata ? { metadata: options.metadata } : {}),
  };
  return { safetensors: serializeSafetensors(tensors, { format: 'kvkit-kv-projections' }), sidecar };
}

/** Rebuilds projections (and saved ranks) from `encodeProjections` output; inconsistencies throw CorruptModelFileError. */
export function decodeProjections(bytes: Uint8Array, sidecar: unknown, file = 'projections'): { projections: ProjectionSet; ranks?: RankAllocation; metadata?: Record<string, unknown> } {
  const meta = sidecar as Partial<ProjectionSidecar>;
  if (!meta || meta.format !== 'kvkit-kv-projections' || meta.version !== 1) throw new CorruptModelFileError(file, 'the sidecar is not a kvkit-kv-projections version 1 document');
  if (!KEY_SOURCES.includes(meta.key?.source as KeyBasisSource) || !VALUE_SOURCES.includes(meta.value?.source as ValueBasisSource)) {
    throw new CorruptModelFileError(file, `unknown basis sources ${JSON.stringify([meta.key?.source, meta.value?.source])}`);
  }
  const numLayers = meta.numLayers as number;
  const kvHeads = meta.kvHeads as number;
  const tensors = readTensors(bytes, file);
  const read = (part: 'key' | 'value'): GroupBasis[][] => {
    const groupSize = (meta[part] as { groupSize: number }).groupSize;
    const groups = Number.isInteger(groupSize) && groupSize > 0 ? kvHeads / groupSize : NaN;
    if (!Number.isInteger(numLayers) || numLayers <= 0 || !Number.isInteger(groups) || groups <= 0) {
      throw new CorruptModelFileError(file, `bad shape in the sidecar: ${numLayers} layers, kvHeads ${kvHeads}, ${part} groupSize ${groupSize}`);
    }
    return Array.from({ length: numLayers }, (_, l) =>
      Array.from({ length: groups }, (_, j) => {
        const basis = tensors[name(part, l, j, 'basis')];
        const spectrum = tensors[name(part, l, j, 'spectrum')];
        const total = tensors[name(part, l, j, 'total')];
        if (!basis || !spectrum || !total || basis.shape.length !== 2 || total.data.length !== 1) {
          throw new CorruptModelFileError(file, `missing or malformed tensors for ${part} layer ${l} group ${j}`);
        }
        if (basis.dtype !== meta.basisDtype || spectrum.dtype !== 'F64' || total.dtype !== 'F64') {
          throw new CorruptModelFileError(file, `${part} layer ${l} group ${j}: unexpected dtypes ${basis.dtype}/${spectrum.dtype}/${total.dtype}`);
        }
        return {
          basis: { rows: basis.shape[0], cols: basis.shape[1], data: Float64Array.from(basis.data) },
          spectrum: Float64Array.from(spectrum.data),
          totalEnergy: total.data[0],
        };
      }),
    );
  };
  const projections: ProjectionSet = {
    numLayers,
    kvHeads,
    headDim: meta.headDim as number,
    keyInput: meta.keyInput as ProjectionSet['keyInput'],
    key: { source: (meta.key as { source: KeyBasisSource }).source, groupSize: (meta.key as { groupSize: number }).groupSize, layers: read('key') },
    value: { source: (meta.value as { source: ValueBasisSource }).source, groupSize: (meta.value as { groupSize: number }).groupSize, layers: read('value') },
  };
  try {
    validateProjectionSet(projections, file);
    if (meta.ranks) validateAllocation(projections, meta.ranks, file);
  } catch (error) {
    throw new CorruptModelFileError(file, (error as Error).message);
  }
  return { projections, ranks: meta.ranks, metadata: meta.metadata };
}

/**
 * Node's file API, reached through process.getBuiltinModule rather than an import, which a browser
 * bundler would have to resolve (and fail on) although browsers use encode/decodeProjections instead.
 */
function nodeFiles(where: string): typeof import('node:fs/promises') {
  const node = (globalThis as { process?: Partial<Pick<NodeJS.Process, 'getBuiltinModule'>> }).process;
  if (typeof node?.getBuiltinModule !== 'function') {
    throw new InvalidConfigError(`${where} reads and writes files with Node (≥ 20.16); elsewhere use encodeProjections / decodeProjections`);
  }
  return node.getBuiltinModule('node:fs/promises');
}

/** Writes `<prefix>.safetensors` and `<prefix>.json` (Node). */
export async function saveProjections(prefix: string, set: ProjectionSet, options: EncodeProjectionOptions = {}): Promise<{ tensors: string; sidecar: string }> {
  const { writeFile } = nodeFiles('saveProjections');
  const { safetensors, sidecar } = encodeProjections(set, options);
  const paths = { tensors: `${prefix}.safetensors`, sidecar: `${prefix}.json` };
  await writeFile(paths.tensors, safetensors);
  await writeFile(paths.sidecar, `${JSON.stringify(sidecar, null, 2)}\n`);
  return paths;
}

/** Reads what `saveProjections` wrote (Node). */
export async function loadProjections(prefix: string): Promise<{ projections: ProjectionSet; ranks?: RankAllocation; metadata?: Record<string, unknown> }> {
  const { readFile } = nodeFiles('loadProjections');
  const sidecarPath = `${prefix}.json`;
  let sidecar: unknown;
  try {
    sidecar = JSON.parse(await readFile(sidecarPath, 'utf8'));
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') throw error;
    throw new CorruptModelFileError(sidecarPath, `not valid JSON (${(error as Error).message})`);
  }
  const bytes = await readFile(`${prefix}.safetensors`);
  return decodeProjections(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), sidecar, `${prefix}.safetensors`);
}

/**
 * The F32/F64 tensors of a safetensors file by name (the format's checks are tensor-core's); tensors
 * of other dtypes are not part of a projection file and are left out, so asking for them reports
 * the file as malformed.
 */
function readTensors(bytes: Uint8Array, file: string): Record<string, { dtype: string; shape: number[]; data: Float32Array | Float64Array }> {
  const parsed = parseSafetensors(bytes, file);
  const out: Record<string, { dtype: string; shape: number[]; data: Float32Array | Float64Array }> = {};
  for (const [tensorName, entry] of parsed.tensors) {
    if (entry.dtype !== 'F32' && entry.dtype !== 'F64') continue;
    out[tensorName] = { dtype: entry.dtype, shape: entry.shape, data: readSafetensorsData(parsed, entry) as Float32Array | Float64Array };
  }
  return out;
}
