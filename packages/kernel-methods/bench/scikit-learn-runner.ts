// Runs tooling/fixtures/kernel_methods_sklearn.py in its own process on the rows a benchmark hands
// over. Kept apart from spam-cases.ts (which reads the test fixtures when loaded) so that the GPU
// check's bundle (tooling/gpu/kernel-methods-check.ts) can use it on a machine without them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ScikitLearnRunOptions {
  /** The Python interpreter (default Debian's /usr/bin/python3, which has scikit-learn here). */
  python?: string;
  /** The script (default tooling/fixtures/kernel_methods_sklearn.py next to this file's repository). */
  script?: string;
  /** Kill the process after this many ms (default: no limit). */
  timeoutMs?: number;
}

/** Runs the scikit-learn script with `flag` on `spec` and returns its JSON output. */
export function runScikitLearn<T>(flag: string, spec: unknown, options: ScikitLearnRunOptions = {}): T {
  const dir = mkdtempSync(join(tmpdir(), 'kvkit-km-bench-'));
  const input = join(dir, 'input.json');
  const output = join(dir, 'output.json');
  writeFileSync(input, JSON.stringify(spec));
  const script = options.script ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'tooling/fixtures/kernel_methods_sklearn.py');
  const python = spawnSync(options.python ?? '/usr/bin/python3', [script, flag, input, '--bench-output', output], {
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: options.timeoutMs,
  });
  if (python.status !== 0) throw new Error(`the scikit-learn timing script failed (${python.error?.message ?? `exit ${python.status}`})`);
  return JSON.parse(readFileSync(output, 'utf8')) as T;
}
