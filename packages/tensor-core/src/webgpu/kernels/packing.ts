import { valuesPerWord, wordsPerGroup, wordsPerRow } from '../../packing.js';
import type { Tensor } from '../../tensor.js';
import type { WebGpuBackend } from '../backend.js';
import { STATUS, STATUS_WGSL, statusBinding } from '../status-counters.js';
import { lastAxisFunction, lastAxisUniforms, lastAxisValues } from '../wgsl/strided.js';
import { runMap } from './map.js';

/**
 * The shared packed layout (see src/packing.ts): word-parallel, each invocation assembles one u32
 * word from its codes. A code that does not fit `bits` is masked and reported at the next read.
 */
export function packBitsTensor(backend: WebGpuBackend, codes: Tensor, bits: number, groupSize: number): Tensor {
  const n = codes.shape[codes.rank - 1];
  const rowWords = wordsPerRow(n, bits, groupSize);
  const perWord = valuesPerWord(bits);
  const mask = bits === 32 ? 0xffffffff : 2 ** bits - 1;
  return runMap(backend, {
    key: `packBits:${bits}:${codes.dtype}:r${codes.rank}`,
    shape: [...codes.shape.slice(0, -1), rowWords],
    operands: [],
    extra: [
      { spec: { name: 'codes', dtype: codes.dtype, access: 'read' }, buffer: codes },
      statusBinding(backend),
    ],
    uniforms: {
      fields: [
        { name: 'n', type: 'u32' },
        { name: 'row_words', type: 'u32' },
        { name: 'group', type: 'u32' },
        { name: 'group_words', type: 'u32' },
        ...lastAxisUniforms('codes', codes.rank),
      ],
      values: {
        n,
        row_words: rowWords,
        group: groupSize,
        group_words: wordsPerGroup(groupSize, bits),
        ...lastAxisValues('codes', codes.shape, codes.strides, codes.offset),
      },
    },
    dtype: 'u32',
    value: `${STATUS_WGSL}
${lastAxisFunction('codes', codes.rank)}
fn value(w: u32) -> u32 {
  let r = w / u_row_words();
  let q = w % u_row_words();
  let g = q / u_group_words();
  let start = g * u_group() + (q % u_group_words()) * ${perWord}u;
  let end = min((g + 1u) * u_group(), u_n());
  var word = 0u;
  for (var c = 0u; c < ${perWord}u; c = c + 1u) {
    let j = start + c;
    if (j < end) {
      let code = u32(codes_load(codes_elem(r, j)));
      if (code > ${mask >>> 0}u) { status_report(${STATUS.packCode}u); }
      word = word | ((code & ${mask >>> 0}u) << (c * ${bits}u));
    }
  }
  return word;
}`,
  });
}

/** Inverse of packBits: u32 words [..., W] → u8 codes [..., length]. */
export function unpackBitsTensor(backend: WebGpuBackend, words: Tensor, bits: number, groupSize: number, length: number): Tensor {
  const perWord = valuesPerWord(bits);
  const mask = 2 ** bits - 1;
  return runMap(backend, {
    key: `unpackBits:${bits}:r${words.rank}`,
    shape: [...words.shape.slice(0, -1), length],
    operands: [],
    extra: [{ spec: { name: 'words', dtype: 'u32', access: 'read' }, buffer: words }],
    uniforms: {
      fields: [{ name: 'len', type: 'u32' }, { name: 'group', type: 'u32' }, { name: 'group_words', type: 'u32' }, ...lastAxisUniforms('words', words.rank)],
      values: { len: length, group: groupSize, group_words: wordsPerGroup(groupSize, bits), ...lastAxisValues('words', words.shape, words.strides, words.offset) },
    },
    dtype: 'u8',
    value: `${lastAxisFunction('words', words.rank)}
fn value(i: u32) -> u32 {
  let c = i % u_len();
  let g = c / u_group();
  let j = c % u_group();
  let word = words_load(words_elem(i / u_len(), g * u_group_words() + j / ${perWord}u));
  return (word >> ((j % ${perWord}u) * ${bits}u)) & ${mask}u;
}`,
  });
}
