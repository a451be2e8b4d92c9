/**
 * What goes into the deployment package. The Functions entry point (package.json `main`: dist/src/app/functions/*.js)
 * must load with no devDependency installed, and .funcignore (gitignore syntax, read here by git itself) must leave in
 * every file that loading needs while leaving out tests, emulators and other platforms' binaries.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { registrations } from '../src/app/registry';
import '../src/app/functions';

const ROOT = path.resolve(__dirname, '..');
const packageJson = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  main: string;
  devDependencies: Record<string, string>;
};

/** Loads the compiled entry with every devDependency made unresolvable; prints the registered names and loaded files. */
const LOAD_WITHOUT_DEV_DEPENDENCIES = `
const Module = require('node:module');
const dev = JSON.parse(process.env.DEV_DEPENDENCIES);
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (dev.some((name) => request === name || request.startsWith(name + '/'))) throw new Error('a devDependency was required: ' + request);
  return resolve.call(this, request, ...rest);
};
require('./dist/src/app/functions/index.js');
const { registrations } = require('./dist/src/app/registry.js');
const { http, blob, queue, timer, orchestrations, activities } = registrations;
const names = [...[...http, ...blob, ...queue, ...timer].map((r) => r.name), ...Object.keys(orchestrations), ...Object.keys(activities)].sort();
process.stdout.write(JSON.stringify({ names, files: Object.keys(require.cache) }));
`;

let loaded: { names: string[]; files: string[] };
let ignoreRepo: string;

/** Which of `paths` .funcignore leaves out, decided by git's own gitignore matching in a scratch repository. */
function ignoredByFuncignore(paths: string[], funcignore = path.join(ROOT, '.funcignore')): Set<string> {
  copyFileSync(funcignore, path.join(ignoreRepo, '.gitignore'));
  const run = spawnSync('git', ['check-ignore', '--no-index', '--stdin'], { cwd: ignoreRepo, input: paths.join('\n'), encoding: 'utf8' });
  assert.ok(run.status === 0 || run.status === 1, run.stderr);
  return new Set(run.stdout.split('\n').filter(Boolean));
}

before(() => {
  assert.ok(existsSync(path.join(ROOT, 'dist/src/app/functions/index.js')), 'build first (npm test runs tsc)');
  assert.equal(packageJson.main, 'dist/src/app/functions/*.js');
  const child = spawnSync(process.execPath, ['-e', LOAD_WITHOUT_DEV_DEPENDENCIES], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, DEV_DEPENDENCIES: JSON.stringify(Object.keys(packageJson.devDependencies)) },
  });
  assert.equal(child.status, 0, child.stderr);
  loaded = JSON.parse(child.stdout) as { names: string[]; files: string[] };
  ignoreRepo = mkdtempSync(path.join(os.tmpdir(), 'funcignore-'));
  assert.equal(spawnSync('git', ['init', '-q'], { cwd: ignoreRepo }).status, 0);
});
after(() => rmSync(ignoreRepo, { recursive: true, force: true }));

test('the compiled entry point registers every function without any devDependency', () => {
  const { http, blob, queue, timer, orchestrations, activities } = registrations;
  const expected = [
    ...[...http, ...blob, ...queue, ...timer].map((r) => r.name),
    ...Object.keys(orchestrations),
    ...Object.keys(activities),
  ].sort();
  assert.ok(expected.length >= 15, expected.join(', '));
  assert.deepEqual(loaded.names, expected);
  const devLoaded = loaded.files.filter((file) =>
    Object.keys(packageJson.devDependencies).some((name) => file.includes(`/node_modules/${name}/`)),
  );
  assert.deepEqual(devLoaded, []);
});

test('.funcignore keeps every file the entry point loads, and host.json / package.json', () => {
  const relative = loaded.files.map((file) => path.relative(ROOT, file)).filter((file) => !file.startsWith('..'));
  assert.ok(
    relative.some((file) => file.startsWith('node_modules/onnxruntime-node/')),
    'the local detector runtime is among the loaded files',
  );
  const wanted = [...relative, 'host.json', 'package.json', 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node'];
  assert.deepEqual([...ignoredByFuncignore(wanted)], []);
});

test(".funcignore leaves out tests, local settings, emulators, the TypeScript toolchain and other platforms' binaries", () => {
  const unwanted = [
    'test/app-e2e.test.ts',
    'bench/label.ts',
    'local.settings.json',
    '.venv/bin/python',
    '.autolabel-local/endpoints.json',
    'node_modules/azurite/package.json',
    'node_modules/typescript/lib/tsc.js',
    'node_modules/playwright-core/package.json',
    'node_modules/onnxruntime-node/bin/napi-v6/win32/x64/onnxruntime_binding.node',
    'node_modules/onnxruntime-node/bin/napi-v6/darwin/arm64/onnxruntime_binding.node',
  ];
  assert.deepEqual(
    unwanted.filter((file) => !ignoredByFuncignore(unwanted).has(file)),
    [],
  );
  // The check can fail: a broad rule that drops node_modules would also drop what the entry loads.
  const broad = path.join(ignoreRepo, 'broad.funcignore');
  copyFileSync(path.join(ROOT, '.funcignore'), broad);
  spawnSync('sh', ['-c', `echo 'node_modules/' >> '${broad}'`]);
  assert.ok(ignoredByFuncignore(['node_modules/sharp/package.json'], broad).size === 1);
});
