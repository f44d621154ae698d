// Jest runs in native ESM mode (node --experimental-vm-modules) because several
// design-card dependencies (execa, @kubernetes/client-node) ship ESM only.
const tsJest = ['ts-jest', { useESM: true, tsconfig: 'test/tsconfig.json' }];
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': tsJest },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
};

/** @type {import('jest').Config} */
export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'conformance', testMatch: ['<rootDir>/test/conformance/**/*.test.ts'] },
  ],
  testTimeout: 120000,
};
