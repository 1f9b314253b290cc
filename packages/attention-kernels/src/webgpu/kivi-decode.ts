import { cast, concat, contiguous, reshape, type Tensor } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { withKeyStatistics } from '../gpu/with-statistics.js';
import type { KernelResult, KiviKernelAttrs } from '../ops/attention-types.js';
import { type KeyedSourceParts, keyValuePass, splitKDecode } from './split-k.js';
import { octByElements, rowsAligned, wordRowReader, wordRowsBinding } from './word-rows.js';
import { FOLDED_TARGET, type KeySource, keyStatisticsWebGpu } from './statistics.js';

/**
 * Fused KIVI decode in WGSL: the split-K pass reads keys (per channel, per token group) and values
 * (per token, per channel group) from the packed codes, dequantizing as it goes; the residual is
 * read as is. To stay within 10 storage bindings (a common per-stage limit) the two small
 * buffers are joined for the launch: query and key positions into one (\`pos\`: queries, then
 * keys), the residual keys and values into one (\`resid\`, in f32 when their dtypes differ).
 * Every buffer is addressed row-major from its offset (the view's capacities are the row counts).
 * Per-key statistics, when asked for, take a second pass over the keys from the rows' lse.
 */
export function kiviDecodeAttentionWebGpu(backend: WebGpuBackend, inputs: readonly Tensor[], attrs: KiviKernelAttrs): KernelResult {
  const where = 'kiviDecodeAttention';
  const [q, keyCodes, keyScale, keyMin, valueCodes, valueScale, valueMin, residualKeys, residualValues, kPos, qPos] = inputs;
  const [qHeads, , d] = q.shape;
  const kvHeads = keyCodes.shape[0];
  const made: Tensor[] = [];
  const keep = (t: Tensor): Tensor => made[made.push(t) - 1];
  try {
    const staged = [keyCodes, keyScale, keyMin, valueCodes, valueScale, valueMin].map((t) => (t.isContiguous() ? t : keep(contiguous(t))));
    const residualType = residualKeys.dtype === residualValues.dtype ? residualKeys.dtype : 'f32';
    const flat = (t: Tensor) => keep(reshape(t.dtype === residualType ? t : keep(cast(t, residualType)), [t.size]));
    const resid = keep(concat([flat(residualKeys), flat(residualValues)], 0));
    const pos = keep(concat([qPos, kPos], 0));
    const keyBuffers = [staged[0], staged[1], staged[2], resid, pos];
    const keyNames = ['kcodes', 'kscale', 'kmin', 'resid', 'pos'];
    const layout = {
      key_tokens: attrs.keyGroups * attrs.groupSize,
      value_tokens: attrs.valueTokens,
      key_group_cap: keyCodes.shape[1],
      value_token_cap: valueCodes.shape[1],
      rkey_cap: residualKeys.shape[1],
      rvalue_cap: residualValues.shape[1],
      rvalue_base: residualKeys.size,
    };
    // Key scales and minima [kvHeads, groups, d] are read 8 channels per 16-byte word like float rows.
    const scalesAligned = rowsAligned(staged[1]) && rowsAligned(staged[2]);
    // A value octet lies in one channel group when groups are multiples of 8 channels: one scale, one minimum, ≤ 2 code words.
    const valueOctets = attrs.valueGroupSize % 8 === 0;
    const keys: KeySource = {
      key: `kivi:${attrs.bits}:${attrs.groupSize}:${attrs.valueGroupSize}:${keyBuffers.map((t) => t.dtype).join(':')}:${scalesAligned ? 'a' : 'u'}`,
      withLogWeights: false,
      code: kiviKeys(attrs, staged[1].dtype, staged[2].dtype, scalesAligned),
      // Key codes and scales/minima are 16-byte words (the tile staging copies codes a vec4 at a time).
      bindings: keyNames.map((name, i) => (i < 3 ? wordRowsBinding(name) : { name, dtype: keyBuffers[i].dtype, access: 'read' as const })),
      buffers: keyBuffers,
      uniforms: [...['kcodes_offset', 'kscale_offset', 'kmin_offset'], ...Object.keys(layout)].map((name) => ({ name, type: 'u32' as const })),
      values: { kcodes_offset: staged[0].offset, kscale_offset: staged[1].offset, kmin_offset: staged[2].offset, ...layout },
    };
    const valueNames = ['vcodes', 'vscale', 'vmin'];
    const values: KeyedSourceParts = {
      key: `${staged.slice(3).map((t) => t.dtype).join(':')}:${valueOctets ? 'octets' : 'channels'}`,
      code: kiviValues(valueOctets, attrs.bits),
      bindings: valueNames.map((name, i) => ({ name, dtype: staged[3 + i].dtype, access: 'read' as const })),
      buffers: staged.slice(3),
      uniforms: valueNames.map((name) => ({ name: `${name}_offset`, type: 'u32' as const })),
      values: Object.fromEntries(valueNames.map((name, i) => [`${name}_offset`, staged[3 + i].offset])),
    };
    const tile = keyTile(attrs, d, staged[0].offset, backend.device.limits.maxComputeWorkgroupStorageSize);
    const splitKKeys = { ...keys, key: `${keys.key}:${tile ? `staged${tile.groups}:${tile.vectors ? 'v' : 's'}` : 'direct'}`, code: keys.code + kiviKeyOctets(tile, d % 8 === 0), stagesKeys: tile !== undefined };
    return withKeyStatistics(
      attrs,
      (a) =>
        splitKDecode(backend, q, { kvHeads, n: attrs.length, dv: d, partition: a.partitionSize }, a, where, () => keyValuePass(splitKKeys, values)),
      (lse) => keyStatisticsWebGpu(backend, q, lse, keys, { rows: qHeads, width: attrs.length, group: qHeads / kvHeads, headShape: [qHeads], kvShape: [kvHeads], target: FOLDED_TARGET }, attrs),
    );
  } finally {
    for (const t of made) t.dispose();
  }
}

