import {
  type Backend,
  bytesPerElement,
  CorruptModelFileError,
  decodeSafetensorsFloat32,
  f32ArrayToF16,
  parseSafetensors,
  parseSafetensorsHeader,
  reshape,
  type SafetensorsEntry,
  type SafetensorsHeader,
  safetensorsHeaderLength,
  sizeOf,
  type Tensor,
  tensor,
  tensorFromHost,
  WeightPool,
} from '@kvkit/tensor-core';
import type { LlamaConfig } from './config.js';
import type { LoadProgress } from './load-model.js';
import { type ModelFiles, requireFile } from './model-source.js';
import { type ExpectedTensor, expectedTensors, type RowRange, rowsOf, type WeightTarget } from './checkpoint-tensors.js';
import { StackFiller } from './matrix-stacks.js';
import { type Fp8Scales, fp8ScalesShape, mxfp4ScalesShape, runtimeLayout, storedShape } from './stored-layouts.js';
import { parseShardIndex, SHARD_INDEX_FILE } from './safetensors-index.js';
import type { XieluParameters } from './xielu.js';

/** A linear layer in HF layout: weight [out, in], optional bias [out]. */
export interface LinearWeights {
  weight: Tensor;
  bias?: Tensor;
}

export interface LayerWeights {
  /** The norm before attention (absent where the norms sit on the blocks' outputs only: OLMo 2). */
  inputNorm?: Tensor;
  /** LayerNorm's biases (GPT-NeoX: `config.normKind` 'layer'). */
  inputNormBias?: Tensor;
  postAttentionNormBias?: Tensor;
  /** The attention's projections (absent on a short-convolution layer: `conv`). */
  q?: LinearWeights;
  k?: LinearWeights;
  v?: LinearWeights;
  o?: LinearWeights;
  /** LFM2's gated short convolution in place of attention (`config.shortConv`). */
  conv?: ShortConvWeights;
  /** Granite 4.0-H's and Nemotron-H's Mamba-2 mixer in place of attention (`config.mamba`). */
  mamba?: MambaWeights;
  /** Jamba's Mamba-1 mixer in place of attention (`config.mamba1`). */
  mamba1?: Mamba1Weights;
  /** Qwen3.5's and Qwen3-Next's Gated DeltaNet in place of attention (`config.deltaNet`). */
  deltaNet?: DeltaNetWeights;
  /** DeepSeek's multi-head latent attention in place of q/k/v (`config.latentAttention`; o_proj stays `o`). */
  latent?: LatentAttentionWeights;
  /** Qwen3.5's and Qwen3-Next's output gate: the rows of q_proj that give each head's gate beside its query (`config.attentionOutputGate`). */
  qGate?: LinearWeights;
  /** gpt-oss's attention sinks [heads]: each query head's learned logit in every row's softmax (`config.attentionSinks`). */
  sinks?: Tensor;
  /** RMSNorm weights of queries and keys (`config.qkNorm`): [headDim] per head (Qwen3, Gemma 3) or [heads · headDim] (OLMo 2). */
  qNorm?: Tensor;
  kNorm?: Tensor;
  /** Norms on the attention's and the MLP's outputs (`config.blockNorms` 'sandwich': Gemma; 'post': OLMo 2). */
  attentionOutputNorm?: Tensor;
  mlpOutputNorm?: Tensor;
  /** The norm before the MLP (HF's post_attention_layernorm; Gemma's pre_feedforward_layernorm; absent in OLMo 2). */
  postAttentionNorm?: Tensor;
  /** Apertus's xIELU parameters for the dense MLP's activation (host numbers, `config.mlpActivation` 'xielu'). */
  xielu?: XieluParameters;
  /** The dense MLP's (`MlpWeights`; absent on a layer that routes through experts: `moe`). */
  gate?: LinearWeights;
  up?: LinearWeights;
  down?: LinearWeights;
  /** The mixture of experts of a layer that routes (`config.moe`). */
  moe?: MoeWeights;
}

