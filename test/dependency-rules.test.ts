/**
 * The layering rules (.dependency-cruiser.cjs, and ESLint's purity rule for src/core) hold on the real tree, and each
 * one bites: in a scratch tree with the same folders, a planted wrong-way import (core -> adapters, core -> fs,
 * providers -> app, app -> dev, anything -> cli) and a planted cycle are each reported under the rule's name.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ESLint } from 'eslint';

const ROOT = path.resolve(__dirname, '..');
const DEPCRUISE = path.join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
let scratch: string;

function depcruise(cwd: string, paths: string[]): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, [DEPCRUISE, ...paths, '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], {
    cwd,
    encoding: 'utf8',
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** A file in the scratch tree. */
function plant(file: string, text: string): void {
  const full = path.join(scratch, file);
  mkdirSync(path.dirname(full), { recursive: true });
  writeFileSync(full, text);
}

before(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'autolabel-layers-'));
  copyFileSync(path.join(ROOT, '.dependency-cruiser.cjs'), path.join(scratch, '.dependency-cruiser.cjs'));
  writeFileSync(path.join(scratch, 'tsconfig.check.json'), JSON.stringify({ compilerOptions: { module: 'commonjs', strict: true } }));
  // A well-behaved tree: core <- adapters <- app | cli, dev -> app.
  plant(
    'src/core/labels.ts',
    "import { createHash } from 'node:crypto';\nexport const id = (s: string) => createHash('sha256').update(s).digest('hex');\n",
  );
  plant(
    'src/adapters/files/read.ts',
    "import { readFileSync } from 'node:fs';\nimport { id } from '../../core/labels';\nexport const read = (f: string) => id(readFileSync(f, 'utf8'));\n",
  );
  plant('src/adapters/providers/scene.ts', "import { id } from '../../core/labels';\nexport const scene = () => id('x');\n");
  plant('src/app/service.ts', "import { read } from '../adapters/files/read';\nexport const serve = () => read('a');\n");
  plant('src/cli/main.ts', "import { read } from '../adapters/files/read';\nexport const run = () => read('a');\n");
  plant('dev/host.ts', "import { serve } from '../src/app/service';\nexport const start = () => serve();\n");
});

after(() => rmSync(scratch, { recursive: true, force: true }));

test('the real tree keeps every rule', () => {
  const { status, output } = depcruise(ROOT, ['src', 'dev', 'bench', 'scripts', 'test']);
  assert.equal(status, 0, output);
  assert.match(output, /no dependency violations found/);
});

test('a well-layered scratch tree passes, so the failures below come from the planted imports alone', () => {
  const { status, output } = depcruise(scratch, ['src', 'dev']);
  assert.equal(status, 0, output);
});

const planted: Array<{ why: string; file: string; text: string; rule: string }> = [
  {
    why: 'core -> adapters',
    file: 'src/core/bad-up.ts',
    text: "import { read } from '../adapters/files/read';\nexport const x = read;\n",
    rule: 'core-is-pure',
  },
  {
    why: 'core -> fs',
    file: 'src/core/bad-fs.ts',
    text: "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n",
    rule: 'core-is-pure',
  },
  {
    why: 'core -> zod is fine, core -> sharp is not',
    file: 'src/core/bad-sharp.ts',
    text: "import sharp from 'sharp';\nexport const x = sharp;\n",
    rule: 'core-is-pure',
  },
  {
    why: 'providers -> app',
    file: 'src/adapters/providers/bad.ts',
    text: "import { serve } from '../../app/service';\nexport const x = serve;\n",
    rule: 'adapters-below-app-and-cli',
  },
  {
    why: 'app -> dev',
    file: 'src/app/bad.ts',
    text: "import { start } from '../../dev/host';\nexport const x = start;\n",
    rule: 'the-product-knows-no-dev-tooling',
  },
  {
    why: 'adapters -> cli',
    file: 'src/adapters/bad-cli.ts',
    text: "import { run } from '../cli/main';\nexport const x = run;\n",
    rule: 'nothing-imports-the-cli',
  },
  {
    why: 'app -> cli',
    file: 'src/app/bad-cli.ts',
    text: "import { run } from '../cli/main';\nexport const x = run;\n",
    rule: 'the-app-does-not-use-the-cli',
  },
  {
    why: 'src -> test',
    file: 'src/app/bad-test.ts',
    text: "import { helper } from '../../test/helper';\nexport const x = helper;\n",
    rule: 'no-test-code-outside-tests',
  },
];

const cycle = [
  { file: 'src/app/a.ts', text: "import { b } from './b';\nexport const a = () => b;\n" },
  { file: 'src/app/b.ts', text: "import { a } from './a';\nexport const b = () => a;\n" },
];

/**
 * Every wrong-way import and the cycle planted at once in a copy of the scratch tree, and dependency-cruiser run
 * once over it (each run takes about a second): each test below then finds its own file under its own rule.
 */
let plantedRun: { status: number | null; output: string } | undefined;
function plantedOutput(): { status: number | null; output: string } {
  if (plantedRun) return plantedRun;
  plant('test/helper.ts', 'export const helper = 1;\n');
  const files = [...planted, ...cycle];
  for (const { file, text } of files) plant(file, text);
  try {
    plantedRun = depcruise(scratch, ['src', 'dev', 'test']);
  } finally {
    for (const { file } of files) rmSync(path.join(scratch, file));
  }
  return plantedRun;
}

for (const { why, file, rule } of planted) {
  test(`a planted wrong-way import is refused: ${why}`, () => {
    const { status, output } = plantedOutput();
    assert.notEqual(status, 0, output);
    assert.match(output, new RegExp(`error ${rule}: ${file.replace(/[.]/g, '\\.')}`), output);
  });
}

test('a planted cycle is refused', () => {
  const { status, output } = plantedOutput();
  assert.notEqual(status, 0, output);
  assert.match(output, /error no-cycles: src\/app\/(a|b)\.ts/);
});

test('ESLint refuses process, __dirname and __filename in src/core, and allows them elsewhere', async () => {
  const eslint = new ESLint({ cwd: ROOT });
  const code = 'export const cores = () => [process.env.X, __dirname, __filename];\n';
  const [inCore] = await eslint.lintText(code, { filePath: path.join(ROOT, 'src/core/planted.ts') });
  const rules = inCore!.messages.map((m) => `${m.ruleId}: ${m.message}`);
  assert.equal(rules.filter((r) => r.startsWith('no-restricted-globals')).length, 3, rules.join('\n'));
  const [inAdapters] = await eslint.lintText(code, { filePath: path.join(ROOT, 'src/adapters/planted.ts') });
  assert.deepEqual(
    inAdapters!.messages.filter((m) => m.ruleId === 'no-restricted-globals'),
    [],
  );
});
