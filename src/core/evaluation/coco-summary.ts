import { AREA_RANGES, MAX_DETS, RECALL_THRESHOLDS, IOU_THRESHOLDS } from './coco-params';
import { precisionIndex, recallIndex, type CocoEvalArrays } from './coco-eval';

/** The 12 numbers of COCOeval.summarize(), as plain fractions; -1 where no cell has ground truth. */
export interface CocoStats {
  AP: number;
  AP50: number;
  AP75: number;
  APs: number;
  APm: number;
  APl: number;
  AR1: number;
  AR10: number;
  AR100: number;
  ARs: number;
  ARm: number;
  ARl: number;
}

export const COCO_STAT_NAMES = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'] as const;

const IOU_50 = 0;
const IOU_75 = IOU_THRESHOLDS.findIndex((t) => t === 0.75);
const areaIndex = (name: (typeof AREA_RANGES)[number]['name']) => AREA_RANGES.findIndex((r) => r.name === name);
const maxDetIndex = (maxDet: (typeof MAX_DETS)[number]) => MAX_DETS.indexOf(maxDet);

interface Selection {
  iou?: number;
  area?: (typeof AREA_RANGES)[number]['name'];
  maxDet?: (typeof MAX_DETS)[number];
  classIndex?: number;
}

/** Mean of the selected cells that are > -1 (COCOeval._summarize), or -1 when there are none. */
function meanOfValid(values: Iterable<number>): number {
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (v > -1) {
      sum += v;
      n++;
    }
  }
  return n === 0 ? -1 : sum / n;
}

function* range(n: number) {
  for (let i = 0; i < n; i++) yield i;
}

export function averagePrecision(arrays: CocoEvalArrays, s: Selection = {}): number {
  const K = arrays.classCount;
  const a = areaIndex(s.area ?? 'all');
  const m = maxDetIndex(s.maxDet ?? 100);
  const ts = s.iou === undefined ? [...range(IOU_THRESHOLDS.length)] : [s.iou];
  const ks = s.classIndex === undefined ? [...range(K)] : [s.classIndex];
  return meanOfValid(
    (function* () {
      for (const t of ts)
        for (let r = 0; r < RECALL_THRESHOLDS.length; r++) for (const k of ks) yield arrays.precision[precisionIndex(K, t, r, k, a, m)]!;
    })(),
  );
}

export function averageRecall(arrays: CocoEvalArrays, s: Selection = {}): number {
  const K = arrays.classCount;
  const a = areaIndex(s.area ?? 'all');
  const m = maxDetIndex(s.maxDet ?? 100);
  const ts = s.iou === undefined ? [...range(IOU_THRESHOLDS.length)] : [s.iou];
  const ks = s.classIndex === undefined ? [...range(K)] : [s.classIndex];
  return meanOfValid(
    (function* () {
      for (const t of ts) for (const k of ks) yield arrays.recall[recallIndex(K, t, k, a, m)]!;
    })(),
  );
}

export function summarize(arrays: CocoEvalArrays): CocoStats {
  return {
    AP: averagePrecision(arrays),
    AP50: averagePrecision(arrays, { iou: IOU_50 }),
    AP75: averagePrecision(arrays, { iou: IOU_75 }),
    APs: averagePrecision(arrays, { area: 'small' }),
    APm: averagePrecision(arrays, { area: 'medium' }),
    APl: averagePrecision(arrays, { area: 'large' }),
    AR1: averageRecall(arrays, { maxDet: 1 }),
    AR10: averageRecall(arrays, { maxDet: 10 }),
    AR100: averageRecall(arrays),
    ARs: averageRecall(arrays, { area: 'small' }),
    ARm: averageRecall(arrays, { area: 'medium' }),
    ARl: averageRecall(arrays, { area: 'large' }),
  };
}

export interface ClassAp {
  AP: number;
  AP50: number;
  AP75: number;
  AR100: number;
}

export function classAp(arrays: CocoEvalArrays, classIndex: number): ClassAp {
  return {
    AP: averagePrecision(arrays, { classIndex }),
    AP50: averagePrecision(arrays, { classIndex, iou: IOU_50 }),
    AP75: averagePrecision(arrays, { classIndex, iou: IOU_75 }),
    AR100: averageRecall(arrays, { classIndex }),
  };
}

/** Interpolated precision at the 101 recall thresholds for one class (area all, 100 detections). */
export function precisionCurve(arrays: CocoEvalArrays, classIndex: number, iou: 'iou50' | 'iou75'): number[] {
  const K = arrays.classCount;
  const t = iou === 'iou50' ? IOU_50 : IOU_75;
  return RECALL_THRESHOLDS.map((_, r) => arrays.precision[precisionIndex(K, t, r, classIndex, 0, MAX_DETS.length - 1)]!);
}
