import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const SERVICES = ['gateway', 'registration', 'identity', 'campaign', 'delivery'];

/** A service reaches another only over Kafka; what they share lives in libs/ (contracts, domain, adapters). */
function serviceRooms(service) {
  const others = SERVICES.filter((s) => s !== service);
  const otherService = { regex: `(^|/)(${others.join('|')})/src(/|$)`, message: `services/${service} must not import another service's files: share through libs/ (contracts, domain, adapters) or talk over Kafka.` };
  const edge = { regex: '(^|/)edge(/|$)', message: 'application/ must not import edge/: the edge calls the application, not the other way round.' };
  return [
    { files: [`services/${service}/**/*.ts`], rules: { 'no-restricted-imports': ['error', { patterns: [otherService] }] } },
    { files: [`services/${service}/src/application/**/*.ts`], rules: { 'no-restricted-imports': ['error', { patterns: [otherService, edge] }] } },
  ];
}

/**
 * The gateway authenticates, validates, sends commands and queries to the streams' owners and reads read
 * models: it holds no decider and appends nothing. So no event store, no stream flows, no sealing, and of
 * the domain at most its types. Its own rule name, so it adds to the rooms rule instead of replacing it.
 */
const GATEWAY_MESSAGE = 'services/gateway appends nothing and decides nothing: ask the owning service (a command or a query over Kafka, see OwnerClient) and share shapes through @pushledger/contracts.';
const gatewayBoundary = {
  files: ['services/gateway/**/*.ts'],
  rules: {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        paths: [
          { name: '@pushledger/event-store', message: GATEWAY_MESSAGE },
          { name: '@pushledger/lifecycle', message: GATEWAY_MESSAGE },
          { name: '@pushledger/privacy', message: GATEWAY_MESSAGE },
          { name: '@pushledger/domain', allowTypeImports: true, message: `${GATEWAY_MESSAGE} (import type is allowed)` },
        ],
        patterns: [
          { group: ['@pushledger/event-store/*', '@pushledger/lifecycle/*', '@pushledger/privacy/*'], message: GATEWAY_MESSAGE },
          { regex: '(^|/)libs/(event-store|lifecycle|privacy)(/|$)', message: GATEWAY_MESSAGE },
          { group: ['@pushledger/domain/*'], allowTypeImports: true, message: `${GATEWAY_MESSAGE} (import type is allowed)` },
          { regex: '(^|/)libs/domain(/|$)', allowTypeImports: true, message: `${GATEWAY_MESSAGE} (import type is allowed)` },
        ],
      },
    ],
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.data/**', 'coverage/**', '**/*.js', '**/*.mjs', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: "MemberExpression[object.name='process'][property.name='env']", message: 'Read configuration through @pushledger/config only.' }],
    },
  },
  {
    files: ['libs/config/src/**/*.ts', 'libs/testing/src/**/*.ts', '**/*.spec.ts', '**/*.int-spec.ts', 'test/chaos/*.ts', 'bench/**/*.ts', 'tools/**/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['libs/domain/src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['@nestjs/*', 'kafkajs', 'mongoose', 'mongodb', 'pg', '@eventstore/*', 'firebase-admin', 'firebase-admin/*', '@pushledger/event-store', '@pushledger/kafka', '@pushledger/read-models', 'fs', 'net', 'http', 'https', 'node:*'] }],
    },
  },
  {
    // The web console runs in the browser: its own tsconfig (DOM, JSX), and it reaches Pushledger only through the HTTP API.
    files: ['console/**/*.ts', 'console/**/*.tsx'],
    languageOptions: { parserOptions: { project: './console/tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(@pushledger/|(\\.\\./)+(libs|services|tools)/)', message: 'The console is a browser client of the HTTP API: it imports no server code.' }] }],
    },
  },
  ...SERVICES.flatMap(serviceRooms),
  gatewayBoundary,
);