/**
 * Bit width and group sizes are compile-time constants of the program (a handful per model), so the
 * per-token group and word arithmetic divides by constants.
 */
type KiviLayout = Pick<KiviKernelAttrs, 'bits' | 'groupSize' | 'valueGroupSize'>;

/** Workgroup memory the key tile may take (the split-K body itself takes ≤ 14 KiB at head dim 128). */
const KEY_TILE_BYTES = 16 * 1024;
/** Keys per tile of the split-K pass (its WORKGROUP). */
const TILE_KEYS = 128;

/**
 * What the split-K pass stages per tile of keys: the codes and the scales/minima of the key groups
 * the tile touches (\`groups\` at most), when they fit in KEY_TILE_BYTES and beside the body in the
 * device's workgroup memory. \`vectors\`: the codes are copied 16 bytes at a time (each group's
 * block of words starts on a 16-byte boundary).
 */
interface KeyTile {
  groups: number;
  /** u32 code words and scale (or minimum) octets of \`groups\` key groups. */
  words: number;
  octets: number;
  vectors: boolean;
}

function keyTile(layout: KiviLayout, d: number, codesOffset: number, deviceBytes: number): KeyTile | undefined {
  const G = layout.groupSize;
  // Partitions are whole groups (the op rounds them up), so tiles start on a group when G divides the tile.
  const groups = TILE_KEYS % G === 0 ? TILE_KEYS / G : Math.ceil((G - 1 + TILE_KEYS) / G);
  const words = groups * d * codeWords(layout.bits, G);
  const octets = groups * Math.ceil(d / 8);
  const bytes = 4 * words + 2 * octets * 32;
  if (bytes > Math.min(KEY_TILE_BYTES, deviceBytes - KEY_TILE_BYTES)) return undefined;
  return { groups, words, octets, vectors: codesOffset % 4 === 0 && (d * codeWords(layout.bits, G)) % 4 === 0 };
}

