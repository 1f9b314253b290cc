import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The repository root (this workspace sits at tooling/readme-check). */
export const root = join(import.meta.dirname, '..', '..', '..');

/** The workspaces (folders with a package.json) directly under `folder` of the repository. */
export function workspacesIn(folder: string): string[] {
  return readdirSync(join(root, folder), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, folder, d.name, 'package.json')))
    .map((d) => join(root, folder, d.name));
}
