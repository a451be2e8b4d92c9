/**
 * Multinomial logistic regression (softmax, L2) for the local scene classifier: the training math used by
 * trainer.ts and the prediction math used at runtime. Deterministic: full-batch L-BFGS from
 * zero weights, fixed iteration budget, no randomness.
 */

/** Row-major matrix: `rows` vectors of length `cols`. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

export function matrixFromRows(rows: readonly ArrayLike<number>[]): Matrix {
  const cols = rows[0]?.length ?? 0;
  const data = new Float64Array(rows.length * cols);
  rows.forEach((row, r) => {
    if (row.length !== cols) throw new Error(`row ${r} has ${row.length} values, expected ${cols}`);
    data.set(row, r * cols);
  });
  return { rows: rows.length, cols, data };
}

export interface Standardizer {
  mean: Float64Array;
  /** Population standard deviation; constant columns get 1 (they then contribute nothing). */
  std: Float64Array;
}

export function fitStandardizer(x: Matrix): Standardizer {
  const mean = new Float64Array(x.cols);
  const std = new Float64Array(x.cols);
  for (let r = 0; r < x.rows; r++)
    for (let c = 0; c < x.cols; c++) mean[c] = (mean[c] as number) + (x.data[r * x.cols + c] as number) / x.rows;
  for (let r = 0; r < x.rows; r++) {
    for (let c = 0; c < x.cols; c++) std[c] = (std[c] as number) + ((x.data[r * x.cols + c] as number) - (mean[c] as number)) ** 2 / x.rows;
  }
  for (let c = 0; c < x.cols; c++) {
    const s = Math.sqrt(std[c] as number);
    std[c] = s > 1e-8 ? s : 1;
  }
  return { mean, std };
}

/** (x - mean) / std, then multiplied by `scale` per column when given (used to weight feature groups). */
export function standardize(x: Matrix, s: Standardizer, scale?: Float64Array): Matrix {
  const data = new Float64Array(x.data.length);
  for (let r = 0; r < x.rows; r++) {
    for (let c = 0; c < x.cols; c++) {
      const i = r * x.cols + c;
      data[i] = (((x.data[i] as number) - (s.mean[c] as number)) / (s.std[c] as number)) * (scale ? (scale[c] as number) : 1);
    }
  }
  return { rows: x.rows, cols: x.cols, data };
}

export interface SoftmaxModel {
  classes: number;
  features: number;
  /** classes x features, row-major. */
  weights: Float64Array;
  bias: Float64Array;
}

/** Numerically stable softmax of `logits` in place; returns it. */
export function softmaxInPlace(logits: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (let k = 0; k < logits.length; k++) {
    const e = Math.exp((logits[k] as number) - max);
    logits[k] = e;
    sum += e;
  }
  for (let k = 0; k < logits.length; k++) logits[k] = (logits[k] as number) / sum;
  return logits;
}

/** Class probabilities for one (already transformed) feature vector. */
export function predictProba(model: SoftmaxModel, x: ArrayLike<number>, offset = 0): Float64Array {
  const z = new Float64Array(model.classes);
  for (let k = 0; k < model.classes; k++) {
    let s = model.bias[k] as number;
    const w = k * model.features;
    for (let j = 0; j < model.features; j++) s += (model.weights[w + j] as number) * (x[offset + j] as number);
    z[k] = s;
  }
  return softmaxInPlace(z);
}

export interface FitOptions {
  /** L2 strength on the weights (not the bias): loss = mean cross-entropy + lambda/2 * |W|^2. */
  lambda: number;
  maxIterations?: number;
  /** Stop when the gradient's max-norm falls below this. */
  tolerance?: number;
  /** Per-sample weights (default 1). */
  sampleWeights?: Float64Array;
  /** Starting point [W, b] (a neighbouring lambda's solution); default zeros. */
  init?: Float64Array;
}

