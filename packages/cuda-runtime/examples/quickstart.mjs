// node examples/quickstart.mjs — runs anywhere: on an NVIDIA GPU it uses CUDA, elsewhere it says why
// and falls back to the CPU backend.
import { probeCuda } from '@kvkit/cuda-runtime';
import { createRng, matmul, randomNormal, resolveBackend, softmax, toBackend } from '@kvkit/tensor-core';
import { registerCudaBackend } from '@kvkit/tensor-core/cuda';

console.log('this machine:', probeCuda());
registerCudaBackend();
let backend;
try {
  backend = await resolveBackend('cuda');
} catch (error) {
  console.log(`CUDA unavailable (${error.code}):\n${error.message}\n→ falling back to the CPU`);
  backend = await resolveBackend('cpu');
}

const rng = createRng(1);
const a = await toBackend(randomNormal([256, 512], rng, { dtype: 'f16' }), backend);
const b = await toBackend(randomNormal([512, 128], rng, { dtype: 'f16' }), backend);
const probabilities = softmax(matmul(a, b)); // enqueued on the device; read() waits
const row = await probabilities.readFloat32();
console.log(`${backend.name}: softmax(a·b) row 0 sums to ${row.slice(0, 128).reduce((s, p) => s + p, 0).toFixed(3)}`);
if (backend.name === 'cuda') console.log(backend.runtime.device, backend.runtime.memoryInfo());
