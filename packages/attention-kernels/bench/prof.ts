import { createRng, randomNormal } from '@kvkit/tensor-core';
import { decodeAttention } from '../src/index.js';
const rng = createRng(1);
const q = randomNormal([8, 1, 64], rng); const k = randomNormal([2, 16384, 64], rng); const v = randomNormal([2, 16384, 64], rng);
for (let i = 0; i < 5; i++) decodeAttention(q, k, v).output.dispose();
const s = performance.now(); for (let i = 0; i < 60; i++) decodeAttention(q, k, v).output.dispose(); console.log(((performance.now() - s) / 60).toFixed(2), 'ms');
