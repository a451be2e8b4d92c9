/**
 * Frames in name order without holding them all: added in any order, kept in memory up to `runSize`, then spilled
 * to a file as a sorted run (JSON lines); `sorted()` merges the runs back. The evaluation plan of a large batch
 * sorts its ground truth this way, so its memory stays that of a run and a chunk whatever the batch size.
 * Names compare by code unit (as the label loader sorts them); equal names keep the order they were added in.
 */
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Frame } from '../../core/labels/schema';

const byName = (a: Frame, b: Frame) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export class SortedFrameRuns {
  private buffer: Frame[] = [];
  private readonly runs: string[] = [];
  /** Frames added so far. */
  count = 0;

  /** `dir`: an empty folder of the caller's, which removes it. */
  constructor(
    private readonly dir: string,
    private readonly runSize = 2000,
  ) {}

  async add(frame: Frame): Promise<void> {
    this.buffer.push(frame);
    this.count++;
    if (this.buffer.length >= this.runSize) await this.spill();
  }

  /** Every frame added, then `extra` (any order), by name: one frame per run in memory at a time. */
  async *sorted(extra: readonly Frame[] = []): AsyncGenerator<Frame> {
    const inMemory = [...this.buffer, ...extra].sort(byName);
    this.buffer = [];
    // Runs first: on equal names the earlier source wins, so frames come out in the order they were added.
    const sources: Array<AsyncIterator<Frame>> = [...this.runs.map(readRun), arrayIterator(inMemory)];
    const heads: Array<Frame | undefined> = [];
    for (const source of sources) heads.push(await next(source));
    for (;;) {
      let pick = -1;
      for (let i = 0; i < heads.length; i++) {
        if (heads[i] && (pick < 0 || byName(heads[i]!, heads[pick]!) < 0)) pick = i;
      }
      if (pick < 0) return;
      yield heads[pick]!;
      heads[pick] = await next(sources[pick]!);
    }
  }

  private async spill(): Promise<void> {
    const file = path.join(this.dir, `run-${this.runs.length}.jsonl`);
    const lines = this.buffer.sort(byName).map((frame) => JSON.stringify(frame));
    await writeFile(file, `${lines.join('\n')}\n`);
    this.runs.push(file);
    this.buffer = [];
  }
}

async function next(source: AsyncIterator<Frame>): Promise<Frame | undefined> {
  const result = await source.next();
  return result.done ? undefined : result.value;
}

async function* arrayIterator(frames: readonly Frame[]): AsyncGenerator<Frame> {
  yield* frames;
}

async function* readRun(file: string): AsyncGenerator<Frame> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) if (line) yield JSON.parse(line) as Frame;
}
