/**
 * The synthetic evaluation set of bench/evaluate.ts, written in the two layouts it compares: one COCO file per side
 * (what pycocotools reads), and one Scalabel file per image and side, the layout `autolabel label` writes (pretty
 * JSON, predictions with provenance). GT frames are the shared labels copied under new names; predictions come from
 * the simulated detector of bench/synthetic.ts, which is labelled synthetic in the provenance of every frame.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadLabels } from '../src/adapters/files/load-labels';
import { writeCocoExport, writeScalabelFiles } from '../src/adapters/files/write-labels';
import type { Frame } from '../src/core/labels/schema';
import { resolveCategory } from '../src/core/taxonomy/categories';
import { seededRandom, simulatePredictions, syntheticProvenance } from './synthetic';

export interface EvaluationSet {
  images: number;
  gtBoxes: number;
  predBoxes: number;
  coco: { gt: string; pred: string; bytes: number };
  files: { gt: string; pred: string; bytes: number };
}

/**
 * A detector predicts classes it knows; BDD's ignore classes (other vehicle, trailer, ...) only mark GT regions. The
 * simulator copies GT categories, so those are dropped: evaluate() leaves such predictions out, while the COCO export
 * files them under the class they stand for, and the two layouts would no longer hold the same predictions.
 */
const detectorClassesOnly = (frame: Frame): Frame => ({
  ...frame,
  labels: frame.labels.filter((label) => resolveCategory(label.category).kind === 'class'),
});

const folderBytes = (dir: string) => fs.readdirSync(dir).reduce((n, name) => n + fs.statSync(path.join(dir, name)).size, 0);

/**
 * Builds the set under `dir`. `lowScoreBoxes` per image make the predictions look like a detector's at a low score
 * threshold (COCO evaluation keeps up to 100 boxes per image and class, and most of its work is on these).
 */
export async function buildEvaluationSet(dir: string, options: { images: number; lowScoreBoxes: number; shared: string }) {
  const sources: Frame[] = [];
  for (const labels of ['bdd100k-sample/labels', 'bdd100k-scenes/labels']) {
    sources.push(...(await loadLabels(path.join(options.shared, labels))).frames);
  }
  const random = seededRandom(20261123);
  const provenanceRandom = seededRandom(7);
  const gt: Frame[] = [];
  const predictions: Frame[] = [];
  for (let i = 0; i < options.images; i++) {
    const source = sources[i % sources.length]!;
    const name = `bench-${String(i).padStart(6, '0')}.jpg`;
    gt.push({ ...source, name });
    const predicted = detectorClassesOnly(simulatePredictions(source, random, name, { lowScoreBoxes: options.lowScoreBoxes }));
    predictions.push({ ...predicted, provenance: syntheticProvenance(i, predicted.labels.length, provenanceRandom) });
  }
  const gtExport = await writeCocoExport(path.join(dir, 'coco-gt'), { groundTruth: gt });
  const predExport = await writeCocoExport(path.join(dir, 'coco-pred'), { groundTruth: gt, predictions });
  const files = { gt: path.join(dir, 'files-gt'), pred: path.join(dir, 'files-pred') };
  await writeScalabelFiles(files.gt, gt);
  await writeScalabelFiles(files.pred, predictions);
  const coco = { gt: gtExport.instancesFile, pred: predExport.resultsFile! };
  return {
    images: options.images,
    gtBoxes: gtExport.instances.written,
    predBoxes: predExport.results!.written,
    coco: { ...coco, bytes: fs.statSync(coco.gt).size + fs.statSync(coco.pred).size },
    files: { ...files, bytes: folderBytes(files.gt) + folderBytes(files.pred) },
  } satisfies EvaluationSet;
}
