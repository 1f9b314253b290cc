import { isFloatDType } from '../dtype.js';
import { InvalidConfigError, ShapeMismatchError, UnsupportedDTypeError } from '../errors.js';
import { formatShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import type { AttendOptions, KVCacheLayer, StepInfo } from './contract.js';

/**
 * The checks every cache layer runs before `append` touches its state, so a bad call throws and
 * leaves the layer unchanged. Returns the number of appended tokens.
 */
export function validateAppend(layer: Pick<KVCacheLayer, 'kvHeads' | 'headDim' | 'layerIndex'>, k: Tensor, v: Tensor, step: StepInfo): number {
  const where = `cache layer ${layer.layerIndex} append`;
  for (const [name, t] of [['k', k], ['v', v]] as const) {
    if (!isFloatDType(t.dtype)) throw new UnsupportedDTypeError(`${where}: ${name} must be f32, f16 or bf16, got ${t.dtype}`);
    if (t.rank !== 3 || t.shape[0] !== layer.kvHeads || t.shape[2] !== layer.headDim) {
      throw new ShapeMismatchError(`${where}: ${name} must be [kvHeads=${layer.kvHeads}, n, headDim=${layer.headDim}], got ${formatShape(t.shape)}`, {
        shape: t.shape,
      });
    }
  }
  const n = k.shape[1];
  if (v.shape[1] !== n) throw new ShapeMismatchError(`${where}: k has ${n} tokens but v has ${v.shape[1]}`);
  if (!(step.positions instanceof Int32Array) || step.positions.length !== n) {
    throw new ShapeMismatchError(`${where}: step.positions must be an Int32Array of length ${n}`, { positions: step.positions?.length });
  }
  if (step.tokenIds && step.tokenIds.length !== n) throw new ShapeMismatchError(`${where}: step.tokenIds must have length ${n}`);
  for (let i = 0; i < n; i++) {
    if (step.positions[i] < 0) throw new InvalidConfigError(`${where}: position ${step.positions[i]} is negative`);
  }
  return n;
}

export function validateAttend(layer: Pick<KVCacheLayer, 'headDim' | 'kvHeads' | 'layerIndex'>, q: Tensor, options: AttendOptions): void {
  const where = `cache layer ${layer.layerIndex} attend`;
  if (!isFloatDType(q.dtype)) throw new UnsupportedDTypeError(`${where}: q must be f32, f16 or bf16, got ${q.dtype}`);
  if (q.rank !== 3 || q.shape[2] !== layer.headDim || q.shape[0] % layer.kvHeads !== 0) {
    throw new ShapeMismatchError(`${where}: q must be [qHeads (a multiple of ${layer.kvHeads}), m, ${layer.headDim}], got ${formatShape(q.shape)}`);
  }
  if (!(options.positions instanceof Int32Array) || options.positions.length !== q.shape[1]) {
    throw new ShapeMismatchError(`${where}: options.positions must be an Int32Array of length ${q.shape[1]}`);
  }
}

/**
 * Where a layer stores the values as the keys (`LayerSpec.valuesAreKeys`), `append` must be given
 * the keys' own tensor as values: anything else would be dropped without a word.
 */
export function assertValuesAreKeys(shared: boolean, k: Tensor, v: Tensor, where: string): void {
  if (shared && v !== k) throw new InvalidConfigError(`${where}: the spec says the values are the keys (valuesAreKeys), so v must be the keys' tensor itself`);
}
