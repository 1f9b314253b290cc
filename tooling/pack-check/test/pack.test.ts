import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const packages = readdirSync(join(root, 'packages'))
  .map((dir) => join(root, 'packages', dir))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter(({ manifest }) => !manifest.private);

/** Packages for Node only (a native addon); every other public package must bundle for browsers. */
const NODE_ONLY = new Set(['@kvkit/cuda-runtime']);
/** Subpath exports that browsers use too. */
const BROWSER_SUBPATHS: Record<string, string[]> = { '@kvkit/tensor-core': ['webgpu'] };

const scratch = mkdtempSync(join(tmpdir(), 'kvkit-pack-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('published tarballs', () => {
  it('every public package declares types-first exports, ESM and no side effects', () => {
    for (const { manifest } of packages) {
      expect(manifest.type, manifest.name).toBe('module');
      expect(manifest.sideEffects, manifest.name).toBe(false);
      for (const [subpath, target] of Object.entries(manifest.exports as Record<string, unknown>)) {
        if (typeof target === 'string') continue;
        expect(Object.keys(target as object)[0], `${manifest.name} exports ${subpath}`).toBe('types');
      }
    }
  });

  it('pack, install outside the repo, import from Node, type-check from TypeScript and bundle for browsers', async () => {
    const tarballs = packages.map(({ dir }) => {
      const out = execFileSync('npm', ['pack', '--pack-destination', scratch, '--json'], { cwd: dir, encoding: 'utf8' });
      return join(scratch, JSON.parse(out)[0].filename as string);
    });
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    // --prefer-offline, not --offline: `npm ci` caches tarballs but not the registry's package
    // documents, which resolving the tarballs' own dependencies needs; on a fresh machine those come
    // from the registry once (CI reaches it for `npm ci` anyway), tarballs still from the cache.
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs], { cwd: scratch, stdio: 'pipe' });
    const imports = packages.map(({ manifest }, i) => `import * as p${i} from '${manifest.name}';`).join('\n');
    writeFileSync(join(scratch, 'smoke.mjs'), `${imports}\nconsole.log(JSON.stringify([${packages.map((_, i) => `Object.keys(p${i}).length`).join(', ')}]));\n`);
    const counts = JSON.parse(execFileSync('node', ['smoke.mjs'], { cwd: scratch, encoding: 'utf8' })) as number[];
    counts.forEach((n, i) => expect(n, packages[i].manifest.name).toBeGreaterThan(0));
    writeFileSync(
      join(scratch, 'smoke.ts'),
      `${imports}\nexport const names: string[] = [${packages.map((_, i) => `...Object.keys(p${i})`).join(', ')}];\n` +
        (packages.some((p) => p.manifest.name === '@kvkit/tensor-core')
          ? `import { tensor, type Tensor } from '@kvkit/tensor-core';\nexport const t: Tensor = tensor([1, 2], [2]);\n// @ts-expect-error a shape must be an array of numbers\ntensor([1], 'x');\n`
          : ''),
    );
    writeFileSync(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, skipLibCheck: false, types: [] }, files: ['smoke.ts'] }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    execFileSync('node', [tsc, '-p', join(scratch, 'tsconfig.json')], { cwd: scratch, stdio: 'pipe' });

    // What a web app's bundler does with the installed packages: one import that a browser build
    // cannot resolve (a Node built-in on a path browsers never take) fails the whole app's build.
    const forBrowsers = packages.filter(({ manifest }) => !NODE_ONLY.has(manifest.name));
    const entries = forBrowsers.flatMap(({ manifest }) => [manifest.name, ...(BROWSER_SUBPATHS[manifest.name] ?? []).map((sub) => `${manifest.name}/${sub}`)]);
    writeFileSync(join(scratch, 'browser.mjs'), `${entries.map((name, i) => `import * as b${i} from '${name}';`).join('\n')}\nconsole.log(${entries.map((_, i) => `b${i}`).join(', ')});\n`);
    const result = await build({ entryPoints: [join(scratch, 'browser.mjs')], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', absWorkingDir: scratch });
    expect(result.errors).toEqual([]);
    expect(result.outputFiles[0].text.length).toBeGreaterThan(100_000);
  });
});