/** u32 words of one channel row of a key group (group-aligned codes, 32/bits per word). */
const codeWords = (bits: number, group: number): number => Math.ceil(group / Math.floor(32 / bits));

/**
 * KIVI dequantization (src/formats/kivi.ts; tensor-core's packed layout: 32/bits codes per word, each
 * group word-aligned). Keys: token j of group g, channel c is code t = j − g·groupSize of row
 * (kvh, g, c), times that row's scale plus its minimum (\`key_at\`: what the statistics pass reads;
 * \`key_oct\` comes from \`kiviKeyOctets\`); residual keys are read as they are.
 */
function kiviKeys(layout: KiviLayout, scaleType: Tensor['dtype'], minType: Tensor['dtype'], scalesAligned: boolean): string {
  return `
const KIVI_BITS: u32 = ${layout.bits}u;
const KEY_GROUP: u32 = ${layout.groupSize}u;
const VALUE_GROUP: u32 = ${layout.valueGroupSize}u;
fn kivi_code(word: u32, i: u32) -> f32 {
  let per_word = 32u / KIVI_BITS;
  return f32((word >> ((i % per_word) * KIVI_BITS)) & ((1u << KIVI_BITS) - 1u));
}
${wordRowReader('kscale', scaleType, 'u_d()', scalesAligned)}
${wordRowReader('kmin', minType, 'u_d()', scalesAligned)}
/** The first element of key row (kvh, group of token j) in the scales, and the code of token j in the group's words. */
fn key_group_row(kvh: u32, j: u32) -> u32 { return (kvh * u_key_group_cap() + j / KEY_GROUP) * u_d(); }
/** Code words per channel row of a key group. */
const KEY_WORDS: u32 = (KEY_GROUP + 32u / KIVI_BITS - 1u) / (32u / KIVI_BITS);
fn key_code(channel_row: u32, j: u32) -> f32 {
  let t = j % KEY_GROUP;
  return kivi_code(kcodes_load(u_kcodes_offset() + channel_row * KEY_WORDS + t / (32u / KIVI_BITS)), t);
}
fn key_at(kvh: u32, j: u32, c: u32) -> f32 {
  if (j >= u_key_tokens()) { return resid_load((kvh * u_rkey_cap() + j - u_key_tokens()) * u_d() + c); }
  let row = key_group_row(kvh, j) + c;
  return key_code(row, j) * kscale_elem(u_kscale_offset() + row) + kmin_elem(u_kmin_offset() + row);
}
fn key_row(kvh: u32, j: u32) -> u32 { return j; }
fn qpos_at(kvh: u32, i: u32) -> i32 { return pos_load(i); }
fn kpos_at(kvh: u32, j: u32) -> i32 { return pos_load(u_m() + j); }
fn length_at(kvh: u32) -> u32 { return u_n(); }`;
}

/**
 * \`key_oct\` for the split-K pass: channels 8o … 8o+7 of token j, 8 codes (one word per channel
 * row: the layout is channel-major) times the octet's scales plus its minima. With a \`tile\`, the
 * workgroup first copies the codes of the tile's key groups (one contiguous block of words: 16-byte
 * loads when aligned) and their scales and minima (16-byte word rows, see word-rows.ts) into
 * workgroup memory (\`stage_keys\`), so each is read from storage once per tile, not once per key
 * (codes) or per key and lane (scales); without one, they are read from storage per key.
 */
