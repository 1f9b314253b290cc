// Every CUDA kernel source in the repository (packages/*/src/**/*.cu) must compile with nvcc for
// sm_80 and sm_90, so a kernel that does not compile cannot land. Runs on machines without a GPU.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { findNvcc } from '../src/index.js';
import { requireCuda } from './support.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..', '..');
const ARCHS = ['sm_80', 'sm_90'];
/** Where `#include "kvkit/prelude.cuh"` resolves. */
const PRELUDE_DIR = join(root, 'packages', 'tensor-core', 'src', 'cuda', 'include');

function findSources(dir: string, extensions: string[]): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : findSources(path, extensions);
    return extensions.some((extension) => entry.name.endsWith(extension)) ? [path] : [];
  });
}

const sourcesWith = (extensions: string[]): string[] =>
  readdirSync(join(root, 'packages')).flatMap((pkg) => findSources(join(root, 'packages', pkg, 'src'), extensions));
// Largest first: the two workers then finish close together (the split-K modules take 4–20 s each per arch).
const sources = sourcesWith(['.cu']).sort((a, b) => statSync(b).size - statSync(a).size);
const nvcc = findNvcc();
if (!nvcc && !requireCuda) console.warn('[cuda] nvcc is not on the PATH: the kernel compile check is skipped (KVKIT_REQUIRE_CUDA=1 makes it fail)');

interface Outcome {
  ok: boolean;
  seconds: number;
  log: string;
}
const outcomes = new Map<string, Outcome>();

/** One nvcc call per file builds a fatbin for both architectures; two files compile at a time. */
async function compileAll(files: string[], workers = 2): Promise<void> {
  const queue = [...files];
  const out = mkdtempSync(join(tmpdir(), 'kvkit-nvcc-check-'));
  const work = async (): Promise<void> => {
    for (let file = queue.shift(); file; file = queue.shift()) {
      const started = performance.now();
      const gencode = ARCHS.flatMap((arch) => ['-gencode', `arch=compute_${arch.slice(3)},code=${arch}`]);
      const args = ['--fatbin', ...gencode, '-std=c++17', '-Xptxas', '-O1', '-I', PRELUDE_DIR, '-I', dirname(file), '-o', join(out, `${outcomes.size}-${Math.random().toString(36).slice(2)}.fatbin`), file];
      try {
        await run(nvcc!, args, { maxBuffer: 16 << 20 });
        outcomes.set(file, { ok: true, seconds: (performance.now() - started) / 1000, log: '' });
      } catch (error) {
        const e = error as { stdout?: string; stderr?: string; message: string };
        outcomes.set(file, { ok: false, seconds: (performance.now() - started) / 1000, log: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message });
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: workers }, work));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

describe(`every .cu kernel source compiles with nvcc for ${ARCHS.join(' and ')}`, () => {
  it('finds the kernel sources', () => {
    expect(sources.length).toBeGreaterThanOrEqual(9);
    expect(sources.some((s) => s.endsWith(join('tensor-core', 'src', 'cuda', 'kernels', 'matmul.cu')))).toBe(true);
  });

  it.runIf(requireCuda)('KVKIT_REQUIRE_CUDA=1: nvcc must be present', () => {
    expect(nvcc ?? 'nvcc not on the PATH').toMatch(/nvcc$/);
  });

  describe.runIf(nvcc !== undefined)('nvcc', () => {
    beforeAll(async () => {
      await compileAll(sources);
      const total = [...outcomes.values()].reduce((s, o) => s + o.seconds, 0);
      console.log(`[cuda] compiled ${outcomes.size} sources for ${ARCHS.join('+')} in ${total.toFixed(1)} s of nvcc time`);
    }, 1_200_000);

    for (const file of sources) {
      it(relative(root, file), () => {
        const outcome = outcomes.get(file);
        expect(outcome, 'compile outcome').toBeDefined();
        if (!outcome!.ok) throw new Error(`${relative(root, file)} does not compile:\n${outcome!.log}`);
      });
    }
  });
});

// nvcc force-includes cuda_runtime.h (and with it the C library's math.h and limits), NVRTC includes
// nothing: a source that leans on those headers compiles here and fails on the GPU machine. NVRTC
// did refuse kv-quant's NAN and INFINITY on an H200 while this nvcc check passed, so the names
// those headers define are refused here (use KV_NAN / KV_INF from kvkit/prelude.cuh).
describe('every .cu/.cuh source uses only what NVRTC provides (no implicit headers)', () => {
  const headerOnly = /\b(NAN|INFINITY|HUGE_VALF?|FLT_(MAX|MIN|EPSILON)|DBL_(MAX|MIN|EPSILON)|INT_(MAX|MIN)|UINT_MAX|M_PI\w*|CUDART_\w+)\b|#\s*include\s*</;
  for (const file of sourcesWith(['.cu', '.cuh'])) {
    it(relative(root, file), () => {
      const offending = readFileSync(file, 'utf8')
        .split('\n')
        .map((line, index) => ({ line: line.replace(/\/\/.*$/, ''), number: index + 1 }))
        .filter(({ line }) => headerOnly.test(line))
        .map(({ line, number }) => `${number}: ${line.trim()}`);
      expect(offending, `${relative(root, file)} uses names only nvcc's implicit headers define`).toEqual([]);
    });
  }
});
