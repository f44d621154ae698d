import { existsSync } from 'node:fs';

// Jest runs in native ESM mode (node --experimental-vm-modules) because several
// design-card dependencies (execa, @kubernetes/client-node) ship ESM only.
// Each tier is a project so `--selectProjects` runs one tier: `unit` is pure
// (no program but node), `programs` checks ajo's parts against real programs
// (python3, ansible-runner's Python modules, ansible-playbook, unzip). A suite
// whose program or infrastructure is missing is skipped through
// test/helpers/skip.ts, and the skip reporter prints why, then counts them all
// at the end of the run.
const tsJest = ['ts-jest', { useESM: true, tsconfig: 'test/tsconfig.json' }];
const common = {
  // Only these are crawled: the test cluster keeps container root filesystems under .cluster/,
  // which come and go while a run starts (a vanished package.json there once failed a run).
  roots: ['<rootDir>/operator', '<rootDir>/test'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': tsJest },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
};

const clusterSetup = existsSync('test/cluster/jest-global-setup.ts')
  ? { globalSetup: '<rootDir>/test/cluster/jest-global-setup.ts', globalTeardown: '<rootDir>/test/cluster/jest-global-teardown.ts' }
  : {};

/** @type {import('jest').Config} */
export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'programs', testMatch: ['<rootDir>/test/programs/**/*.test.ts'] },
    { ...common, displayName: 'conformance', testMatch: ['<rootDir>/test/conformance/**/*.test.ts'] },
    { ...common, displayName: 'cleanup', testMatch: ['<rootDir>/test/cleanup/**/*.test.ts'] },
    {
      ...common,
      displayName: 'cluster',
      testMatch: ['<rootDir>/test/cluster/**/*.test.ts', '<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/e2e/**/*.test.ts'],
      ...clusterSetup,
    },
    // Faults on purpose (components stopped, pods evicted): the same cluster set-up; `npm run
    // chaos` runs it alone, one file at a time, and the figures reporter prints its table.
    { ...common, displayName: 'chaos', testMatch: ['<rootDir>/test/chaos/**/*.test.ts'], ...clusterSetup },
  ],
  reporters: ['default', '<rootDir>/test/helpers/skip-reporter.js', '<rootDir>/test/chaos/figures-reporter.js'],
  testTimeout: 300000,
};
