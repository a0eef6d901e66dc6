// Lint: typescript-eslint's recommended rules, `any` banned so public types stay honest, the
// type-aware promise and switch rules (they need the type checker: parserOptions.projectService),
// no import cycles, and the architecture's folder boundaries (docs/architecture.md): the pure
// core never imports a Kafka or AWS client, nor an adapter folder.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

/** Folders of the functional core: operators, windows, watermarks, state and the commit state machine. */
const PURE = ['dsl', 'topology', 'time', 'state', 'commit'];
/** Adapter folders: I/O at the edge, behind the ports the pure folders declare. */
const ADAPTERS = ['kafka', 'dynamodb', 'lambda', 'local', 'deploy', 'cli', 'ops', 'testing'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.sluice/**', '.serverless/**', 'bench/kstreams/target/**', '**/*.js.map', 'test/fixtures/**/.serverless/**', 'templates/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver': undefined,
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      'import-x/no-cycle': 'error',
      'no-console': 'off',
    },
  },
  {
    files: PURE.map((dir) => `framework/${dir}/**/*.ts`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['kafkajs', 'kafkajs/*', '@platformatic/*', '@aws-sdk/*', 'aws-msk-iam-sasl-signer-js'], message: 'the pure core does no I/O: declare a port here and implement it in an adapter folder' },
            { group: ADAPTERS.map((dir) => `**/${dir}/**`), message: 'the pure core never imports an adapter: depend on a port (an interface in this folder) instead' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
