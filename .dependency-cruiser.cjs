/**
 * The direction of dependencies, checked on every `npm run lint` (and by test/dependency-rules.test.ts, which also
 * plants wrong-way imports to prove each rule bites):
 *
 *   src/core  <-  src/adapters  <-  src/app | src/cli        dev/ (the local host) -> src/app; nothing in src -> dev
 *
 * core is pure: itself, zod, and node modules that touch no file, process or network. No file takes part in a cycle.
 */
/** Node built-ins core may use: computation only (hashing, formatting, buffers). */
const PURE_NODE = '^(node:)?(crypto|util|buffer|assert|events|string_decoder)$';

module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'Files must not depend on each other in a circle.', from: {}, to: { circular: true } },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment: 'core imports only itself, zod and computing-only node modules (no fs, os, process, sharp, onnxruntime or Azure SDKs).',
      from: { path: '^src/core/' },
      to: { pathNot: ['^src/core/', '^node_modules/zod/', PURE_NODE] },
    },
    {
      name: 'adapters-below-app-and-cli',
      severity: 'error',
      comment: 'Adapters (decoding, files, environment, providers, reports) serve the app and the CLI, never the other way round.',
      from: { path: '^src/adapters/' },
      to: { path: '^src/(app|cli)/' },
    },
    {
      name: 'nothing-imports-the-cli',
      severity: 'error',
      comment: 'The CLI is an entry point: nothing in src depends on it.',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'the-app-does-not-use-the-cli',
      severity: 'error',
      comment: 'The Functions app and the CLI are separate entry points over the same core and adapters.',
      from: { path: '^src/app/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'the-product-knows-no-dev-tooling',
      severity: 'error',
      comment: 'dev/ (the local host) is development tooling: nothing that ships imports it.',
      from: { path: '^(src|bin)/' },
      to: { path: '^dev/' },
    },
    {
      name: 'no-test-code-outside-tests',
      severity: 'error',
      comment: 'Benchmarks may use the service stand-ins of test/fakes (they simulate remote providers).',
      from: { path: '^(src|dev|scripts)/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|\\.venv)/' },
    tsConfig: { fileName: 'tsconfig.check.json' },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
    moduleSystems: ['cjs', 'es6'],
  },
};
