/**
 * COCOeval's default parameters for boxes. Thresholds are built the way numpy.linspace builds them
 * (i * step + start, last element set to stop) so that comparisons with `iou >= t` agree bit for bit.
 */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const values = Array.from({ length: num }, (_, i) => i * step + start);
  values[num - 1] = stop;
  return values;
}

export const IOU_THRESHOLDS: readonly number[] = linspace(0.5, 0.95, 10);
export const RECALL_THRESHOLDS: readonly number[] = linspace(0, 1, 101);
export const MAX_DETS = [1, 10, 100] as const;
export const AREA_RANGES = [
  { name: 'all', min: 0, max: 1e10 },
  { name: 'small', min: 0, max: 32 ** 2 },
  { name: 'medium', min: 32 ** 2, max: 96 ** 2 },
  { name: 'large', min: 96 ** 2, max: 1e10 },
] as const;
export type AreaRangeName = (typeof AREA_RANGES)[number]['name'];

/** numpy's np.spacing(1): the eps pycocotools adds to precision's denominator. */
export const PRECISION_EPS = 2.220446049250313e-16;
/** pycocotools caps the IoU a match may need at 1 - 1e-10 so a perfect box still matches at threshold 1. */
export const MAX_MATCH_IOU = 1 - 1e-10;