function kiviKeyOctets(tile: KeyTile | undefined, wholeOctets: boolean): string {
  // The octet from its code words (word(i): channel 8o + i's word holding token t = j % KEY_GROUP).
  // Whole octets (d a multiple of 8) gather the 8 words into two vectors and shift them together:
  // no element of the octet is addressed by a loop index, which GPU compilers may leave in local
  // memory rather than registers.
  const octet = (word: (i: string) => string, scale: string, low: string) =>
    wholeOctets
      ? `
  let lo = vec4<u32>(${[0, 1, 2, 3].map((i) => word(`${i}u`)).join(', ')});
  let hi = vec4<u32>(${[4, 5, 6, 7].map((i) => word(`${i}u`)).join(', ')});
  let shift = vec4<u32>((t % (32u / KIVI_BITS)) * KIVI_BITS);
  let mask = vec4<u32>((1u << KIVI_BITS) - 1u);
  let scale = ${scale};
  let low = ${low};
  return mat2x4<f32>(vec4<f32>((lo >> shift) & mask) * scale[0] + low[0], vec4<f32>((hi >> shift) & mask) * scale[1] + low[1]);`
      : `
  var codes = mat2x4<f32>();
  for (var i = 0u; i < 8u; i = i + 1u) {
    if (8u * o + i < u_d()) { codes[i / 4u][i % 4u] = kivi_code(${word('i')}, t); }
  }
  let scale = ${scale};
  let low = ${low};
  return mat2x4<f32>(codes[0] * scale[0] + low[0], codes[1] * scale[1] + low[1]);`;
  const residual = `if (j >= u_key_tokens()) {
    ${octByElements((c) => `key_at(kvh, j, ${c})`, 'u_d()')}
  }`;
  if (!tile) {
    return `
fn key_oct(kvh: u32, j: u32, o: u32) -> mat2x4<f32> {
  ${residual}
  let row = key_group_row(kvh, j);
  let t = j % KEY_GROUP;
  let word0 = u_kcodes_offset() + (row + 8u * o) * KEY_WORDS + t / (32u / KIVI_BITS);${octet((i) => `kcodes_load(word0 + ${i} * KEY_WORDS)`, 'kscale_oct(u_kscale_offset() + row, o)', 'kmin_oct(u_kmin_offset() + row, o)')}
}`;
  }
  const copy = tile.vectors
    ? `for (var w = 4u * lid; w < words; w = w + 4u * WG) {
    let x = kcodes[(first + w) / 4u];
    for (var i = 0u; i < 4u; i = i + 1u) { tile_kcodes[w + i] = x[i]; }
  }`
    : `for (var w = lid; w < words; w = w + WG) { tile_kcodes[w] = kcodes_load(first + w); }`;
  return `
/** The key groups of the tile: codes [group, channel, KEY_WORDS], scales and minima [group, D8]. */
var<workgroup> tile_kcodes: array<u32, ${tile.words}>;
var<workgroup> tile_kscale: array<mat2x4<f32>, ${tile.octets}>;
var<workgroup> tile_kmin: array<mat2x4<f32>, ${tile.octets}>;
/** The tile's first key group (every invocation keeps its own copy). */
var<private> tile_group: u32;
fn stage_keys(kvh: u32, t0: u32, count: u32, lid: u32) {
  tile_group = t0 / KEY_GROUP;
  let end = min(t0 + count, u_key_tokens());
  if (end <= t0) { return; }
  let groups = (end - 1u) / KEY_GROUP + 1u - tile_group;
  let row0 = kvh * u_key_group_cap() + tile_group;
  let first = u_kcodes_offset() + row0 * u_d() * KEY_WORDS;
  let words = groups * u_d() * KEY_WORDS;
  ${copy}
  for (var e = lid; e < groups * D8; e = e + WG) {
    let row = (row0 + e / D8) * u_d();
    tile_kscale[e] = kscale_oct(u_kscale_offset() + row, e % D8);
    tile_kmin[e] = kmin_oct(u_kmin_offset() + row, e % D8);
  }
}
fn key_oct(kvh: u32, j: u32, o: u32) -> mat2x4<f32> {
  ${residual}
  let g = j / KEY_GROUP - tile_group;
  let t = j % KEY_GROUP;
  let word0 = (g * u_d() + 8u * o) * KEY_WORDS + t / (32u / KIVI_BITS);${octet((i) => `tile_kcodes[word0 + ${i} * KEY_WORDS]`, 'tile_kscale[g * D8 + o]', 'tile_kmin[g * D8 + o]')}
}`;
}

