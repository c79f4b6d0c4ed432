/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test', '<rootDir>/sdk'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  transform: {
    // Transpile only: `npm run typecheck` (tsc) checks the types once for the whole project.
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  // The device SDK's ESM sources import './x.js'; under ts-jest that is './x.ts' (sdk/ only).
  resolver: '<rootDir>/sdk/jest-resolver.cjs',
  testTimeout: 30000,
};
