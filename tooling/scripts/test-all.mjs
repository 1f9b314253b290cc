#!/usr/bin/env node
// Runs every workspace's test suite through turbo, then sums the vitest JSON reports into the
// single `N passed, N failed` line CI reads. Exit status is non-zero when anything failed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const workspaceDirs = ['packages', 'apps', 'tooling']
  .map((dir) => join(root, dir))
  .filter((dir) => existsSync(dir))
  .flatMap((dir) => readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(dir, d.name)));

// Stale reports from an earlier run must not count; turbo restores fresh ones on a cache hit.
for (const dir of workspaceDirs) rmSync(join(dir, '.test-results'), { recursive: true, force: true });

const extraArgs = process.argv.slice(2);
const turbo = spawnSync('npx', ['turbo', 'run', 'test', '--continue', ...extraArgs], { cwd: root, stdio: 'inherit' });

let passed = 0;
let failed = 0;
let skipped = 0;
const rows = [];
for (const dir of workspaceDirs) {
  const pkgFile = join(dir, 'package.json');
  if (!existsSync(pkgFile)) continue;
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
  if (!pkg.scripts?.test) continue;
  const reportFile = join(dir, '.test-results', 'vitest.json');
  if (!existsSync(reportFile)) {
    // A suite that never produced a report (crash, build failure) is one failure, never silence.
    failed += 1;
    rows.push(`${pkg.name}: no test report (${relative(root, reportFile)} missing)`);
    continue;
  }
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  const brokenFiles = (report.testResults ?? []).filter((r) => r.status === 'failed' && (r.assertionResults ?? []).length === 0).length;
  passed += report.numPassedTests;
  failed += report.numFailedTests + brokenFiles;
  skipped += report.numPendingTests + (report.numTodoTests ?? 0);
  rows.push(`${pkg.name}: ${report.numPassedTests} passed, ${report.numFailedTests + brokenFiles} failed, ${report.numPendingTests} skipped`);
}

console.log('\nTest summary by workspace:');
for (const row of rows) console.log(`  ${row}`);
if (skipped > 0) console.log(`  (${skipped} skipped: see the suites above for the reason each gives)`);
if (turbo.status !== 0 && failed === 0) {
  failed += 1;
  console.log('turbo reported a failure outside the test reports (a build or type error): counted as 1 failure');
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