/** A layer that attends: its four projections are there. */
export type AttentionLayerWeights = LayerWeights & Required<Pick<LayerWeights, 'q' | 'k' | 'v' | 'o'>>;

/** Whether the layer attends (else it convolves, `conv`, runs a Mamba mixer, `mamba` or `mamba1`, or Gated DeltaNet, `deltaNet`, or is an MLP alone: Nemotron-H's). */
export const attends = (w: LayerWeights): w is AttentionLayerWeights => w.q !== undefined;

/**
 * DeepSeek's MLA projections: the queries (q_proj, or q_b_proj after q_a_proj and its RMSNorm
 * q_a_layernorm), kv_a_proj_with_mqa [rank + ropeDim, hidden] (the latent, then the shared rotated
 * key) with the latent's RMSNorm kv_a_layernorm, and kv_b_proj's rows split by head at load: each
 * head's key rows [heads · nopeDim, rank] and value rows [heads · valueDim, rank], which the
 * queries and the attention's output are multiplied by instead of expanding every cached latent.
 */
export interface LatentAttentionWeights {
  queryDown?: LinearWeights;
  queryDownNorm?: Tensor;
  query: LinearWeights;
  keyValueDown: LinearWeights;
  latentNorm: Tensor;
  keyUp: LinearWeights;
  valueUp: LinearWeights;
}

/**
 * Jamba's Mamba-1 mixer: in_proj [2 · d_inner, hidden] (x, then z), the depthwise kernel as stored
 * [d_inner, 1, taps] with its bias, x_proj [dtRank + 2 · dState, d_inner] (the step's inputs, B, C),
 * their RMSNorms' weights (dt_layernorm [dtRank], b_layernorm and c_layernorm [dState]), dt_proj
 * [d_inner, dtRank] with its bias, A_log [d_inner, dState], D [d_inner], out_proj.
 */
export interface Mamba1Weights {
  inProj: LinearWeights;
  kernel: Tensor;
  kernelBias?: Tensor;
  xProj: LinearWeights;
  dtNorm: Tensor;
  bNorm: Tensor;
  cNorm: Tensor;
  dtProj: LinearWeights;
  aLog: Tensor;
  d: Tensor;
  outProj: LinearWeights;
}

/**
 * Bamba's Mamba-2 mixer: in_proj [d_inner + convDim + heads, hidden] (z, then x/B/C, then dt), the
 * depthwise kernel as stored [convDim, 1, taps] with its bias, dt_bias, A_log and D [heads], the
 * gated norm's weight [d_inner], out_proj.
 */
export interface MambaWeights {
  inProj: LinearWeights;
  kernel: Tensor;
  kernelBias?: Tensor;
  dtBias: Tensor;
  aLog: Tensor;
  d: Tensor;
  /** The gated norm's weight [d_inner] (absent where the mixer has no norm: Falcon-H1 without mamba_rms_norm). */
  norm?: Tensor;
  outProj: LinearWeights;
}

/**
 * Gated DeltaNet: in_proj_qkv [2 · keyHeads · dk + valueHeads · dv, hidden], in_proj_z
 * [valueHeads · dv, hidden], in_proj_b and in_proj_a [valueHeads, hidden] (as Qwen3.5 stores them;
 * Qwen3-Next's fused in_proj_qkvz and in_proj_ba are split into these at load), the depthwise kernel
 * as stored [convDim, 1, taps], dt_bias and A_log [valueHeads], the gated norm's weight [dv], out_proj.
 */
export interface DeltaNetWeights {
  qkv: LinearWeights;
  z: LinearWeights;
  b: LinearWeights;
  a: LinearWeights;
  kernel: Tensor;
  dtBias: Tensor;
  aLog: Tensor;
  norm: Tensor;
  outProj: LinearWeights;
}

