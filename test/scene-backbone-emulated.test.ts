/**
 * The scene backbone on an AVX2 CPU without VNNI (AMD EPYC Milan, the CPU of GitHub's runners and of many cloud
 * hosts), emulated by qemu-user: onnxruntime's int8 kernels saturate there, so the published model's outputs differ,
 * and the backbone must switch to unsigned weights and give the exact outputs recorded on a VNNI CPU. Needs
 * qemu-x86_64 (Debian: qemu-user; .ci/run installs it) and an x86-64 Node; about 25 s (emulation).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { BACKBONE_FILE, EXACT_DIGEST } from './helpers/backbone-digest';
import { sampleImagesDir } from './helpers/shared';

const DIGEST_SCRIPT = path.join(__dirname, 'helpers', 'backbone-digest.ts');
const CPU = 'EPYC-Milan';

function digestOnEmulatedCpu(mode: 'backbone' | 'published'): { weights: string; digest: string } {
  const run = spawnSync(
    'qemu-x86_64',
    ['-cpu', CPU, process.execPath, '--import', 'tsx', DIGEST_SCRIPT, BACKBONE_FILE, sampleImagesDir, mode],
    { encoding: 'utf8', timeout: 300_000 },
  );
  if (run.error) throw new Error(`cannot run qemu-x86_64 (Debian: apt-get install qemu-user; .ci/run installs it): ${run.error.message}`);
  const lines = run.stdout.trim().split('\n');
  assert.equal(
    run.status,
    0,
    `${mode} under qemu (${CPU}) exited ${run.status}: ${run.stderr
      .split('\n')
      .filter((l) => !/TCG doesn't support/.test(l))
      .join('\n')}`,
  );
  return JSON.parse(lines.at(-1)!) as { weights: string; digest: string };
}

test(`on an emulated ${CPU} (AVX2, no VNNI) the backbone switches to unsigned weights and gives the exact outputs`, (t) => {
  if (process.arch !== 'x64') {
    t.skip(`qemu-x86_64 runs this Node binary only on x86-64 (this is ${process.arch})`);
    return;
  }
  const published = digestOnEmulatedCpu('published');
  assert.notEqual(published.digest, EXACT_DIGEST, 'the published model saturates on this CPU: else this test could not fail');
  const backbone = digestOnEmulatedCpu('backbone');
  assert.deepEqual(backbone, { weights: 'unsigned weights', digest: EXACT_DIGEST });
});