/** Loss and gradient of the L2-regularised softmax cross-entropy; params = [W (K x d), b (K)]. */
function lossAndGradient(x: Matrix, y: Int32Array, classes: number, params: Float64Array, grad: Float64Array, options: FitOptions): number {
  const d = x.cols;
  const wOffsetBias = classes * d;
  grad.fill(0);
  let loss = 0;
  let totalWeight = 0;
  const z = new Float64Array(classes);
  for (let r = 0; r < x.rows; r++) {
    const sw = options.sampleWeights ? (options.sampleWeights[r] as number) : 1;
    totalWeight += sw;
    const row = r * d;
    for (let k = 0; k < classes; k++) {
      let s = params[wOffsetBias + k] as number;
      const w = k * d;
      for (let j = 0; j < d; j++) s += (params[w + j] as number) * (x.data[row + j] as number);
      z[k] = s;
    }
    let max = -Infinity;
    for (const v of z) if (v > max) max = v;
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp((z[k] as number) - max);
    const logSum = max + Math.log(sum);
    const target = y[r] as number;
    loss += sw * (logSum - (z[target] as number));
    for (let k = 0; k < classes; k++) {
      const delta = sw * (Math.exp((z[k] as number) - logSum) - (k === target ? 1 : 0));
      if (delta === 0) continue;
      const w = k * d;
      for (let j = 0; j < d; j++) grad[w + j] = (grad[w + j] as number) + delta * (x.data[row + j] as number);
      grad[wOffsetBias + k] = (grad[wOffsetBias + k] as number) + delta;
    }
  }
  const inv = 1 / totalWeight;
  for (let i = 0; i < grad.length; i++) grad[i] = (grad[i] as number) * inv;
  loss *= inv;
  let reg = 0;
  for (let i = 0; i < wOffsetBias; i++) {
    const p = params[i] as number;
    reg += p * p;
    grad[i] = (grad[i] as number) + options.lambda * p;
  }
  return loss + 0.5 * options.lambda * reg;
}

const dot = (a: Float64Array, b: Float64Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
};

/**
 * Fit by L-BFGS (memory 10, backtracking Armijo line search) from zero. The problem is strictly convex in W for
 * lambda > 0, so the optimum is unique; the result does not depend on the starting point beyond the tolerance.
 */
