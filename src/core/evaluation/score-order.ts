/**
 * The order of detections by descending score, ties in input order: numpy's stable argsort of -score, as COCOeval
 * ranks detections. A natural merge sort: evaluation data arrives as runs already in that order (each image's
 * detections sorted by score), so it merges those runs instead of comparing through a callback, which for 100,000
 * detections is ten times faster than TypedArray.prototype.sort with a comparator. Any input gives the stable order;
 * pre-sorted runs only make it faster.
 */
export function descendingScoreOrder(scores: ArrayLike<number>): Uint32Array {
  const n = scores.length;
  let order = new Uint32Array(n);
  let spare = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (n < 2) return order;

  // Run boundaries: maximal stretches where the score never rises (equal scores keep their order within a run).
  let bounds: number[] = [0];
  for (let i = 1; i < n; i++) if (scores[i]! > scores[i - 1]!) bounds.push(i);
  bounds.push(n);

  while (bounds.length > 2) {
    const merged: number[] = [0];
    for (let r = 0; r + 1 < bounds.length; r += 2) {
      const from = bounds[r]!;
      const middle = bounds[r + 1]!;
      const to = r + 2 < bounds.length ? bounds[r + 2]! : middle;
      mergeRuns(scores, order, spare, from, middle, to);
      merged.push(to);
    }
    [order, spare] = [spare, order];
    bounds = merged;
  }
  return order;
}

/** Merge order[from, middle) and order[middle, to) into out[from, to); on equal scores the left run goes first. */
function mergeRuns(scores: ArrayLike<number>, order: Uint32Array, out: Uint32Array, from: number, middle: number, to: number): void {
  let left = from;
  let right = middle;
  let k = from;
  while (left < middle && right < to) {
    const l = order[left]!;
    const r = order[right]!;
    if (scores[l]! >= scores[r]!) {
      out[k++] = l;
      left++;
    } else {
      out[k++] = r;
      right++;
    }
  }
  while (left < middle) out[k++] = order[left++]!;
  while (right < to) out[k++] = order[right++]!;
}
