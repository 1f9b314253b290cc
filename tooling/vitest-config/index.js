// Shared vitest settings. Every package writes a JSON report to .test-results/vitest.json so that
// tooling/scripts/test-all.mjs can print one `N passed, N failed` line for the whole repo.
import { defineConfig, mergeConfig } from 'vitest/config';

/** @param {import('vitest/config').UserConfig} [overrides] */
export function kvkitVitestConfig(overrides = {}) {
  return mergeConfig(
    defineConfig({
      test: {
        include: ['test/**/*.test.ts'],
        environment: 'node',
        testTimeout: 60_000,
        hookTimeout: 120_000,
        reporters: ['default', 'json'],
        outputFile: { json: '.test-results/vitest.json' },
      },
    }),
    overrides,
  );
}

/** CUDA C sources (`.cu`, `.cuh`) imported as text, as the packages' tsup `.cu` loader does for the build. */
export function cudaSourceAsText() {
  return {
    name: 'kvkit-cuda-source-text',
    /** @param {string} code @param {string} id */
    transform(code, id) {
      return id.endsWith('.cu') || id.endsWith('.cuh') ? { code: `export default ${JSON.stringify(code)};`, map: null } : undefined;
    },
  };
}
