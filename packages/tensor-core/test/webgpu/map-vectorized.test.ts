/**
 * The vectorized variant of the elementwise template (4 words per invocation, vec4 loads and stores)
 * against the CPU backend, bit for bit: every element width, lengths on and off a multiple of 4
 * words, views on and off a 16-byte boundary (which must fall back to the one-word template), and
 * `value` functions that read an operand away from position i (the register quad then misses and
 * memory must answer). Each case also checks which template ran, through the dispatched program key.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type DType, type Rng, type Tensor, binary, cast, full, getBackend, tensor, unary } from '../../src/index.js';
import { assertClose, openWebGpuForTests, withSeed } from '../../src/testing/index.js';
import { runMap, type WebGpuBackend } from '../../src/webgpu/index.js';

const gpu = await openWebGpuForTests('tensor-core');

/** Elements per 32-bit word. */
const PER_WORD: Record<DType, number> = { f32: 1, i32: 1, u32: 1, f16: 2, bf16: 2, i8: 4, u8: 4 };

function values(rng: Rng, dtype: DType, n: number): number[] {
  if (dtype === 'u8') return Array.from({ length: n }, () => rng.int(256));
  if (dtype === 'i8') return Array.from({ length: n }, () => rng.int(256) - 128);
  if (dtype === 'i32') return Array.from({ length: n }, () => rng.int(2000001) - 1000000);
  if (dtype === 'u32') return Array.from({ length: n }, () => rng.int(4000000000));
  return Array.from({ length: n }, () => 4 * rng.normal());
}

/** Equal elements (floats as decoded values, NaN matching NaN, −0 ≠ +0). */
async function expectSame(label: string, expected: Tensor, actual: Tensor): Promise<void> {
  expect(actual.dtype, label).toBe(expected.dtype);
  expect(actual.shape, label).toEqual(expected.shape);
  const float = expected.dtype === 'f32' || expected.dtype === 'f16' || expected.dtype === 'bf16';
  const e: ArrayLike<number> = float ? await expected.readFloat32() : await expected.read();
  const a: ArrayLike<number> = float ? await actual.readFloat32() : await actual.read();
  for (let i = 0; i < e.length; i++) {
    if (!(Object.is(e[i], a[i]) || (Number.isNaN(e[i]) && Number.isNaN(a[i])))) throw new Error(`${label}: element ${i} is ${a[i]}, expected ${e[i]}`);
  }
}

describe.skipIf(!gpu)('webgpu map template, vectorized variant (Node + Dawn)', () => {
  const backend = gpu as WebGpuBackend;
  const cpu = getBackend('cpu');
  afterAll(() => backend.dispose());

  // The key of every program the backend dispatches (':v4' marks the vectorized variant).
  const keys: string[] = [];
  const dispatch = backend.dispatch.bind(backend);
  backend.dispatch = (program, buffers, uniforms, workgroups) => {
    keys.push(program.key);
    dispatch(program, buffers, uniforms, workgroups);
  };
  const lastKey = () => keys[keys.length - 1];

  /** The same data on both backends, as a view of `n` elements starting `offset` elements into a larger buffer. */
  function both(rng: Rng, dtype: DType, n: number, offset: number): [Tensor, Tensor] {
    const data = values(rng, dtype, n + offset + 5);
    const make = (b: typeof cpu | WebGpuBackend) => tensor(data, [data.length], { dtype, backend: b }).view([n], [1], offset);
    return [make(cpu), make(backend)];
  }

  it('binary ops of every element width take it for aligned views whose length fills whole quads, and match the CPU', () =>
    withSeed(async (rng) => {
      for (const dtype of ['f32', 'i32', 'u32', 'f16', 'bf16', 'i8', 'u8'] as DType[]) {
        const quad = 4 * PER_WORD[dtype]; // elements per 16 bytes
        const op = dtype === 'u32' || dtype === 'u8' ? 'maximum' : 'add';
        for (const [n, offsetA, offsetB, vectorized] of [
          [64 * quad, 0, 0, true],
          [13 * quad, quad, 2 * quad, true], // aligned, nonzero offsets: the quad index includes them
          [13 * quad, 1, 0, false], // off the 16-byte boundary
          [13 * quad - 1, 0, 0, PER_WORD[dtype] > 1], // sub-word tail still fills the last quad's words
          [13 * quad - PER_WORD[dtype], 0, 0, false], // one word short of whole quads
        ] as [number, number, number, boolean][]) {
          const label = `${op} ${dtype} n=${n} offsets ${offsetA}/${offsetB}`;
          const [ca, ga] = both(rng, dtype, n, offsetA);
          const [cb, gb] = both(rng, dtype, n, offsetB);
          const out = binary(op, ga, gb);
          expect(lastKey().includes(':v4'), label).toBe(vectorized);
          await expectSame(label, binary(op, ca, cb), out);
        }
      }
    }));

  it('unary ops and same-width casts take it too; width-changing casts keep the one-word template', () =>
    withSeed(async (rng) => {
      for (const dtype of ['f32', 'f16', 'bf16'] as DType[]) {
        const [c, g] = both(rng, dtype, 256, 0);
        const out = unary('sigmoid', g);
        expect(lastKey()).toContain(':v4');
        // sigmoid goes through exp, not bit-exact across implementations: within the dtype's tolerance.
        assertClose(await out.readFloat32(), await unary('sigmoid', c).readFloat32(), dtype === 'f32' ? 1e-5 : 1e-2, `sigmoid ${dtype}`);
      }
      const [ch, gh] = both(rng, 'f16', 512, 8);
      await expectSame('cast f16 → bf16', cast(ch, 'bf16'), cast(gh, 'bf16'));
      expect(lastKey()).toContain(':v4');
      await expectSame('cast f16 → f32', cast(ch, 'f32'), cast(gh, 'f32'));
      expect(lastKey()).not.toContain(':v4');
    }));

  it('fills (no operands) store whole quads', async () => {
    for (const [dtype, value] of [['f32', -1.25], ['f16', 3.5], ['u8', 200], ['i8', -3]] as [DType, number][]) {
      const out = full([8, 16], value, { dtype, backend });
      expect(lastKey()).toContain(':v4');
      await expectSame(`full ${dtype}`, full([8, 16], value, { dtype, backend: cpu }), out);
    }
  });

  it('a value function reading an operand away from position i is answered from memory', () =>
    withSeed(async (rng) => {
      // out[i] = x[i ^ 5]: neighbours inside and outside this invocation's quad of words.
      for (const dtype of ['f32', 'f16', 'u8'] as DType[]) {
        const n = 64 * 4 * PER_WORD[dtype];
        const offset = 4 * PER_WORD[dtype];
        const data = values(rng, dtype, n + offset);
        const x = tensor(data, [data.length], { dtype, backend }).view([n], [1], offset);
        const out = runMap(backend, {
          key: 'test-neighbour',
          shape: [n],
          operands: [{ name: 'x', tensor: x }],
          dtype,
          raw: true,
          value: 'fn value(i: u32) -> u32 { return x_raw(x_index(i ^ 5u)); }',
        });
        expect(lastKey()).toContain(':v4');
        const expected = tensor(
          Array.from({ length: n }, (_, i) => data[offset + (i ^ 5)]),
          [n],
          { dtype, backend: cpu },
        );
        await expectSame(`neighbour read ${dtype}`, expected, out);
      }
    }));
});
