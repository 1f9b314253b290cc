import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeBlocks } from './markdown-examples.js';
import { root, workspacesIn } from './repository.js';

// Every ```js block of a README is a complete program that runs from the repository root (where
// `models/kvkit-tiny` is); declarations and shell lines use ```ts and ```sh. Each package's
// examples/*.mjs runs the same way.
const packages = workspacesIn('packages');
const workspaces = [...packages, ...workspacesIn('apps')];
const readmes = [join(root, 'README.md'), ...workspaces.map((dir) => join(dir, 'README.md')).filter(existsSync)];

// On a machine without a GPU the WebGPU examples run on SwiftShader, which Debian's chromium ships
// with a Vulkan loader: each example process gets them as the test suites' own processes do
// (tensor-core's prepareSwiftShaderEnvironment), so a plain `npm test` runs them as .ci/run does.
const CHROMIUM_VULKAN = '/usr/lib/chromium';
const SWIFTSHADER_ICD = join(CHROMIUM_VULKAN, 'vk_swiftshader_icd.json');
const env = {
  ...process.env,
  XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
  ...(!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD) ? { VK_ICD_FILENAMES: SWIFTSHADER_ICD } : {}),
  ...(existsSync(join(CHROMIUM_VULKAN, 'libvulkan.so.1')) ? { LD_LIBRARY_PATH: [process.env.LD_LIBRARY_PATH, CHROMIUM_VULKAN].filter(Boolean).join(':') } : {}),
};

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runProgram(source: { code: string } | { file: string }): Run {
  const args = 'file' in source ? [source.file] : ['--input-type=module'];
  const result = spawnSync(process.execPath, args, {
    cwd: root,
    env,
    input: 'code' in source ? source.code : undefined,
    encoding: 'utf8',
    timeout: 240_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function expectRuns(where: string, run: Run): void {
  const tail = `${run.stdout}\n${run.stderr}`.trim().split('\n').slice(-25).join('\n');
  expect(run.status, `${where} exited with ${run.status}:\n${tail}`).toBe(0);
  expect(run.stdout.trim().length, `${where} printed nothing on stdout`).toBeGreaterThan(0);
}

describe('README examples', () => {
  it('every package README has a runnable example that imports the package', () => {
    for (const dir of packages) {
      const name = relative(root, dir);
      const programs = codeBlocks(join(dir, 'README.md')).filter((b) => b.language === 'js');
      const packageName = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string }).name;
      expect(programs.some((b) => b.code.includes(`from '${packageName}`)), `${name}/README.md has no \`\`\`js example importing ${packageName}`).toBe(true);
    }
  });

  for (const readme of readmes) {
    for (const block of codeBlocks(readme).filter((b) => b.language === 'js')) {
      const where = `${relative(root, readme)}:${block.line}`;
      it(`${where} runs`, () => expectRuns(where, runProgram({ code: block.code })));
    }
  }
});

describe('examples/*.mjs', () => {
  for (const dir of workspaces) {
    const examples = join(dir, 'examples');
    if (!existsSync(examples)) continue;
    for (const file of readdirSync(examples).filter((f) => f.endsWith('.mjs'))) {
      const where = relative(root, join(examples, file));
      it(`${where} runs`, () => expectRuns(where, runProgram({ file: join(examples, file) })));
    }
  }
});
