import type { Frame, Label } from '../labels/schema';
import { BDD_CLASSES, resolveCategory, type BddClass } from '../taxonomy/categories';

/** `coco`: w = x2 - x1 (pycocotools). `bdd`: w = x2 - x1 + 1, the inclusive-pixel Scalabel convention. */
export type BoxMode = 'coco' | 'bdd';

export interface EvalBox {
  x: number;
  y: number;
  w: number;
  h: number;
  /** GT: the COCO annotation area when given, else w*h. Detections: always w*h (as pycocotools' loadRes). */
  area: number;
  crowd: boolean;
  classIndex: number;
  score: number;
  label: Label;
}

export interface EvalImage {
  name: string;
  gt: EvalBox[];
  dt: EvalBox[];
  /** The same boxes bucketed by class index, in input order (evaluation works one class at a time). */
  gtByClass: EvalBox[][];
  dtByClass: EvalBox[][];
  hasPrediction: boolean;
}

export interface EvalDataset {
  classes: readonly BddClass[];
  /** In evaluation order: the GT frames' order (pycocotools breaks score ties by image order). */
  images: EvalImage[];
  predictionsWithoutGt: string[];
  /** Category names outside the taxonomy, with their counts; such labels are not evaluated. */
  unknownGtCategories: Record<string, number>;
  unknownPredictionCategories: Record<string, number>;
  /** Predicted labels naming a non-evaluated class (e.g. `other vehicle`) or missing a score. */
  predictionsNotEvaluated: { ignoredClass: number; withoutScore: number; withoutBox: number };
}

function toEvalBox(label: Label, classIndex: number, crowd: boolean, mode: BoxMode, isGt: boolean): EvalBox | undefined {
  const box = label.box2d;
  if (!box) return undefined;
  const extra = mode === 'bdd' ? 1 : 0;
  const w = box.x2 - box.x1 + extra;
  const h = box.y2 - box.y1 + extra;
  const area = isGt && mode === 'coco' && label.area !== undefined ? label.area : w * h;
  return { x: box.x1, y: box.y1, w, h, area, crowd, classIndex, score: label.score ?? 0, label };
}

const count = (tally: Record<string, number>, key: string) => {
  tally[key] = (tally[key] ?? 0) + 1;
};

/** Frame names are matched by file name, so `images/a.jpg` and `a.jpg` denote the same image. */
export const imageKey = (name: string) => name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);

export function buildEvalDataset(gtFrames: readonly Frame[], predFrames: readonly Frame[], mode: BoxMode): EvalDataset {
  const classIndex = new Map<string, number>(BDD_CLASSES.map((c, i) => [c, i]));
  const unknownGtCategories: Record<string, number> = {};
  const unknownPredictionCategories: Record<string, number> = {};
  const notEvaluated = { ignoredClass: 0, withoutScore: 0, withoutBox: 0 };

  const images: EvalImage[] = [];
  const byKey = new Map<string, EvalImage>();
  for (const frame of gtFrames) {
    const image: EvalImage = {
      name: frame.name,
      gt: [],
      dt: [],
      gtByClass: BDD_CLASSES.map(() => []),
      dtByClass: BDD_CLASSES.map(() => []),
      hasPrediction: false,
    };
    for (const label of frame.labels) {
      const resolved = resolveCategory(label.category, label.attributes?.['crowd'] === true);
      if (resolved.kind === 'unknown') {
        if (label.box2d) count(unknownGtCategories, resolved.raw);
        continue;
      }
      const box = toEvalBox(label, classIndex.get(resolved.category)!, resolved.kind === 'crowd', mode, true);
      if (box) {
        image.gt.push(box);
        image.gtByClass[box.classIndex]!.push(box);
      }
    }
    images.push(image);
    byKey.set(imageKey(frame.name), image);
  }

  const predictionsWithoutGt: string[] = [];
  for (const frame of predFrames) {
    const image = byKey.get(imageKey(frame.name));
    if (!image) {
      predictionsWithoutGt.push(frame.name);
      continue;
    }
    image.hasPrediction = true;
    for (const label of frame.labels) {
      const resolved = resolveCategory(label.category);
      if (resolved.kind === 'unknown') {
        count(unknownPredictionCategories, resolved.raw);
        continue;
      }
      if (resolved.kind === 'crowd') {
        notEvaluated.ignoredClass++;
        continue;
      }
      if (label.score === undefined) {
        notEvaluated.withoutScore++;
        continue;
      }
      const box = toEvalBox(label, classIndex.get(resolved.category)!, false, mode, false);
      if (box) {
        image.dt.push(box);
        image.dtByClass[box.classIndex]!.push(box);
      } else notEvaluated.withoutBox++;
    }
  }
  return {
    classes: BDD_CLASSES,
    images,
    predictionsWithoutGt,
    unknownGtCategories,
    unknownPredictionCategories,
    predictionsNotEvaluated: notEvaluated,
  };
}
