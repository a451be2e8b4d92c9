/**
 * `npm run demo`: a first look at the evaluator without predictions of your own. It makes predictions for the
 * 60 real BDD100K sample images with the SIMULATED detector of bench/synthetic.ts (ground truth perturbed on
 * purpose: dropped, jittered and invented boxes, some wrong scene attributes), writes them as Scalabel frames under
 * out/demo/simulated-predictions/, and runs `autolabel evaluate` on them. The numbers describe that simulation,
 * not any model.
 */
import path from 'node:path';
import { loadLabels } from '../src/core/labels/load';
import { writeScalabelFiles } from '../src/core/labels/write';
import { main } from '../src/cli/main';
import { seededRandom, simulatePredictions } from './synthetic';

const repo = path.resolve(__dirname, '..');
const shared = process.env.AUTOLABEL_SHARED_DIR ?? path.resolve(repo, '../shared');
const gtDir = path.join(shared, 'bdd100k-sample', 'labels');
const out = path.join(repo, 'out', 'demo');

async function demo(): Promise<number> {
  const gt = await loadLabels(gtDir);
  const random = seededRandom(2026);
  const predictionsDir = path.join(out, 'simulated-predictions');
  await writeScalabelFiles(predictionsDir, gt.frames.map((frame) => simulatePredictions(frame, random)));
  console.log(`simulated predictions for ${gt.frames.length} sample images -> ${predictionsDir}\n`);
  return main(['evaluate', '--gt', gtDir, '--pred', predictionsDir, '--out', out]);
}

demo().then(
  (code) => (process.exitCode = code),
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
