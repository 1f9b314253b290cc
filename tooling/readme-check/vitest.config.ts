import { kvkitVitestConfig } from '@kvkit/vitest-config';

export default kvkitVitestConfig({ test: { testTimeout: 300_000 } });
