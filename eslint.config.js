// @ts-check
import eslint from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    // Build output, local data, generated screenshots and installed packages are not source.
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/coverage/**',
      'data/**',
      'docs/screenshots/**',
      // Generated from the server's OpenAPI document (packages/sdk/scripts/generate.mjs).
      'packages/sdk/src/generated/**',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Every .ts/.tsx file is in a tsconfig (root, server, contracts, console) except the
        // Vite config, which runs in Node at build time and gets the default project.
        projectService: {
          allowDefaultProject: [
            '*.js',
            '*.mjs',
            '.dependency-cruiser.cjs',
            'bench/lib/*.cjs',
            'scripts/*.mjs',
            'packages/console/vite.config.ts',
          ],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // Fastify route handlers are async functions whose promise Fastify awaits.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
    },
  },
  {
    // The dependency-cruiser config is CommonJS run by Node (its loader expects module.exports).
    files: ['.dependency-cruiser.cjs', 'bench/lib/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
  },
  {
    // bench/lib/sqlite-trace.cjs: a `--require` preload (Node runs those in worker threads too,
    // `--import` ones not), patching better-sqlite3, an untyped CommonJS module, with require().
    files: ['bench/lib/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    rules: {
      ...tseslint.configs.disableTypeChecked.rules,
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // The admin console runs in the browser (its own tsconfig, found by the project service).
    files: ['packages/console/src/**/*.{ts,tsx}'],
    languageOptions: { globals: globals.browser },
  },
  {
    // Black-box tests read untyped JSON answers: `any` there is the honest type of a response body.
    files: ['tests/**/*.ts', '**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Plain JavaScript (this file, scripts/, bench/) runs in Node and is not type-checked.
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: globals.node,
    },
  },
);
