/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test', '<rootDir>/sdk'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  transform: {
    // Transpile only: `npm run typecheck` (tsc) checks the types once for the whole project.
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  // ES-module-only dependencies (jose 6 under jwks-rsa, content-disposition 3 under @fastify/static):
  // Node 20.19+ loads them through require(), Jest's module runtime cannot, so Node loads them.
  moduleNameMapper: {
    '^(jose|content-disposition)$': '<rootDir>/test/support/esm-shims/$1.cjs',
  },
  // The device SDK's ESM sources import './x.js'; under ts-jest that is './x.ts' (sdk/ only).
  resolver: '<rootDir>/sdk/jest-resolver.cjs',
  testTimeout: 30000,
};