/** LFM2's short convolution: in_proj [3 · hidden, hidden] (B, C, x), the depthwise kernel as stored [hidden, 1, taps] with its bias, out_proj. */
export interface ShortConvWeights {
  inProj: LinearWeights;
  kernel: Tensor;
  kernelBias?: Tensor;
  outProj: LinearWeights;
}

/** A dense MLP: down(act(gate(x)) · up(x)), or down(act(up(x))) without a gate (GPT-NeoX's, `config.gatedMlp` false). */
export interface MlpWeights {
  gate?: LinearWeights;
  up: LinearWeights;
  down: LinearWeights;
}

/** A mixture-of-experts MLP (`config.moe`), its experts' matrices stacked for `indexedMatmul`. */
export interface MoeWeights {
  /** [experts, hidden]: the router's logits. */
  router: LinearWeights;
  /** [experts, 2 · expertSize, hidden]: each gated expert's gate rows, then its up rows (`MoeConfig.gatedExperts`). */
  gateUp?: Tensor;
  /** [experts, expertSize, hidden]: each ungated expert's up rows (Nemotron-H's). */
  up?: Tensor;
  /** [experts, hidden, expertSize]. */
  down: Tensor;
  /** gpt-oss: each expert's gate/up bias [experts, 2 · expertSize] (gate's, then up's, as `gateUp` stacks them) and down bias [experts, hidden]. */
  gateUpBias?: Tensor;
  downBias?: Tensor;
  /** LFM2-MoE's expert_bias, Nemotron-H's e_score_correction_bias [experts]: added to the router's scores to choose the experts, not to weigh them. */
  selectionBias?: Tensor;
  /** A shared expert (Qwen2-MoE's, Granite's shared_mlp) and Qwen2-MoE's gate on it ([1, hidden]: sigmoid of it scales the shared expert's output). */
  shared?: MlpWeights;
  sharedGate?: LinearWeights;
}

export interface LlamaWeights {
  /** [vocab, hidden]. */
  embed: Tensor;
  layers: LayerWeights[];
  finalNorm: Tensor;
  /** The final LayerNorm's bias (GPT-NeoX). */
  finalNormBias?: Tensor;
  /** [vocab, hidden]; the embedding itself when the embeddings are tied. */
  lmHead: Tensor;
  /** GPT-2's learned position embeddings [maxPositions, hidden] (`config.learnedPositions`). */
  positionEmbed?: Tensor;
  /** Phi's LM head bias [vocab]. */
  lmHeadBias?: Tensor;
  /** Bytes the weights occupy on the backend. */
  bytes: number;
  /** The CPU's WeightPool holding the matrices (released with the model: its threads let go of its memory). */
  pool?: WeightPool;
}

export const SINGLE_FILE = 'model.safetensors';

/**
 * Loads the weights of a single-file or sharded safetensors checkpoint onto `backend` in `dtype`.
 * For f32 compute, f16 and bf16 checkpoints are widened to f32 at load, except the matrices on the
 * CPU with `halfWeights` (see `cpuWeightPool`). Every tensor the config implies must be present
 * with the implied shape; a mismatch names the file and the tensor. One shard is held in memory at
 * a time. On failure, tensors already uploaded are released.
 */
