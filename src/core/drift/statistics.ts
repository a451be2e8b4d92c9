/**
 * The distances and tests drift is judged with, on binned counts (the profiles store fixed bins, never raw values):
 * Jensen-Shannon distance with a chi-square test of homogeneity for categories, the two-sample Kolmogorov-Smirnov
 * statistic for ordered bins, Fisher's exact test for shares. Each returns a size of effect (`score`, in [0, 1]) and
 * a p-value: the effect says how far apart the two samples are, the p-value whether samples that small could be
 * that far apart by chance.
 */

export interface TestResult {
  score: number;
  pValue: number;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: ~1e-15 relative). */
export function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Upper regularized incomplete gamma Q(a, x) = Γ(a, x) / Γ(a) (series below a + 1, continued fraction above). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const lnPrefix = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let total = term;
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n);
      total += term;
      if (Math.abs(term) < Math.abs(total) * 1e-15) break;
    }
    return Math.max(0, 1 - total * Math.exp(lnPrefix));
  }
  // Lentz's continued fraction.
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.min(1, Math.exp(lnPrefix) * h);
}

/** P(X >= statistic) for a chi-square variable with `df` degrees of freedom. */
export const chiSquareSurvival = (statistic: number, df: number) => (df <= 0 ? 1 : gammaQ(df / 2, statistic / 2));

/**
 * Jensen-Shannon distance (base 2, so in [0, 1]) between the two histograms' shares, and the chi-square test of
 * homogeneity of the counts (a 2 x k table over the categories either side has).
 */
export function categoricalDrift(reference: Readonly<Record<string, number>>, current: Readonly<Record<string, number>>): TestResult {
  const keys = [...new Set([...Object.keys(reference), ...Object.keys(current)])].filter(
    (k) => (reference[k] ?? 0) + (current[k] ?? 0) > 0,
  );
  const r = keys.map((k) => reference[k] ?? 0);
  const c = keys.map((k) => current[k] ?? 0);
  const n = sum(r);
  const m = sum(c);
  if (n === 0 || m === 0 || keys.length < 2) return { score: 0, pValue: 1 };
  let js = 0;
  let chi = 0;
  for (let i = 0; i < keys.length; i++) {
    const p = r[i]! / n;
    const q = c[i]! / m;
    const mid = (p + q) / 2;
    if (p > 0) js += 0.5 * p * Math.log2(p / mid);
    if (q > 0) js += 0.5 * q * Math.log2(q / mid);
    const total = r[i]! + c[i]!;
    const er = (total * n) / (n + m);
    const ec = (total * m) / (n + m);
    chi += (r[i]! - er) ** 2 / er + (c[i]! - ec) ** 2 / ec;
  }
  return { score: Math.sqrt(Math.max(0, Math.min(1, js))), pValue: chiSquareSurvival(chi, keys.length - 1) };
}

/** Kolmogorov's limiting distribution: P(K > lambda). */
function kolmogorovSurvival(lambda: number): number {
  if (lambda < 0.2) return 1;
  let total = 0;
  for (let j = 1; j <= 100; j++) {
    const term = 2 * (j % 2 ? 1 : -1) * Math.exp(-2 * j * j * lambda * lambda);
    total += term;
    if (Math.abs(term) < 1e-12) break;
  }
  return Math.min(1, Math.max(0, total));
}

/**
 * Two-sample Kolmogorov-Smirnov on two histograms over the same ordered bins: D, the largest gap between the two
 * cumulative shares, and its asymptotic p-value with Stephens' small-sample correction. On binned values D is at most
 * the D of the raw values, so the test errs towards no alarm.
 */
export function ksDrift(reference: readonly number[], current: readonly number[]): TestResult {
  const n = sum(reference);
  const m = sum(current);
  if (n === 0 || m === 0) return { score: 0, pValue: 1 };
  let cr = 0;
  let cc = 0;
  let d = 0;
  for (let i = 0; i < Math.max(reference.length, current.length); i++) {
    cr += reference[i] ?? 0;
    cc += current[i] ?? 0;
    d = Math.max(d, Math.abs(cr / n - cc / m));
  }
  const ne = Math.sqrt((n * m) / (n + m));
  return { score: d, pValue: kolmogorovSurvival((ne + 0.12 + 0.11 / ne) * d) };
}

const lnChoose = (n: number, k: number) => lnGamma(n + 1) - lnGamma(k + 1) - lnGamma(n - k + 1);

/**
 * Two shares, `a` of `n` against `b` of `m`: the absolute difference of the shares, and Fisher's exact test
 * (two-sided: every table with the same margins at most as likely as the one observed).
 */
export function shareDrift(a: number, n: number, b: number, m: number): TestResult {
  if (n === 0 || m === 0) return { score: 0, pValue: 1 };
  const k = a + b;
  const lnP = (x: number) => lnChoose(n, x) + lnChoose(m, k - x) - lnChoose(n + m, k);
  const observed = lnP(a);
  let p = 0;
  for (let x = Math.max(0, k - m); x <= Math.min(k, n); x++) {
    const lp = lnP(x);
    if (lp <= observed + 1e-7) p += Math.exp(lp);
  }
  return { score: Math.abs(a / n - b / m), pValue: Math.min(1, p) };
}
