import { kvkitVitestConfig } from '@kvkit/vitest-config';

export default kvkitVitestConfig({ test: { testTimeout: 300_000, hookTimeout: 120_000 } });