export function fitSoftmax(
  x: Matrix,
  y: Int32Array,
  classes: number,
  options: FitOptions,
): SoftmaxModel & { loss: number; iterations: number } {
  if (y.length !== x.rows) throw new Error(`${y.length} labels for ${x.rows} rows`);
  const n = classes * x.cols + classes;
  const maxIterations = options.maxIterations ?? 500;
  const tolerance = options.tolerance ?? 1e-6;
  const memory = 10;
  let params = options.init ? Float64Array.from(options.init) : new Float64Array(n);
  if (params.length !== n) throw new Error(`init has ${params.length} values, expected ${n}`);
  let grad = new Float64Array(n);
  let loss = lossAndGradient(x, y, classes, params, grad, options);
  const sHist: Float64Array[] = [];
  const yHist: Float64Array[] = [];
  const rhoHist: number[] = [];
  let iterations = 0;
  const next = new Float64Array(n);
  let nextGrad = new Float64Array(n);
  for (; iterations < maxIterations; iterations++) {
    let gMax = 0;
    for (const g of grad) gMax = Math.max(gMax, Math.abs(g));
    if (gMax < tolerance) break;
    // Two-loop recursion: direction = -H * grad.
    const q = Float64Array.from(grad);
    const alpha: number[] = [];
    for (let i = sHist.length - 1; i >= 0; i--) {
      const a = (rhoHist[i] as number) * dot(sHist[i] as Float64Array, q);
      alpha[i] = a;
      const yi = yHist[i] as Float64Array;
      for (let j = 0; j < n; j++) q[j] = (q[j] as number) - a * (yi[j] as number);
    }
    const last = sHist.length - 1;
    const gamma =
      last >= 0
        ? dot(sHist[last] as Float64Array, yHist[last] as Float64Array) / dot(yHist[last] as Float64Array, yHist[last] as Float64Array)
        : 1 / Math.max(1, Math.sqrt(dot(grad, grad)));
    for (let j = 0; j < n; j++) q[j] = (q[j] as number) * gamma;
    for (let i = 0; i < sHist.length; i++) {
      const b = (rhoHist[i] as number) * dot(yHist[i] as Float64Array, q);
      const si = sHist[i] as Float64Array;
      for (let j = 0; j < n; j++) q[j] = (q[j] as number) + (si[j] as number) * ((alpha[i] as number) - b);
    }
    // q is H*grad; the step is -q.
    let slope = -dot(grad, q);
    if (!(slope < 0)) {
      // Not a descent direction: reset the memory and take a gradient step.
      sHist.length = yHist.length = rhoHist.length = 0;
      q.set(grad);
      slope = -dot(grad, grad);
    }
    let step = 1;
    let nextLoss = Infinity;
    for (let tries = 0; tries < 40; tries++) {
      for (let j = 0; j < n; j++) next[j] = (params[j] as number) - step * (q[j] as number);
      nextLoss = lossAndGradient(x, y, classes, next, nextGrad, options);
      if (nextLoss <= loss + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(nextLoss <= loss)) break;
    const s = new Float64Array(n);
    const yv = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      s[j] = (next[j] as number) - (params[j] as number);
      yv[j] = (nextGrad[j] as number) - (grad[j] as number);
    }
    const sy = dot(s, yv);
    if (sy > 1e-12) {
      sHist.push(s);
      yHist.push(yv);
      rhoHist.push(1 / sy);
      if (sHist.length > memory) {
        sHist.shift();
        yHist.shift();
        rhoHist.shift();
      }
    }
    const converged = loss - nextLoss < 1e-12 * Math.max(1, Math.abs(loss));
    params = Float64Array.from(next);
    const swap = grad;
    grad = nextGrad;
    nextGrad = swap;
    loss = nextLoss;
    if (converged) break;
  }
  return {
    classes,
    features: x.cols,
    weights: params.slice(0, classes * x.cols),
    bias: params.slice(classes * x.cols),
    loss,
    iterations,
  };
}

/**
 * An orthonormal basis of the row space of `x` (n x d, n << d) and the coordinates of the rows in it (modified
 * Gram-Schmidt, twice for stability; rows that add no new direction are skipped). An L2-regularised linear model
 * fitted on the coordinates and mapped back through `basis` is exactly the model fitted on x, because the optimum's
 * weights lie in the row space; it costs n/d as much per iteration.
 */
export function rowSpace(x: Matrix): { coords: Matrix; basis: Matrix } {
  const { rows: n, cols: d } = x;
  const basis: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const v = x.data.slice(i * d, (i + 1) * d);
    const norm0 = Math.sqrt(dot(v, v));
    if (norm0 === 0) continue;
    for (let pass = 0; pass < 2; pass++) {
      for (const q of basis) {
        const c = dot(q, v);
        for (let k = 0; k < d; k++) v[k] = (v[k] as number) - c * (q[k] as number);
      }
    }
    const norm = Math.sqrt(dot(v, v));
    if (norm <= 1e-9 * norm0) continue;
    for (let k = 0; k < d; k++) v[k] = (v[k] as number) / norm;
    basis.push(v);
  }
  const r = basis.length;
  const coords = new Float64Array(n * r);
  for (let i = 0; i < n; i++) {
    const row = x.data.subarray(i * d, (i + 1) * d);
    basis.forEach((q, c) => {
      coords[i * r + c] = dot(q, row);
    });
  }
  const basisData = new Float64Array(r * d);
  basis.forEach((q, c) => basisData.set(q, c * d));
  return { coords: { rows: n, cols: r, data: coords }, basis: { rows: r, cols: d, data: basisData } };
}
