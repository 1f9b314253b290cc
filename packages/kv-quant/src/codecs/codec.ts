import type { Tensor } from '@kvkit/tensor-core';
import type { FieldSpec, RecordTensors } from '../storage/record-store.js';

/**
 * How one token's vector (per head) is stored: a fixed record of fields (packed codes, per-token
 * scales and zeros, sparse outliers) plus per-layer parameters (levels, codebooks, scales fitted
 * once). Encoding is per token, so a stream of tokens encodes the same whatever the chunking.
 */
export interface TokenCodec {
  /** Short description for errors and READMEs, e.g. "uniform 2-bit asymmetric, groups of 32". */
  readonly label: string;
  /** Record fields per (head, token): shape [...inner] each. */
  readonly fields: readonly FieldSpec[];
  /** x: float [heads, n, d] → one tensor per field, [heads, n, ...inner]. */
  encode(x: Tensor): RecordTensors;
  /** The stored records [heads, n, ...inner] back to f32 [heads, n, d]. */
  decode(record: RecordTensors): Tensor;
  /** Resident bytes of per-layer parameters, by memory part. */
  parameterMemory(): Record<string, number>;
  dispose(): void;
}
