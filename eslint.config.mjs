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
  ...SERVICES.flatMap(serviceRooms),
);
