import { loadLabels, type LoadOptions, type LoadResult } from '../adapters/files/load-labels';
import type { InputSummary } from '../core/evaluation/report-schema';
import { createProgress, type Progress } from './progress';
import { UsageError } from './usage-error';

/** Below this many files loading is instant and a progress display would only flicker. */
const PROGRESS_MIN_FILES = 500;

/** Load labels for a CLI command: progress on big folders, a missing path becomes a usage error (exit 2). */
export async function loadInput(role: 'ground truth' | 'predictions', target: string, options: LoadOptions = {}) {
  let progress: Progress | undefined;
  try {
    return await loadLabels(target, {
      ...options,
      onProgress: (read, total, problems) => {
        if (total < PROGRESS_MIN_FILES) return;
        progress ??= createProgress({ label: `reading ${role}`, total });
        progress.update(read, problems);
      },
    });
  } catch (error) {
    throw new UsageError(`cannot read ${role} '${target}': ${(error as Error).message}`);
  } finally {
    progress?.finish();
  }
}

export const summarizeInput = (target: string, loaded: LoadResult): InputSummary => ({
  path: target,
  files: loaded.files,
  frames: loaded.frames.length,
  formats: loaded.formats,
  problems: loaded.problems,
});