/**
 * Values: token j's channel group vg holds codes for its valueGroupSize channels, with one scale and
 * minimum. With \`octets\` (groups of a multiple of 8 channels) an octet is one group's codes from
 * at most two words (exactly one at 2 and 4 bits), dequantized with one scale and minimum;
 * otherwise channel by channel. Residual values are read as they are.
 */
function kiviValues(octets: boolean, bits: number): string {
  // 2 and 4 bits: an octet's 8 codes lie in one word (at 8 bits they take two).
  const oneWord = (32 / bits) % 8 === 0;
  return `
fn value_at(kvh: u32, j: u32, c: u32) -> f32 {
  let d = u_d();
  if (j >= u_value_tokens()) { return resid_load(u_rvalue_base() + (kvh * u_rvalue_cap() + j - u_value_tokens()) * d + c); }
  let per_word = 32u / KIVI_BITS;
  let group_words = (VALUE_GROUP + per_word - 1u) / per_word;
  let groups = d / VALUE_GROUP;
  let vg = c / VALUE_GROUP;
  let i = c - vg * VALUE_GROUP;
  let row = kvh * u_value_token_cap() + j;
  let code = kivi_code(vcodes_load(u_vcodes_offset() + (row * groups + vg) * group_words + i / per_word), i);
  return code * vscale_load(u_vscale_offset() + row * groups + vg) + vmin_load(u_vmin_offset() + row * groups + vg);
}
fn value_row(kvh: u32, j: u32) -> u32 { return j; }
fn value_oct(kvh: u32, j: u32, o: u32) -> mat2x4<f32> {
  ${
    octets
      ? `if (j < u_value_tokens()) {
    let per_word = 32u / KIVI_BITS;
    let group_words = (VALUE_GROUP + per_word - 1u) / per_word;
    let groups = u_d() / VALUE_GROUP;
    let vg = (8u * o) / VALUE_GROUP;
    let i0 = 8u * o - vg * VALUE_GROUP;
    let slot = (kvh * u_value_token_cap() + j) * groups + vg;
    let words = u_vcodes_offset() + slot * group_words;
    let first = vcodes_load(words + i0 / per_word);
    let scale = vscale_load(u_vscale_offset() + slot);
    let low = vmin_load(u_vmin_offset() + slot);${
      oneWord
        ? `
    // The octet's 8 codes are one word (i0 is a multiple of 8, and 8 codes divide a word): shifted
    // as two vectors, no element addressed by a loop index.
    let shift = vec4<u32>((i0 % per_word) * KIVI_BITS) + vec4<u32>(0u, 1u, 2u, 3u) * KIVI_BITS;
    let mask = vec4<u32>((1u << KIVI_BITS) - 1u);
    let codes = vec4<u32>(first);
    return mat2x4<f32>(vec4<f32>((codes >> shift) & mask) * scale + low, vec4<f32>((codes >> (shift + vec4<u32>(4u * KIVI_BITS))) & mask) * scale + low);
  }`
        : `
    let second = vcodes_load(words + (i0 + 7u) / per_word);
    var x = mat2x4<f32>();
    for (var i = 0u; i < 8u; i = i + 1u) {
      let e = i0 + i;
      x[i / 4u][i % 4u] = kivi_code(select(first, second, e / per_word != i0 / per_word), e) * scale + low;
    }
    return x;
  }`
    }`
      : ''
  }
  ${octByElements((c) => `value_at(kvh, j, ${c})`, 'u_d()')}
}`;
}
