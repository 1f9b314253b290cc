import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, writeRandomModel } from './random-model.js';

const cli = join(import.meta.dirname, '..', 'dist', 'cli.js');

// Each test runs the CLI on the real model in child processes: minutes on a busy 2-core machine.
describe('kv-bench CLI', { timeout: 180_000 }, () => {
  let model: string;
  let out: string;
  beforeAll(() => {
    model = writeRandomModel({ context: 256 });
    out = mkdtempSync(join(tmpdir(), 'kvbench-out-'));
  });
  afterAll(() => {
    rmSync(model, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  it('--list prints every method with its parameters and an example', () => {
    const text = execFileSync('node', [cli, '--list'], { encoding: 'utf8' });
    expect(text).toMatch(/^dense {2}\(@kvkit\/tensor-core\)/m);
    expect(text).toMatch(/dtype=<string>/);
    expect(text).toMatch(/--methods takes rows separated by commas/);
  });

  it('refuses an unknown method and a bad parameter with a clear message and exit code 1', () => {
    const unknown = spawnSync('node', [cli, '--model', model, '--methods', 'nope'], { encoding: 'utf8' });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/unknown method "nope"; available: dense/);
    const bad = spawnSync('node', [cli, '--model', model, '--methods', 'dense:dtype=f64'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/dtype=f64 is not allowed; allowed: f16, f32 \[INVALID_CONFIG\]/);
    const noModel = spawnSync('node', [cli, '--model', join(out, 'missing')], { encoding: 'utf8' });
    expect(noModel.status).toBe(1);
    expect(noModel.stderr).toMatch(/config\.json/);
  });

  it('runs end to end on a user text and writes the JSON records and a self-contained HTML report', () => {
    const textFile = join(out, 'text.txt');
    writeFileSync(textFile, readFileSync(join(REPO_ROOT, 'models', 'kvkit-tiny', 'eval', 'test.txt'), 'utf8').slice(0, 20000));
    const json = join(out, 'r.json');
    const html = join(out, 'r.html');
    const stdout = execFileSync(
      'node',
      [cli, '--model', model, '--text', textFile, '--methods', 'dense:dtype=f32,dense', '--windows', '1', '--window-tokens', '64', '--passkey-lengths', '96', '--passkey-per-cell', '1', '--json', json, '--html', html],
      { encoding: 'utf8' },
    );
    expect(stdout).toMatch(/method\s+ppl\s+Δppl\s+bpb\s+KL\s+recall\s+passkey\s+KV bytes\s+vs f16\s+decode tok\/s/);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(report.records).toHaveLength(2);
    for (const r of report.records) {
      for (const key of ['method', 'params', 'ppl', 'bpb', 'kl', 'recall', 'passkey', 'kvBytes', 'kvBytesF16', 'tokensPerSec']) expect(r).toHaveProperty(key);
      expect(r.ppl).toBeGreaterThan(1);
      expect(r.kvBytes).toBeGreaterThan(0);
    }
    expect(report.records[0].kl).toBe(0);
    expect(report.records[1].params).toEqual({ dtype: 'f16' });
    expect(report.records[1].kl).toBeGreaterThan(0);
    // f32 storage holds twice the bytes of the f16 baseline for the K/V part.
    expect(report.records[0].kvParts.keys).toBe(2 * report.records[1].kvParts.keys);
    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/<svg/);
    expect(page).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  });

  it('--workers 2 measures rows on worker threads and gives the same records as one thread', () => {
    const textFile = join(out, 'text-workers.txt');
    writeFileSync(textFile, readFileSync(join(REPO_ROOT, 'models', 'kvkit-tiny', 'eval', 'test.txt'), 'utf8').slice(0, 20000));
    const run = (workers: string) => {
      const json = join(out, `w${workers}.json`);
      const args = ['--model', model, '--text', textFile, '--methods', 'dense:dtype=f32,dense,dense:dtype=f32', '--windows', '1', '--window-tokens', '64'];
      execFileSync('node', [cli, ...args, '--passkey-lengths', '96', '--passkey-per-cell', '1', '--workers', workers, '--json', json], { encoding: 'utf8' });
      // Timings differ run to run; everything measured must not.
      return JSON.parse(readFileSync(json, 'utf8')).records.map((r: Record<string, unknown>) => ({ ...r, tokensPerSec: 0, prefillTokensPerSec: 0 }));
    };
    const one = run('1');
    expect(run('2')).toEqual(one);
    expect(one.map((r: { label: string }) => r.label)).toEqual(['dense:dtype=f32', 'dense', 'dense:dtype=f32']);
    const bad = spawnSync('node', [cli, '--model', model, '--text', textFile, '--workers', '0'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--workers must be a positive integer, got 0 \[INVALID_CONFIG\]/);
  });

  it('--half-weights keeps the shipped f16 checkpoint\'s matrices as stored in every worker and gives the same records', () => {
    const textFile = join(out, 'text-half.txt');
    writeFileSync(textFile, readFileSync(join(REPO_ROOT, 'models', 'kvkit-tiny', 'eval', 'test.txt'), 'utf8').slice(0, 20000));
    const run = (extra: string[]) => {
      const json = join(out, `half${extra.length}.json`);
      const args = ['--text', textFile, '--methods', 'dense,kivi:bits=2', '--windows', '1', '--window-tokens', '64', '--passkey-lengths', '96', '--passkey-per-cell', '1'];
      const stdout = execFileSync('node', [cli, ...args, '--workers', '2', '--json', json, ...extra], { encoding: 'utf8' });
      const report = JSON.parse(readFileSync(json, 'utf8'));
      return { stdout, matrixDtype: report.matrixDtype, records: report.records.map((r: Record<string, unknown>) => ({ ...r, tokensPerSec: 0, prefillTokensPerSec: 0 })) };
    };
    const [widened, half] = [run([]), run(['--half-weights'])];
    expect([widened.matrixDtype, half.matrixDtype]).toEqual(['f32', 'f16']);
    expect(half.stdout).toMatch(/kvkit-tiny \(f16 matrices as stored\)/);
    expect(half.records).toEqual(widened.records);
  });

  it('runs method+store rows (evict + quantize) on worker threads, and refuses a store on a method that takes none', () => {
    const textFile = join(out, 'text-store.txt');
    writeFileSync(textFile, readFileSync(join(REPO_ROOT, 'models', 'kvkit-tiny', 'eval', 'test.txt'), 'utf8').slice(0, 20000));
    const json = join(out, 'store.json');
    const args = ['--model', model, '--text', textFile, '--windows', '1', '--window-tokens', '64', '--passkey-lengths', '96', '--passkey-per-cell', '1'];
    execFileSync('node', [cli, ...args, '--methods', 'dense,h2o:budget=0.5,h2o:budget=0.5+quant:bits=4:group=8', '--workers', '2', '--json', json], { encoding: 'utf8' });
    const [, plain, composed] = JSON.parse(readFileSync(json, 'utf8')).records;
    expect(composed.label).toBe('h2o:budget=0.5+quant:bits=4:group=8');
    expect(composed.method).toBe('h2o+quant');
    expect(composed.store).toEqual({ name: 'quant', params: { bits: 4, group: 8, dtype: 'f16' } });
    expect(plain.store).toBeUndefined();
    // The same tokens kept in 4-bit codes: codes replace the f16 keys and values, and take fewer bytes.
    expect(composed.kvParts.keys).toBeUndefined();
    expect(composed.kvParts.codes).toBeGreaterThan(0);
    expect(composed.kvParts.codes + composed.kvParts.scales + composed.kvParts.zeros).toBeLessThan(plain.kvParts.keys + plain.kvParts.values);
    expect(composed.kl).toBeGreaterThan(0);
    const refused = spawnSync('node', [cli, ...args, '--methods', 'kivi:bits=2+quant:bits=4'], { encoding: 'utf8' });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/kivi takes no store; methods that do: .*h2o.* \[INVALID_CONFIG\]/);
    expect(execFileSync('node', [cli, '--help'], { encoding: 'utf8' })).toMatch(/h2o:budget=0\.5\+quant:bits=4 \(evict \+ quantize\)/);
  });

  it('calibrated rows fit on the calibration text first; without one they fail with a clear message', () => {
    const textFile = join(out, 'text-calibration.txt');
    const heldOut = readFileSync(join(REPO_ROOT, 'models', 'kvkit-tiny', 'eval', 'test.txt'), 'utf8');
    writeFileSync(textFile, heldOut.slice(0, 20000));
    const missing = spawnSync('node', [cli, '--model', model, '--text', textFile, '--methods', 'dense,kvquant:bits=4'], { encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/kvquant:bits=4 fit on calibration text, and .*calibration\.txt does not exist; pass --calibration FILE \[INVALID_CONFIG\]/);
    const calibrationFile = join(out, 'calibration.txt');
    // A slice of the shipped calibration text: enough to fit both methods, small enough to keep the test fast.
    writeFileSync(calibrationFile, readFileSync(join(REPO_ROOT, 'models', 'kvkit-tiny', 'eval', 'calibration.txt'), 'utf8').slice(0, 24000));
    const json = join(out, 'calibrated.json');
    execFileSync(
      'node',
      [cli, '--model', model, '--text', textFile, '--calibration', calibrationFile, '--methods', 'dense,kvquant:bits=8,eigen:ratio=1', '--windows', '1', '--window-tokens', '64', '--passkey-lengths', '96', '--passkey-per-cell', '1', '--json', json],
      { encoding: 'utf8' },
    );
    const [dense, kvquant, eigen] = JSON.parse(readFileSync(json, 'utf8')).records;
    // The fits ran and were used: a full-rank projection fitted on the calibration text barely moves
    // the model, and 8-bit KVQuant stays close while storing less.
    expect(eigen.kl).toBeLessThan(1e-3);
    expect(kvquant.kl).toBeGreaterThan(0);
    expect(kvquant.kl).toBeLessThan(5e-2);
    expect(kvquant.kvBytes).toBeLessThan(dense.kvBytes);
  });
});
