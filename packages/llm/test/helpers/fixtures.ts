import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePythonJson } from '../../src/python-json.js';

/** Fixture folders, resolved from this file so tests run from any working directory. */
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const TORCH_REFERENCE = join(FIXTURES, 'torch-reference');
export const TRANSFORMERS_REFERENCE = join(FIXTURES, 'transformers');
/** The project's own model directory (models/kvkit-tiny at the repository root). */
export const KVKIT_TINY = fileURLToPath(new URL('../../../../models/kvkit-tiny/', import.meta.url));

/** reference.json of a torch-reference fixture: token ids and the logits of every position. */
export interface Reference {
  source: string;
  weights_dtype: 'float32' | 'float16' | 'bfloat16';
  prompt_tokens: number;
  ids: number[];
  logits: number[][];
  greedy: { ids: number[]; min_top2_gap: number };
}

export function torchFixtures(): string[] {
  return readdirSync(TORCH_REFERENCE, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

export function readReference(dir: string): Reference {
  return JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
}

/** Every file of a fixture directory, as the `{ files }` model source takes them. */
export function filesOf(dir: string): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (const name of readdirSync(dir)) files[name] = new Uint8Array(readFileSync(join(dir, name)));
  return files;
}

/** A fixture's files with fields of its config.json replaced by `patch` (read as Python writes JSON: Infinity too). */
export function withConfigPatch(dir: string, patch: Record<string, unknown>): Record<string, Uint8Array> {
  const files = filesOf(dir);
  const config = parsePythonJson(new TextDecoder().decode(files['config.json'])) as Record<string, unknown>;
  files['config.json'] = new TextEncoder().encode(JSON.stringify({ ...config, ...patch }));
  return files;
}

/** Rows [start, end) of a logits matrix, flattened. */
export function rows(logits: number[][], start: number, end: number): Float64Array {
  return Float64Array.from(logits.slice(start, end).flat());
}
