/**
 * What goes into the deployment package. The Functions entry point (package.json `main`: dist/src/app/functions/*.js)
 * must load with no devDependency installed, and .funcignore (gitignore syntax, read here by git itself) must leave in
 * every file that loading needs while leaving out tests, emulators and other platforms' binaries.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { loadEntry, type LoadedEntry } from './helpers/registered-functions';

const ROOT = path.resolve(__dirname, '..');
const packageJson = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  main: string;
  devDependencies: Record<string, string>;
};

let loaded: LoadedEntry;
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
  loaded = loadEntry({
    entry: path.join(ROOT, 'dist/src/app/functions/index.js'),
    loader: 'node',
    forbidden: Object.keys(packageJson.devDependencies),
  });
  ignoreRepo = mkdtempSync(path.join(os.tmpdir(), 'funcignore-'));
  assert.equal(spawnSync('git', ['init', '-q'], { cwd: ignoreRepo }).status, 0);
});
after(() => rmSync(ignoreRepo, { recursive: true, force: true }));

test('the compiled entry point registers every function without any devDependency', () => {
  const expected = loadEntry().functions.map((f) => [f.name, f.trigger.type]);
  assert.ok(expected.length >= 15, expected.join(', '));
  assert.deepEqual(
    loaded.functions.map((f) => [f.name, f.trigger.type]),
    expected,
  );
  const devLoaded = loaded.files.filter((file) =>
    Object.keys(packageJson.devDependencies).some((name) => file.includes(`/node_modules/${name}/`)),
  );
  assert.deepEqual(devLoaded, []);
});

test('the package holds no development tooling: the build compiles only src/, the entry loads nothing from dev/', () => {
  const compiled = readdirSync(path.join(ROOT, 'dist'), { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.js'));
  assert.ok(compiled.length > 50, `${compiled.length} compiled files`);
  assert.deepEqual(
    compiled.filter((file) => !file.startsWith(`src${path.sep}`)),
    [],
  );
  const outsideSrc = loaded.files
    .map((file) => path.relative(ROOT, file))
    .filter((file) => !file.startsWith('..') && !file.startsWith('node_modules/') && !file.startsWith('dist/src/'));
  assert.deepEqual(outsideSrc, []);
  assert.deepEqual(
    ['dev/local-host/host/main.ts', 'dev/local-host/durable/local-durable.ts'].filter((file) => !ignoredByFuncignore([file]).has(file)),
    [],
  );
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
