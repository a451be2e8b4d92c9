/**
 * `autolabel train-scene`: training the local scene classifier from labels the readers accept, on the 60 real
 * bdd100k-sample images, then labeling with the file through a config (provenance names it), and distilling the
 * labels of an earlier `autolabel label` run into a model.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadLabelingConfig } from '../src/adapters/config/load-config';
import { loadLabels } from '../src/adapters/files/load-labels';
import { createLabelingSetup } from '../src/adapters/providers/factory';
import { SceneModelParamsSchema } from '../src/adapters/providers/scene/local';
import { main } from '../src/cli/main';
import { labelImage } from '../src/core/pipeline/label-image';
import { ATTRIBUTE_NAMES } from '../src/core/taxonomy/attributes';
import { sampleImagesDir, sampleLabelsDir, sharedDir } from './helpers/shared';

const modelsDir = path.join(sharedDir, 'models');

function recorder() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t) }, out, err };
}

let work: string;
before(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'scene-train-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('autolabel train-scene', () => {
  it('refuses labels with a single class for an attribute, before computing anything', async () => {
    const labels = path.join(work, 'one-class');
    mkdirSync(labels);
    const names = readdirSync(sampleImagesDir).sort().slice(0, 12);
    for (const name of names)
      writeFileSync(
        path.join(labels, `${path.parse(name).name}.json`),
        JSON.stringify({ name, labels: [], attributes: { weather: 'clear', timeofday: 'daytime', scene: 'highway' } }),
      );
    const r = recorder();
    const code = await main(['train-scene', '--images', sampleImagesDir, '--labels', labels, '--out', path.join(work, 'x.json')], r.io);
    assert.equal(code, 2);
    assert.match(
      r.err.join(''),
      /weather: 12 labeled image\(s\) in 1 class\(es\); training needs at least 10 images in at least 2 classes/,
    );
  });

  it(
    'trains on ground truth, prints CV figures, and the config labels with the file (provenance names it)',
    { timeout: 180_000 },
    async () => {
      const out = path.join(work, 'gt-model.json');
      const r = recorder();
      const code = await main(
        ['train-scene', '--images', sampleImagesDir, '--labels', sampleLabelsDir, '--out', out, '--models-dir', modelsDir],
        r.io,
      );
      assert.equal(code, 0, r.err.join(''));
      const printed = r.out.join('');
      assert.match(printed, /60 labeled images/);
      for (const name of ATTRIBUTE_NAMES) assert.match(printed, new RegExp(`${name} +accuracy [0-9.]+%; ECE [0-9.]+`));
      const text = readFileSync(out, 'utf8');
      const params = SceneModelParamsSchema.parse(JSON.parse(text));
      const gt = (await loadLabels(sampleLabelsDir)).frames;
      for (const name of ATTRIBUTE_NAMES) {
        const labeled = gt.filter((f) => f.attributes?.[name] && f.attributes[name] !== 'undefined');
        assert.equal(params.calibration!.attributes[name].images, labeled.length);
        assert.deepEqual(
          Object.keys(params.calibration!.attributes[name].recall).sort(),
          [...new Set(labeled.map((f) => f.attributes![name]))].sort(),
        );
      }
      assert.equal(params.training.heldOutNames.length, 0);
      assert.equal(params.training.trainImages, 60);

      // Labeling with it, in a worker thread (the parameters travel to it): the file is named, its own thresholds apply.
      const setup = await createLabelingSetup(
        loadLabelingConfig({ scene: { provider: 'local', model: out }, detector: { provider: 'none' } }),
        {
          modelsDir,
          allowDownload: false,
          localWorkers: 1,
        },
      );
      try {
        const names = readdirSync(sampleImagesDir).sort().slice(0, 10);
        let agree = 0;
        for (const name of names) {
          const { frame } = await labelImage(readFileSync(path.join(sampleImagesDir, name)), name, setup);
          const scene = frame.provenance.scene!;
          assert.deepEqual(scene.file, { path: path.resolve(out), sha256: createHash('sha256').update(text).digest('hex') });
          assert.equal(scene.model, `mobilenetv2-int8+logreg@${params.version}`);
          for (const a of ATTRIBUTE_NAMES) {
            const min = params.calibration!.attributes[a].minConfidence;
            if (scene.abstained?.[a]) assert.ok(scene.abstained[a].confidence < min && frame.attributes?.[a] === 'undefined');
            else assert.ok((scene.confidence[a] as number) >= min);
          }
          const truth = gt.find((f) => f.name === name)?.attributes?.timeofday;
          if (frame.attributes?.timeofday === truth) agree++;
        }
        // Images it was trained on: timeofday (mostly daytime, brightness-separated) comes out as labeled.
        assert.ok(agree >= 8, `${agree}/10`);
      } finally {
        await setup.scene?.close?.();
      }

      // The app's way: the model file in its storage account (`blob:<container>/<name>`, read by the app's reader).
      const blobConfig = loadLabelingConfig({
        scene: { provider: 'local', model: 'blob:models/scenes.json' },
        detector: { provider: 'none' },
      });
      const asked: string[] = [];
      const fromBlob = await createLabelingSetup(blobConfig, {
        modelsDir,
        allowDownload: false,
        localWorkers: 0,
        readBlob: async (ref) => {
          asked.push(ref);
          return Buffer.from(text);
        },
      });
      try {
        const name = readdirSync(sampleImagesDir).sort()[0]!;
        const { frame } = await labelImage(readFileSync(path.join(sampleImagesDir, name)), name, fromBlob);
        assert.deepEqual(asked, ['models/scenes.json']);
        assert.deepEqual(frame.provenance.scene!.file, {
          path: 'blob:models/scenes.json',
          sha256: createHash('sha256').update(text).digest('hex'),
        });
      } finally {
        await fromBlob.scene?.close?.();
      }
      // The CLI has no storage account to read it from: it says so, before anything runs.
      await assert.rejects(createLabelingSetup(blobConfig, { modelsDir, allowDownload: false, localWorkers: 0 }), /read by the app only/);
    },
  );

  it(
    "distills an earlier `autolabel label` run: the labels it learns are the run's, not the ground truth's",
    { timeout: 180_000 },
    async () => {
      const run = path.join(work, 'run');
      const config = path.join(work, 'teacher.json');
      // The teacher answers every attribute (no abstention) so that every image teaches each attribute.
      writeFileSync(
        config,
        JSON.stringify({
          scene: { provider: 'local', minConfidence: { weather: 0, timeofday: 0, scene: 0 } },
          detector: { provider: 'none' },
        }),
      );
      const quiet = recorder();
      assert.equal(await main(['label', sampleImagesDir, '--out', run, '--config', config, '--models-dir', modelsDir], quiet.io), 0);
      const taught = (await loadLabels(path.join(run, 'labels'))).frames;
      assert.equal(taught.length, 60);

      const out = path.join(work, 'distilled.json');
      const r = recorder();
      const code = await main(
        ['train-scene', '--images', sampleImagesDir, '--labels', path.join(run, 'labels'), '--out', out, '--models-dir', modelsDir],
        r.io,
      );
      assert.equal(code, 0, r.err.join(''));
      const params = SceneModelParamsSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
      const gt = (await loadLabels(sampleLabelsDir)).frames;
      const countsOf = (frames: typeof gt, name: (typeof ATTRIBUTE_NAMES)[number]) => {
        const counts: Record<string, number> = {};
        for (const f of frames) {
          const v = f.attributes?.[name] as string | undefined;
          if (v && v !== 'undefined') counts[v] = (counts[v] ?? 0) + 1;
        }
        return counts;
      };
      let differs = 0;
      for (const name of ATTRIBUTE_NAMES) {
        // Every image once per CV repeat, with the class the run gave it.
        const c = params.calibration!;
        const learned = Object.fromEntries(Object.entries(c.attributes[name].recall).map(([k, r]) => [k, r.predictions / c.repeats]));
        assert.deepEqual(learned, countsOf(taught, name), name);
        if (JSON.stringify(countsOf(taught, name)) !== JSON.stringify(countsOf(gt, name))) differs++;
      }
      assert.ok(differs > 0, 'the run agrees with the ground truth on every class count: this test could not tell them apart');
    },
  );
});
