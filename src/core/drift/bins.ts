/**
 * The fixed bins every drift profile uses, so that profiles of any batches, stored at any time, can be added up
 * and compared bin by bin. Changing a binning is a new PROFILE_SCHEMA_VERSION.
 */

export interface Binning {
  /** Index of the bin that holds `value` (values outside the range go to the first or last bin). */
  index(value: number): number;
  readonly bins: number;
  /** The value a bin stands for in percentiles (its upper edge). */
  upper(bin: number): number;
}

/** `bins` equal bins over [lo, hi]. */
export function linearBins(lo: number, hi: number, bins: number): Binning {
  const width = (hi - lo) / bins;
  return {
    bins,
    index: (value) => Math.min(bins - 1, Math.max(0, Math.floor((value - lo) / width))),
    upper: (bin) => lo + (bin + 1) * width,
  };
}

/** Integers 0 .. max - 1, then one bin for max and more. */
export function countBins(max: number): Binning {
  return {
    bins: max + 1,
    index: (value) => Math.min(max, Math.max(0, Math.floor(value))),
    upper: (bin) => bin,
  };
}

/**
 * Quarter-octave bins from 1 up (bin 0 holds everything below 1): 4 bins per doubling, so a percentile read from
 * them is within 19% of the true one, over 1 .. 2^(bins/4) (ms: 1 ms to 4.6 hours with 72 bins).
 */
export function logBins(bins: number): Binning {
  return {
    bins,
    index: (value) => (value < 1 ? 0 : Math.min(bins - 1, 1 + Math.floor(4 * Math.log2(value)))),
    upper: (bin) => (bin === 0 ? 1 : 2 ** (bin / 4)),
  };
}

export const BINS = {
  /** Brightness, saturation, sky brightness: 0 .. 1. */
  unit: linearBins(0, 1, 50),
  /** RMS contrast: 0 .. 0.5 (its largest possible value). */
  contrast: linearBins(0, 0.5, 50),
  score: linearBins(0, 1, 20),
  boxes: countBins(60),
  /** Latency in ms, tokens per image. */
  log: logBins(72),
} as const;

export const emptyCounts = (binning: Binning) => new Array<number>(binning.bins).fill(0);

/** The value below which `q` (0..1) of the counted values lie, read from the bins (the bin's upper edge). */
export function percentile(counts: readonly number[], binning: Binning, q: number): number | undefined {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= q * total) return binning.upper(i);
  }
  return binning.upper(counts.length - 1);
}
