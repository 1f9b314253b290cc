import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root, workspacesIn } from './repository.js';

// The commands the Markdown docs tell people to run must exist: `npm run <script> -w <workspace>`
// and `npm test -w <workspace>` name a workspace that has that script, and `node <file>` names a
// file that is there (relative to the repository root, the document's folder or a folder the
// document cd's into; dist/ files exist because turbo builds every workspace this one depends on first).
const workspaceDirs = ['packages', 'apps', 'tooling'].flatMap(workspacesIn);
const manifests = new Map(
  workspaceDirs.map((dir) => {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; scripts?: Record<string, string> };
    return [manifest.name, { dir, scripts: manifest.scripts ?? {} }];
  }),
);
const documents = [
  ...['README.md', 'BENCHMARKS.md', 'ARCHITECTURE.md'].map((f) => join(root, f)),
  ...workspaceDirs.map((dir) => join(dir, 'README.md')),
  ...readdirSync(join(root, 'models')).map((m) => join(root, 'models', m, 'README.md')),
].filter(existsSync);

describe('commands in the docs', () => {
  for (const document of documents) {
    const where = relative(root, document);
    const text = readFileSync(document, 'utf8');
    it(`${where}: every npm -w script and node file it names exists`, () => {
      for (const [command, script, workspace] of Array.from(text.matchAll(/npm (?:run ([\w:-]+)|(?:run )?(test)) -w ([@\w/.-]+)/g), (m) => [m[0], m[1] ?? m[2], m[3]])) {
        const target = manifests.get(workspace);
        expect(target, `${where}: "${command}": no workspace ${workspace}`).toBeDefined();
        expect(Object.keys(target!.scripts), `${where}: "${command}": ${workspace} has no script "${script}"`).toContain(script);
      }
      // A `cd dir` in the document (a recipe run from its folder) adds that folder to the places looked in.
      const folders = [root, dirname(document), ...Array.from(text.matchAll(/\bcd ([\w./-]+)/g), (m) => join(root, m[1]))];
      for (const [command, file] of text.matchAll(/\bnode ([\w./-]+\.(?:mjs|js|ts))\b/g)) {
        const candidates = folders.map((folder) => join(folder, file));
        expect(candidates.some(existsSync), `${where}: "${command}": no such file`).toBe(true);
      }
    });
  }
});
