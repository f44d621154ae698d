/**
 * The skip reporter in a real jest run (jest.config.js's reporter, on skips.fixture.ts):
 * each skip is printed with its tier and reason, and the total agrees with jest's own count.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../helpers/fixtures.js';

const fixture = 'test/programs/skip-report/skips.fixture.ts';

function jestOnFixture(extraArgs: string[] = []): string {
  const config = {
    rootDir: repoRoot,
    displayName: 'fixture',
    testMatch: [`<rootDir>/${fixture}`],
    // As jest.config.js: never crawl .cluster/, where container root filesystems come and go.
    roots: ['<rootDir>/test'],
    extensionsToTreatAsEsm: ['.ts'],
    transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'test/tsconfig.json' }] },
    moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
    reporters: ['default', '<rootDir>/test/helpers/skip-reporter.js'],
  };
  const jest = spawnSync(process.execPath, ['--experimental-vm-modules', path.join(repoRoot, 'node_modules/jest/bin/jest.js'), '--config', JSON.stringify(config), '--ci', ...extraArgs], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  expect([jest.status, jest.status === 0 ? '' : jest.stderr.slice(-2000)]).toEqual([0, '']);
  return jest.stderr;
}

test('every skipped test is printed with its tier and reason, per file and at the end, and counted as jest counts it', () => {
  const out = jestOnFixture();
  const suiteLine = `SKIPPED fixture: needs frobnicate (not installed) — "a suite without its program", 2 tests (${fixture})`;
  const testLine = `SKIPPED fixture: mounting needs root — "a test that needs root", 1 test (${fixture})`;
  const bareLine = `SKIPPED fixture: no reason given (skip through test/helpers/skip.ts) — 1 test (${fixture})`;
  const lines = out.split('\n');
  for (const line of [suiteLine, testLine, bareLine]) {
    expect(lines.filter((l) => l === line)).toHaveLength(1); // as the file finishes
    expect(lines.filter((l) => l === `  ${line}`)).toHaveLength(1); // in the run's summary
  }
  expect(lines).toContain('SKIPPED: 4 tests');
  expect(out).toMatch(/^Tests: +4 skipped, 1 passed, 5 total$/m);
});

test('tests left out by -t are counted, not listed one by one', () => {
  const out = jestOnFixture(['-t', 'runs']);
  expect(out.split('\n').filter((l) => l.startsWith('SKIPPED fixture:'))).toEqual([
    `SKIPPED fixture: needs frobnicate (not installed) — "a suite without its program", 2 tests (${fixture})`,
    `SKIPPED fixture: mounting needs root — "a test that needs root", 1 test (${fixture})`,
  ]);
  expect(out).toContain('SKIPPED: 4 tests\n');
  expect(out).toContain('  1 not selected by -t runs\n');
  expect(out).toMatch(/^Tests: +4 skipped, 1 passed, 5 total$/m);
});
