/**
 * `npm run test:unit` (scripts/test-unit.ts) runs every test file that NOT_UNIT does not list. This keeps the list
 * true both ways: a file it leaves in must not use what the quick run does not have (local services, the local
 * host, a browser, Python, the compiled app), and a file it lists must still use one of them. `npm test` runs every
 * file whatever the list says.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { allTestFiles, NOT_UNIT, TEST_DIR, unitTestFiles } from '../scripts/test-unit';

/** What a test file uses that the quick run does not start or build, recognised by its imports and calls. */
const NEEDS: Array<[string, RegExp]> = [
  [
    'Azurite or the Cosmos DB stand-in',
    /helpers\/(local-services|app|managed-identity-server)'|startLocalServices|useLocalServices|useAppRuntime/,
  ],
  ['Azurite itself', /from 'azurite|require\('azurite'\)|dev\/local-host\/(azurite|cosmos)/],
  // The local host's modules; its constants (host-names.ts) are plain values.
  ['the local host', /dev\/local-host\/(?!blob-trigger\/host-names')/],
  ['a browser', /helpers\/browser'|launchChromium/],
  ['Python', /helpers\/python'|runPython|pythonPath\(/],
  ['the compiled app (dist/)', /'dist'|dist\/src\/|'bin',\s*'autolabel\.js'/],
  // Seconds of model time per folder: the quick run keeps to tests of single images.
  ['a whole folder labeled with the local models', /main\(\['label',/],
  ['an emulated CPU (qemu-user)', /'qemu-x86_64'/],
];

const needs = (source: string): string[] => NEEDS.filter(([, pattern]) => pattern.test(source)).map(([what]) => what);
const source = (name: string) => readFileSync(path.join(TEST_DIR, name), 'utf8');

test('the quick run leaves out exactly the files that need something started or built', () => {
  const unit = unitTestFiles();
  assert.ok(unit.length >= 30, unit.join(', '));
  // This file names every pattern, so it is not scanned itself.
  for (const name of unit.filter((n) => n !== path.basename(__filename)))
    assert.deepEqual(
      needs(source(name)),
      [],
      `${name} is in npm run test:unit but needs these: list it in NOT_UNIT (scripts/test-unit.ts)`,
    );
  for (const name of Object.keys(NOT_UNIT))
    assert.notDeepEqual(
      needs(source(name)),
      [],
      `${name} is left out of npm run test:unit, but needs nothing it lacks: remove it from NOT_UNIT`,
    );
  // Every file runs in one of the two groups; npm test runs both.
  assert.equal(unit.length + Object.keys(NOT_UNIT).length, allTestFiles().length);
});

test('the selection check can fail: a new file using a service is flagged, a stale NOT_UNIT entry refused', () => {
  assert.deepEqual(needs("import { useLocalServices } from './helpers/local-services';"), ['Azurite or the Cosmos DB stand-in']);
  assert.deepEqual(needs("import { startHost } from '../dev/local-host/host/start-host';"), ['the local host']);
  assert.deepEqual(needs("import { HOST_MAX_ATTEMPTS } from '../dev/local-host/blob-trigger/host-names';"), []);
  assert.deepEqual(needs("const bin = path.resolve(__dirname, '..', 'bin', 'autolabel.js');"), ['the compiled app (dist/)']);
  assert.deepEqual(needs('const browser = await launchChromium();'), ['a browser']);
  assert.deepEqual(needs("await main(['label', imagesDir, '--out', out], io);"), ['a whole folder labeled with the local models']);
  assert.deepEqual(needs("spawnSync('qemu-x86_64', ['-cpu', CPU, process.execPath]);"), ['an emulated CPU (qemu-user)']);
  assert.throws(
    () => unitTestFiles(allTestFiles().filter((name) => name !== 'app-e2e.test.ts')),
    /NOT_UNIT lists files that do not exist: app-e2e/,
  );
});
