import { cast, concat, contiguous, reshape, type Tensor } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { assertNoStatistics } from '../gpu/unsupported.js';
import type { KernelResult, KiviKernelAttrs } from '../ops/attention-types.js';
import { splitKDecode } from './split-k.js';

const KIVI_BUFFERS = ['kcodes', 'kscale', 'kmin', 'vcodes', 'vscale', 'vmin'] as const;

/**
 * Fused KIVI decode in WGSL: the split-K pass reads keys (per channel, per token group) and values
 * (per token, per channel group) from the packed codes, dequantizing as it goes; the residual is
 * read as is. To stay within 10 storage bindings (a common per-stage limit) the two small
 * buffers are joined for the launch: query and key positions into one (\`pos\`: queries, then
 * keys), the residual keys and values into one (\`resid\`, in f32 when their dtypes differ).
 * Every buffer is addressed row-major from its offset (the view's capacities are the row counts).
 */
export function kiviDecodeAttentionWebGpu(backend: WebGpuBackend, inputs: readonly Tensor[], attrs: KiviKernelAttrs): KernelResult {
  const where = 'kiviDecodeAttention';
  assertNoStatistics(attrs, where, 'WebGPU');
  const [q, keyCodes, keyScale, keyMin, valueCodes, valueScale, valueMin, residualKeys, residualValues, kPos, qPos] = inputs;
  const kvHeads = keyCodes.shape[0];
  const d = q.shape[2];
  const sources = [keyCodes, keyScale, keyMin, valueCodes, valueScale, valueMin];
  return splitKDecode(backend, q, { kvHeads, n: attrs.length, dv: d, partition: attrs.partitionSize }, attrs, where, () => {
    const made: Tensor[] = [];
    const keep = (t: Tensor): Tensor => made[made.push(t) - 1];
    const staged = sources.map((t) => (t.isContiguous() ? t : keep(contiguous(t))));
    const residualType = residualKeys.dtype === residualValues.dtype ? residualKeys.dtype : 'f32';
    const flat = (t: Tensor) => keep(reshape(t.dtype === residualType ? t : keep(cast(t, residualType)), [t.size]));
    const resid = keep(concat([flat(residualKeys), flat(residualValues)], 0));
    const pos = keep(concat([qPos, kPos], 0));
    return {
      key: `kivi:${[...staged, resid].map((t) => t.dtype).join(':')}`,
      withLogWeights: false,
      temporaries: made,
      code: KIVI_SOURCE,
      bindings: [
        ...KIVI_BUFFERS.map((name, i) => ({ name, dtype: staged[i].dtype, access: 'read' as const })),
        { name: 'resid', dtype: resid.dtype, access: 'read' },
        { name: 'pos', dtype: 'i32', access: 'read' },
      ],
      buffers: [...staged, resid, pos],
      uniforms: [
        ...KIVI_BUFFERS.map((name) => ({ name: `${name}_offset`, type: 'u32' as const })),
        ...['bits', 'group_size', 'value_group_size', 'key_tokens', 'value_tokens', 'key_group_cap', 'value_token_cap', 'rkey_cap', 'rvalue_cap', 'rvalue_base'].map((name) => ({ name, type: 'u32' as const })),
      ],
      values: {
        ...Object.fromEntries(KIVI_BUFFERS.map((name, i) => [`${name}_offset`, staged[i].offset])),
        bits: attrs.bits,
        group_size: attrs.groupSize,
        value_group_size: attrs.valueGroupSize,
        key_tokens: attrs.keyGroups * attrs.groupSize,
        value_tokens: attrs.valueTokens,
        key_group_cap: keyCodes.shape[1],
        value_token_cap: valueCodes.shape[1],
        rkey_cap: residualKeys.shape[1],
        rvalue_cap: residualValues.shape[1],
        rvalue_base: residualKeys.size,
      },
    };
  });
}

/** KIVI dequantization (src/formats/kivi.ts; tensor-core's packed layout: 32/bits codes per word, each group word-aligned). */
const KIVI_SOURCE = `
fn kivi_code(word: u32, i: u32) -> f32 {
  let per_word = 32u / u_bits();
  return f32((word >> ((i % per_word) * u_bits())) & ((1u << u_bits()) - 1u));
}
fn key_at(kvh: u32, j: u32, c: u32) -> f32 {
  let d = u_d();
  if (j >= u_key_tokens()) { return resid_load((kvh * u_rkey_cap() + j - u_key_tokens()) * d + c); }
  let per_word = 32u / u_bits();
  let g = j / u_group_size();
  let t = j - g * u_group_size();
  let row = (kvh * u_key_group_cap() + g) * d + c;
  let words = (u_group_size() + per_word - 1u) / per_word;
  let code = kivi_code(kcodes_load(u_kcodes_offset() + row * words + t / per_word), t);
  return code * kscale_load(u_kscale_offset() + row) + kmin_load(u_kmin_offset() + row);
}
fn value_at(kvh: u32, j: u32, c: u32) -> f32 {
  let d = u_d();
  if (j >= u_value_tokens()) { return resid_load(u_rvalue_base() + (kvh * u_rvalue_cap() + j - u_value_tokens()) * d + c); }
  let per_word = 32u / u_bits();
  let group_words = (u_value_group_size() + per_word - 1u) / per_word;
  let groups = d / u_value_group_size();
  let vg = c / u_value_group_size();
  let i = c - vg * u_value_group_size();
  let row = kvh * u_value_token_cap() + j;
  let code = kivi_code(vcodes_load(u_vcodes_offset() + (row * groups + vg) * group_words + i / per_word), i);
  return code * vscale_load(u_vscale_offset() + row * groups + vg) + vmin_load(u_vmin_offset() + row * groups + vg);
}
fn qpos_at(kvh: u32, i: u32) -> i32 { return pos_load(i); }
fn kpos_at(kvh: u32, j: u32) -> i32 { return pos_load(u_m() + j); }
fn length_at(kvh: u32) -> u32 { return u_n(); }`;
