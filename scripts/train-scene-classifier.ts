/**
 * Train the committed `local` scene classifier (npm run train:scene):
 *
 *   node --import tsx scripts/train-scene-classifier.ts [--shared DIR] [--models-dir DIR] [--out FILE]
 *        [--backbone-output auto|output|features] [--no-compare]
 *
 * The training itself is the product's (src/adapters/providers/scene/local/trainer.ts, also run by
 * `autolabel train-scene`); this wrapper gives it the 158 distinct labeled BDD100K images of ../shared (bdd100k-scenes:
 * 100, bdd100k-sample: 60, 2 in both), holds out ~28% with a seeded, stratified split (the names go into the params;
 * they take no part in any choice and are scored at the end), and writes
 * src/adapters/providers/scene/local/scene-model.json. The calibration figures are cross-validated on all 158.
 * Deterministic (same inputs and CPU, same file). About 4.5 minutes on 2 busy cores (260 s measured); --no-compare
 * (skip the `features` side of the logits-vs-embedding comparison) halves that.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readImage } from '../src/adapters/image/intake';
import { MOBILENETV2_INT8, resolveModelFile } from '../src/adapters/providers/models/model-files';
import { formatSceneParams, trainSceneModel } from '../src/adapters/providers/scene/local/trainer';
import { loadLabeledScenes } from '../src/adapters/providers/scene/local/training-data';

const SPLIT_SEED = 'bdd-scenes-holdout-v1';
const HOLDOUT_FRACTION = 0.28;

const repoRoot = path.resolve(__dirname, '..');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      shared: { type: 'string' },
      'models-dir': { type: 'string' },
      out: { type: 'string' },
      'backbone-output': { type: 'string', default: 'auto' },
      'no-compare': { type: 'boolean', default: false },
    },
  });
  const shared = path.resolve(values.shared ?? process.env.AUTOLABEL_SHARED_DIR ?? path.join(repoRoot, '..', 'shared'));
  const modelsDir = path.resolve(values['models-dir'] ?? process.env.AUTOLABEL_MODELS_DIR ?? path.join(shared, 'models'));
  const outFile = path.resolve(values.out ?? path.join(repoRoot, 'src', 'adapters', 'providers', 'scene', 'local', 'scene-model.json'));
  const backboneOutput = values['backbone-output'];
  if (backboneOutput !== 'auto' && backboneOutput !== 'output' && backboneOutput !== 'features')
    throw new Error('--backbone-output must be auto, output or features');

  const labeled = await loadLabeledScenes(shared, (name, differs) =>
    console.warn(`  ${name}: in both sets, labels differ on ${differs.join(', ')}; keeping bdd100k-scenes`),
  );
  const params = await trainSceneModel(
    labeled.map((item) => ({
      name: item.name,
      labels: item.labels,
      load: async () => readImage(await fs.readFile(item.file), item.name, { maxBytes: 50_000_000, maxPixels: 100_000_000, minSide: 16 }),
    })),
    {
      backboneFile: await resolveModelFile(MOBILENETV2_INT8, { modelsDir, allowDownload: false }),
      holdout: { fraction: HOLDOUT_FRACTION, seed: SPLIT_SEED },
      backboneOutput,
      compare: !values['no-compare'],
      log: (line) => console.log(line),
    },
  );
  const text = formatSceneParams(params);
  await fs.writeFile(outFile, text);
  console.log(`wrote ${path.relative(process.cwd(), outFile)} (${(text.length / 1024).toFixed(0)} KB, version ${params.version})`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
