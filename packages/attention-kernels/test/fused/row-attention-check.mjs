// Run by row-attention-fused.test.ts in a Node whose engine has relaxed SIMD: the built package's
// decode and causal flash attention on the fused row kernel with fused multiply-adds on and off,
// next to tensor-core's float64 reference. Prints one JSON line of measurements; the test judges them.
import { attention, createRng, fusedMultiplyAddActive, randomNormal, setFusedMultiplyAdd } from '@kvkit/tensor-core';
import { relativeError } from '@kvkit/tensor-core/testing';
import { decodeAttention, flashAttention } from '@kvkit/attention-kernels';

const rng = createRng(Number(process.argv[2]));
const q1 = randomNormal([8, 1, 128], rng);
const q = randomNormal([8, 37, 128], rng);
const k = randomNormal([2, 300, 128], rng);
const v = randomNormal([2, 300, 128], rng);
const decodeRef = attention(q1, k, v).output.readSync();
const prefillRef = attention(q, k, v, { causal: true }).output.readSync();

function outputs() {
  return { decode: decodeAttention(q1, k, v).output.readSync(), prefill: flashAttention(q, k, v, { causal: true }).output.readSync() };
}
const active = fusedMultiplyAddActive();
const fused = outputs();
setFusedMultiplyAdd(false);
const plain = outputs();
let differ = 0;
for (const key of ['decode', 'prefill']) for (let i = 0; i < fused[key].length; i++) if (fused[key][i] !== plain[key][i]) differ++;
console.log(
  JSON.stringify({
    active,
    fusedDecodeError: relativeError(fused.decode, decodeRef),
    fusedPrefillError: relativeError(fused.prefill, prefillRef),
    plainDecodeError: relativeError(plain.decode, decodeRef),
    differ,
  }),
);
