// Unit tests (*.spec.ts) do no I/O; integration tests (*.int-spec.ts) talk to the real local engines,
// which the integration project's global setup brings up once per run.
const fs = require('fs');
const swc = JSON.parse(fs.readFileSync(__dirname + '/.swcrc.jest.json', 'utf8'));
const base = {
  rootDir: __dirname,
  transform: { '^.+\\.ts$': ['@swc/jest', { ...swc, swcrc: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: { '^@pushledger/([^/]+)$': '<rootDir>/libs/$1/src', '^@pushledger/([^/]+)/(.*)$': '<rootDir>/libs/$1/src/$2' },
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/.data/'],
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/.data/'],
};
module.exports = {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/{libs,services,tools,test}/**/*.spec.ts'] },
    {
      ...base,
      displayName: 'integration',
      testMatch: ['<rootDir>/{libs,services,tools,test}/**/*.int-spec.ts'],
      globalSetup: '<rootDir>/libs/testing/src/global-setup.js',
      setupFilesAfterEnv: ['<rootDir>/libs/testing/src/integration-setup.js'],
      slowTestThreshold: 60,
    },
  ],
};
