import { cudaSourceAsText, kvkitVitestConfig } from '@kvkit/vitest-config';
import { watVitePlugin } from '@kvkit/wat';

// .wat imports compile to their module bytes and .cu imports are text, as the tsup build does.
export default kvkitVitestConfig({ plugins: [watVitePlugin(), cudaSourceAsText()] });
