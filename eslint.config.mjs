// Lint for every package: typescript-eslint's recommended rules plus a few the platform relies on.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.turbo/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': ['error', { allow: ['error', 'warn'] }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // Tests, demos, benchmarks and the CLI print to the terminal on purpose.
    files: ['**/*.test.ts', 'examples/**/*.ts', 'bench/**/*.ts', 'packages/cli/**/*.ts', 'jest/**/*.ts', 'test/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
