// Node module hook (see register.js): a .wat file loads as an ES module exporting its bytes.
import { fileURLToPath } from 'node:url';
import { watModuleCode } from './index.js';

export async function load(url, context, nextLoad) {
  if (!url.endsWith('.wat')) return nextLoad(url, context);
  return { format: 'module', source: await watModuleCode(fileURLToPath(url)), shortCircuit: true };
}
