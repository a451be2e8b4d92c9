/**
 * What goes into the deployment package. azd zips the root minus .funcignore (gitignore syntax, read here by git
 * itself) and the platform builds it (remoteBuild): the zip holds the sources and what the build needs, nothing
 * installed or built on the deploying machine. The compiled entry point (package.json `main`:
 * dist/src/app/functions/*.js) must load with no devDependency installed and nothing from dev/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
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

/** The files azd would zip: everything under the root that .funcignore does not leave out (directories pruned whole). */
function packagedFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    const entries = readdirSync(path.join(ROOT, dir), { withFileTypes: true }).map((e) => ({
      relative: dir ? `${dir}/${e.name}` : e.name,
      isDirectory: e.isDirectory(),
    }));
    const ignored = ignoredByFuncignore(entries.map((e) => (e.isDirectory ? `${e.relative}/` : e.relative)));
    for (const entry of entries) {
      if (ignored.has(entry.isDirectory ? `${entry.relative}/` : entry.relative)) continue;
      if (entry.isDirectory) walk(entry.relative);
      else files.push(entry.relative);
    }
  };
  walk('');
  return files;
}

test('the zip (remote build): the sources, package.json + lock, host.json and tsconfig.json; no node_modules, no dist/', (t) => {
  const files = packagedFiles();
  const bytes = files.reduce((sum, file) => sum + statSync(path.join(ROOT, file)).size, 0);
  t.diagnostic(`${files.length} files, ${(bytes / 1024 / 1024).toFixed(1)} MiB`);
  for (const needed of ['package.json', 'package-lock.json', 'host.json', 'tsconfig.json', 'src/app/functions/index.ts']) {
    assert.ok(files.includes(needed), `${needed} is in the package`);
  }
  // The remote build compiles what tsconfig.json includes, with the data files the sources import.
  const sources = readdirSync(path.join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).map(
    (f) => `src/${f.split(path.sep).join('/')}`,
  );
  const compiledInputs = sources.filter((f) => f.endsWith('.ts') || f.endsWith('.json'));
  assert.deepEqual(
    compiledInputs.filter((f) => !files.includes(f)),
    [],
  );
  assert.ok(files.includes('src/adapters/providers/scene/local/scene-model.json'));
  const unwanted = /^(node_modules|dist|dev|test|bench|infra|scripts|\.venv|\.autolabel-local|\.ci|\.git)\/|^local\.settings.*\.json$/;
  assert.deepEqual(
    files.filter((f) => unwanted.test(f)),
    [],
  );
  assert.ok(bytes < 5 * 1024 * 1024, `${bytes} bytes: the package should be sources only`);
});

test('the remote build can build it: npm install brings the compiler, npm run build writes the entry package.json names', () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  // Oryx runs `npm install` (devDependencies included) then `npm run build`.
  assert.match(pkg.scripts.build!, /\btsc -p tsconfig\.json\b/);
  assert.ok(pkg.devDependencies.typescript && pkg.devDependencies['@types/node']);
  const tsconfig = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8')) as {
    compilerOptions: { outDir: string; rootDir: string };
  };
  assert.equal(`${tsconfig.compilerOptions.outDir}/src/app/functions/*.js`, packageJson.main);
  assert.deepEqual(
    [
      'node_modules/sharp/package.json',
      'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
      'dist/src/app/functions/index.js',
    ].filter((f) => !ignoredByFuncignore([f]).has(f)),
    [],
    'nothing installed or built on the deploying machine goes',
  );
});
