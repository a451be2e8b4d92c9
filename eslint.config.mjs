// ESLint for the TypeScript tree (typescript-eslint's recommended rules, without type information: fast enough to
// run in CI on two cores). Formatting is Prettier's job (npm run format); dependency direction is dependency-cruiser's
// (.dependency-cruiser.cjs).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.venv/', '.autolabel-local/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      // Unused names are mistakes, except deliberately ignored ones (`_x`) and rest siblings that drop keys.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Tests and SDK seams read loosely typed JSON; `any` is allowed where it is spelled out.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-require-imports': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': 'off',
    },
  },
  {
    // The pure core reads no environment and no files: what it needs comes in as arguments (see ConfigContext).
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'core is pure: take what you need from process (env, cwd, cores) as an argument.' },
        { name: '__dirname', message: 'core is pure: it locates no files.' },
        { name: '__filename', message: 'core is pure: it locates no files.' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: {
      globals: { require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly', console: 'readonly' },
    },
    // Plain CommonJS launchers: require is how they load the compiled code.
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
