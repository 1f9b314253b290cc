import { kvkitVitestConfig } from '@kvkit/vitest-config';
import { watVitePlugin } from '@kvkit/wat';

// .wat imports compile to their module bytes, as the tsup build does.
export default kvkitVitestConfig({ plugins: [watVitePlugin()] });
