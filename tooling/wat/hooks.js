// Node module hook (see register.js): a .wat file loads as an ES module exporting its bytes; a CUDA
// source (.cu, .cuh) as one exporting its text, as the builds' text loader gives it.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { watModuleCode } from './index.js';

export async function load(url, context, nextLoad) {
  if (url.endsWith('.wat')) return { format: 'module', source: await watModuleCode(fileURLToPath(url)), shortCircuit: true };
  if (url.endsWith('.cu') || url.endsWith('.cuh')) {
    const text = await readFile(fileURLToPath(url), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
