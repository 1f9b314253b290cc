import { kvkitVitestConfig } from '@kvkit/vitest-config';

export default kvkitVitestConfig();