export async function loadWeights(
  files: ModelFiles,
  config: LlamaConfig,
  backend: Backend,
  dtype: 'f32' | 'f16',
  halfWeights = false,
  onProgress?: (progress: LoadProgress) => void,
): Promise<LlamaWeights> {
  const target: WeightTarget = { layers: [] };
  const loaded: Tensor[] = [];
  // Sized at the first shard's header, whose matrices say whether the checkpoint is half precision.
  let pool: WeightPool | null | undefined;
  const stacks = new StackFiller();
  // The names the checkpoint holds (the index's, or the single file's header), so that the expected
  // tensors follow the layout it was saved in (a mixture's experts one by one, or fused as transformers 5 saves them).
  const indexBytes = await files.read(SHARD_INDEX_FILE);
  const index = indexBytes ? parseShardIndex(indexBytes) : undefined;
  let single = index ? undefined : await openShard(files, SINGLE_FILE);
  try {
    const names = index ? index.weightMap : single!.header.tensors;
    const implied = expectedTensors(config, target, (name) => names.has(storedName(name, (n) => names.has(n))));
    // Norm weights of ones (OLMo 1's parameterless LayerNorms): one tensor per size, none read.
    const ones = new Map<number, Tensor>();
    for (const item of implied.filter((e) => e.ones)) {
      const size = sizeOf(item.shape);
      if (!ones.has(size)) {
        const t = floatTensor(new Float32Array(size).fill(1), item.shape, dtype, backend);
        ones.set(size, t);
        loaded.push(t);
      }
      for (const part of item.parts) if ('assign' in part) part.assign(ones.get(size)!);
    }
    const expected = implied.filter((e) => !e.ones);
    const totalParameters = expected.reduce((sum, e) => sum + sizeOf(e.shape), 0);
    let loadedParameters = 0;
    const plan = index ? shardPlan(index, expected) : new Map([[SINGLE_FILE, expected]]);
    for (const [shardName, wanted] of plan) {
      const shard = single ?? (await openShard(files, shardName));
      single = undefined;
      try {
        pool ??= cpuWeightPool(backend, dtype, expected, halfWeights && storesHalfMatrices(shard.header, wanted));
        for (const item of wanted) {
          const entry = entryOf(shard.header, item.name);
          if (!entry) {
            throw new CorruptModelFileError(shardName, `tensor "${item.name}" is missing (config.json implies shape [${item.shape.join(', ')}])`, {
              tensor: item.name,
            });
          }
          assertShape(shardName, entry, storedShape(item));
          const scales = item.mxfp4Scales === undefined ? undefined : await readMxfp4Scales(files, index, shard, shardName, item);
          const fp8 = entry.dtype === 'F8_E4M3' ? await readFp8Scales(files, index, shard, shardName, item, config) : undefined;
          const { bytes, entry: laidOut } = runtimeLayout(item, entry, await shard.read(entry), scales, shardName, fp8);
          if (item.host) {
            // A few numbers the runtime keeps on the host (Apertus's xIELU parameters): no tensor.
            item.host(decodeSafetensorsFloat32(bytes, laidOut, shardName));
            loadedParameters += sizeOf(item.shape);
            continue;
          }
          const load = (data: Uint8Array, shape: number[], from: SafetensorsEntry) =>
            (pool && shape.length === 2 && pooledTensor(pool, data, from, shape, halfWeights, shardName, backend)) ||
            floatTensor(withOffset(decodeSafetensorsFloat32(data, from, shardName), item.offset), shape, dtype, backend);
          // Each part (a fused matrix's rows for one layer) loaded as a tensor of its own, pooled like any
          // other; an expert's matrix goes into its stack, loaded as one matrix once complete.
          const rowBytes = bytes.length / item.shape[0];
          for (const part of item.parts) {
            const data = rowsFrom(bytes, rowBytes, part.ranges);
            if ('stack' in part) {
              // A stored stack (Granite's [experts, rows, cols]) counts its matrices' rows.
              const whole = stacks.place(part.stack, part.row, rowsOf(part) * sizeOf(item.shape.slice(1, -1)), data, laidOut, shardName);
              if (!whole) continue;
              const matrix = load(whole.bytes, whole.entry.shape, whole.entry);
              const t = reshape(matrix, part.stack.shape);
              matrix.dispose();
              loaded.push(t);
              part.stack.assign(t);
              continue;
            }
            const t = load(data, [rowsOf(part), ...item.shape.slice(1)], laidOut);
            loaded.push(t);
            part.assign(t);
          }
          loadedParameters += sizeOf(item.shape);
          onProgress?.({ loadedParameters, totalParameters, tensor: item.name });
        }
      } finally {
        await shard.close();
      }
    }
  } catch (error) {
    for (const t of loaded) t.dispose();
    throw error;
  } finally {
    await single?.close();
  }
  if (config.tieWordEmbeddings) target.lmHead = target.embed;
  const bytes = loaded.reduce((sum, t) => sum + t.size * bytesPerElement(t.dtype), 0);
  return { ...(target as LlamaWeights), bytes, ...(pool ? { pool } : {}) };
}

