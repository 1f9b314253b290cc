import { cudaSourceAsText, kvkitVitestConfig } from '@kvkit/vitest-config';

export default kvkitVitestConfig({ plugins: [cudaSourceAsText()] });
