// @ts-check
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

module.exports = tseslint.config(
  { ignores: ['node_modules/', 'backend/dist/', '.data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // One validated config object: only the config loader and entry points may touch the environment.
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read the config object (backend/src/config) instead.' }],
    },
  },
  {
    // Module borders: lib/ holds what any program could use and depends on nothing of this application's
    // domain; infra/ and config/ know no business module either.
    files: ['backend/src/lib/**/*.ts', 'backend/src/infra/**/*.ts', 'backend/src/config/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/modules/**', '**/pipeline/**', '**/http/**', '**/jobs/**'], message: 'lib/, infra/ and config/ depend on no module, pipeline stage, route or job.' }] },
      ],
    },
  },
  {
    // A handler's input is typed by its declaration's schemas (http/route.ts, defineRoute): a cast would
    // hide a schema that says something else.
    files: ['backend/src/modules/**/*.routes.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "TSAsExpression > MemberExpression.expression[object.name='input'][property.name=/^(body|query|params)$/], TSAsExpression > MemberExpression.expression[object.object.name='input'][object.property.name=/^(body|query|params)$/]",
          message: 'Declare the type on the schema (Joi.object<T>) instead of casting the input.',
        },
      ],
    },
  },
  {
    files: ['backend/src/server.ts', 'backend/src/worker.ts', 'backend/src/cli/**/*.ts', 'backend/test/**/*.ts', 'backend/bench/**/*.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', exports: 'writable', process: 'readonly', __dirname: 'readonly', console: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['knexfile.js'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