/**
 * A tensor stored beside `item` (its quantization scales): from the shard being read, or from the
 * shard the index places it in; `check` refuses a missing or malformed one, naming the file.
 */
async function readCompanion(
  files: ModelFiles,
  index: ReturnType<typeof parseShardIndex> | undefined,
  shard: ShardReader,
  shardName: string,
  name: string,
  check: (fileName: string, entry: SafetensorsEntry | undefined) => SafetensorsEntry,
): Promise<{ bytes: Uint8Array; entry: SafetensorsEntry; fileName: string }> {
  const here = entryOf(shard.header, name);
  const other = here || !index ? undefined : index.weightMap.get(storedName(name, (n) => index.weightMap.has(n)));
  if (!other) {
    const entry = check(shardName, here);
    return { bytes: await shard.read(entry), entry, fileName: shardName };
  }
  const reader = await openShard(files, other);
  try {
    const entry = check(other, entryOf(reader.header, name));
    return { bytes: await reader.read(entry), entry, fileName: other };
  } finally {
    await reader.close();
  }
}

/** The scales of an MXFP4 tensor (`ExpectedTensor.mxfp4Scales`), U8 with one per block. */
async function readMxfp4Scales(files: ModelFiles, index: ReturnType<typeof parseShardIndex> | undefined, shard: ShardReader, shardName: string, item: ExpectedTensor): Promise<Uint8Array> {
  const name = item.mxfp4Scales!;
  const { bytes } = await readCompanion(files, index, shard, shardName, name, (fileName, entry) => {
    if (!entry) throw new CorruptModelFileError(fileName, `tensor "${name}" is missing (the scales of ${item.name})`, { tensor: name });
    assertShape(fileName, entry, mxfp4ScalesShape(item));
    if (entry.dtype !== 'U8') throw new CorruptModelFileError(fileName, `tensor "${name}" must be U8 MXFP4 scales, got ${entry.dtype}`, { tensor: name });
    return entry;
  });
  return bytes;
}

/**
 * A block-FP8 tensor's `weight_scale_inv` (f32 or bf16, one per block of the config's
 * `weight_block_size`) as f32, with the block size; an F8_E4M3 tensor in a checkpoint whose config
 * names no FP8 quantization is refused.
 */
async function readFp8Scales(
  files: ModelFiles,
  index: ReturnType<typeof parseShardIndex> | undefined,
  shard: ShardReader,
  shardName: string,
  item: ExpectedTensor,
  config: LlamaConfig,
): Promise<Fp8Scales> {
  const blocks = config.fp8WeightBlocks;
  if (!blocks) throw new CorruptModelFileError(shardName, `tensor "${item.name}" is F8_E4M3, but config.json has no FP8 quantization_config (quant_method fp8, weight_block_size)`, { tensor: item.name });
  const name = `${item.name}_scale_inv`;
  const { bytes, entry, fileName } = await readCompanion(files, index, shard, shardName, name, (file, found) => {
    if (!found) throw new CorruptModelFileError(file, `tensor "${name}" is missing (the FP8 scales of ${item.name})`, { tensor: name });
    assertShape(file, found, fp8ScalesShape(item, blocks));
    return found;
  });
  return { scales: decodeSafetensorsFloat32(bytes, entry, fileName), blocks };
}

