/**
 * Progress for long CLI work: a redrawn bar with count, rate, ETA and failures on a terminal; on a pipe or in CI,
 * a plain line every `plainEvery` items (and at the end) so logs stay readable.
 */
/** Where progress goes: a terminal is redrawn in place, anything else gets plain lines. */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

export interface ProgressOptions {
  label: string;
  total: number;
  stream?: ProgressStream;
  /** Plain-line mode prints one line per this many items. */
  plainEvery?: number;
  now?: () => number;
}

export interface Progress {
  update(done: number, failures?: number): void;
  finish(): void;
}

const BAR_WIDTH = 24;

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => performance.now());
  const interactive = stream.isTTY === true;
  const plainEvery = options.plainEvery ?? Math.max(1, Math.ceil(options.total / 10));
  const started = now();
  let lastDraw = 0;
  let done = 0;
  let failures = 0;
  let finished = false;

  const line = () => {
    const elapsed = (now() - started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const eta = rate > 0 ? (options.total - done) / rate : Number.POSITIVE_INFINITY;
    const fraction = options.total > 0 ? done / options.total : 1;
    const counts = `${done}/${options.total}`;
    const tail = `${rate.toFixed(1)}/s, ETA ${formatDuration(eta)}${failures ? `, ${failures} failed` : ''}`;
    if (!interactive) return `${options.label}: ${counts} (${Math.floor(fraction * 100)}%), ${tail}`;
    const filled = Math.round(fraction * BAR_WIDTH);
    return `${options.label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${counts} ${tail}`;
  };

  return {
    update(value, failed = failures) {
      const crossedStep = Math.floor(value / plainEvery) > Math.floor(done / plainEvery);
      done = value;
      failures = failed;
      if (interactive) {
        if (now() - lastDraw < 100 && done < options.total) return;
        lastDraw = now();
        stream.write(`\r${line()}\u001b[K`);
      } else if (crossedStep && done < options.total) stream.write(`${line()}\n`);
    },
    finish() {
      if (finished) return;
      finished = true;
      stream.write(interactive ? `\r${line()}\u001b[K\n` : `${line()}\n`);
    },
  };
}