/** The bytes of rows `ranges` of a tensor's `bytes`, in that order (one range: a view, no copy). */
function rowsFrom(bytes: Uint8Array, rowBytes: number, ranges: readonly RowRange[]): Uint8Array {
  if (ranges.length === 1) return bytes.subarray(ranges[0][0] * rowBytes, (ranges[0][0] + ranges[0][1]) * rowBytes);
  const out = new Uint8Array(ranges.reduce((sum, [, count]) => sum + count * rowBytes, 0));
  let at = 0;
  for (const [start, count] of ranges) {
    out.set(bytes.subarray(start * rowBytes, (start + count) * rowBytes), at);
    at += count * rowBytes;
  }
  return out;
}

/** `values` + `offset` in f32, in place (no offset: as they are). */
function withOffset(values: Float32Array, offset = 0): Float32Array {
  if (offset !== 0) for (let i = 0; i < values.length; i++) values[i] += offset;
  return values;
}

function floatTensor(values: Float32Array, shape: number[], dtype: 'f32' | 'f16', backend: Backend): Tensor {
  return dtype === 'f16' ? tensor(f32ArrayToF16(values), shape, { dtype: 'f16', backend }) : tensor(values, shape, { dtype: 'f32', backend });
}

const HALF_DTYPES = { F16: 'f16', BF16: 'bf16' } as const;

/** The tensor dtype a safetensors dtype keeps as stored with `halfWeights`; undefined for the others. */
const halfDTypeOf = (stored: string | undefined) => HALF_DTYPES[stored as keyof typeof HALF_DTYPES];

/** Whether the first matrix of `wanted` in this shard is stored in f16 or bf16 (a checkpoint keeps its matrices in one dtype). */
function storesHalfMatrices(header: SafetensorsHeader, wanted: ExpectedTensor[]): boolean {
  const first = wanted.find((item) => item.shape.length === 2);
  return first !== undefined && halfDTypeOf(entryOf(header, first.name)?.dtype) !== undefined;
}

/**
 * On the CPU in f32, one WeightPool (tensor-core) for the matrices: the SIMD products read a
 * pooled weight in place instead of copying it in on every call (a decode step multiplies by every
 * weight once). With `half` (an f16 or bf16 checkpoint and `halfWeights`), it holds the matrices
 * as stored: half the memory, and matmul takes them beside f32 activations with their values
 * widened exactly, so the model computes the same numbers as with f32 copies. Null elsewhere, or
 * where the pool cannot be had (then plain arrays, as before).
 */
function cpuWeightPool(backend: Backend, dtype: 'f32' | 'f16', expected: ExpectedTensor[], half: boolean): WeightPool | null {
  if (backend.name !== 'cpu' || dtype !== 'f32') return null;
  // A fused matrix takes the room of its parts, each a matrix of its own; a stack of experts (one
  // allocation) the room of its matrices, stored one by one or stacked already (Granite's).
  // (A convolution kernel [hidden, 1, taps] is no matrix: it loads as a plain tensor.)
  const matrices = expected.filter((e) => e.shape.length === 2 || e.parts.some((part) => 'stack' in part)).flatMap((e) => e.parts.map((part) => rowsOf(part) * sizeOf(e.shape.slice(1))));
  const floats = matrices.reduce((sum, length) => sum + WeightPool.floatsFor(length, half), 0);
  return WeightPool.create(floats);
}

/**
 * A matrix placed in the pool: its f16/bf16 bits as stored (with `halfWeights`), else its values
 * as f32; null when the pool is full (a checkpoint mixing dtypes), for a plain tensor instead.
 */
function pooledTensor(pool: WeightPool, bytes: Uint8Array, entry: SafetensorsEntry, shape: number[], halfWeights: boolean, shardName: string, backend: Backend): Tensor | null {
  const half = halfWeights ? halfDTypeOf(entry.dtype) : undefined;
  const length = shape[0] * shape[1];
  if (WeightPool.floatsFor(length, half !== undefined) > pool.free) return null;
  if (half) {
    const view = pool.allocateHalf(length);
    new Uint8Array(view.buffer, view.byteOffset, 2 * length).set(bytes);
    return tensorFromHost(view, shape, { dtype: half, backend });
  }
  const view = pool.allocate(length);
  view.set(decodeSafetensorsFloat32(bytes, entry, shardName));
  return tensorFromHost(view, shape, { backend });
}

/**
 * The name a checkpoint stores a tensor under: its own, inside a multimodal model's language
 * model (Gemma 3 4B+, Mistral 3: `language_model.model.…` as released, `model.language_model.…` as
 * transformers 5 saves it), with the base model named `backbone` (Nemotron-H as released), or
 * without the base model's name (GPT-2 as released: `h.0.…` for `transformer.h.0.…`). The
 * text model's name where none is there (the error names it).
 */
function storedName(name: string, has: (name: string) => boolean): string {
  if (has(name)) return name;
  const inner = name.startsWith('model.') ? name.slice('model.'.length) : undefined;
  const wrapped = [`language_model.${name}`, ...(inner !== undefined ? [`model.language_model.${inner}`, `backbone.${inner}`] : [])];
  // GPT-2 as released: its base model's names without `transformer.`.
  if (name.startsWith('transformer.')) wrapped.push(name.slice('transformer.'.length));
  return wrapped.find(has) ?? name;
}

/** A header's entry of the tensor the config calls `name` (see `storedName`). */
const entryOf = (header: SafetensorsHeader, name: string): SafetensorsEntry | undefined => header.tensors.get(storedName(name, (n) => header.tensors.has(n)));

/** Which tensors to read from which shard, refusing tensors the index does not place. */
function shardPlan(index: ReturnType<typeof parseShardIndex>, expected: ExpectedTensor[]): Map<string, ExpectedTensor[]> {
  const plan = new Map<string, ExpectedTensor[]>();
  for (const item of expected) {
    const shard = index.weightMap.get(storedName(item.name, (name) => index.weightMap.has(name)));
    if (!shard) {
      throw new CorruptModelFileError(index.fileName, `weight_map has no entry for tensor "${item.name}" (config.json implies shape [${item.shape.join(', ')}])`, {
        tensor: item.name,
      });
    }
    const list = plan.get(shard) ?? [];
    list.push(item);
    plan.set(shard, list);
  }
  return plan;
}

function assertShape(fileName: string, entry: SafetensorsEntry, shape: number[]): void {
  if (entry.shape.length !== shape.length || entry.shape.some((dim, i) => dim !== shape[i])) {
    throw new CorruptModelFileError(fileName, `tensor "${entry.name}" has shape [${entry.shape.join(', ')}], but config.json implies [${shape.join(', ')}]`, {
      tensor: entry.name,
      shape: entry.shape,
      expected: shape,
    });
  }
}

/** A shard's header and its tensors' bytes: read by range where the source allows it, else whole. */
interface ShardReader {
  header: SafetensorsHeader;
  read(entry: SafetensorsEntry): Promise<Uint8Array>;
  close(): Promise<void>;
}

async function openShard(files: ModelFiles, name: string): Promise<ShardReader> {
  const file = files.open ? await files.open(name) : undefined;
  if (!file) {
    const whole = parseSafetensors(await requireFile(files, name), name);
    return { header: whole, read: async (entry) => whole.bytes.subarray(entry.begin, entry.end), close: async () => {} };
  }
  try {
    const headerLength = safetensorsHeaderLength(await file.read(0, Math.min(8, file.size)), file.size, name);
    const header = parseSafetensorsHeader(await file.read(8, 8 + headerLength), file.size, name);
    return { header, read: (entry) => file.read(entry.begin, entry.end), close: () => file.close() };
  } catch (error) {
    await file.close();
    throw error;
  }
}
