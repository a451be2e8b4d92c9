/**
 * The CLI half of bench/label: `autolabel label <images> --out <tmp> --models-dir <models>`, the real command through
 * the CLI's entry (src/cli/main.ts, under tsx: bench/label-cli-child.ts), in a child process on the same images as
 * the pipeline passes. A child process rather than this one: the command then has its own main thread and heap, as
 * when a user runs it, instead of sharing them with the benchmark (whose larger heap made the command's garbage
 * collections several times longer). What the child adds (Node's start, compiling the sources) comes before the
 * command's labeling and is outside the rate it reports; it counts in the whole command's time, given besides.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

export interface CliRun {
  images: number;
  failed: number;
  /**
   * What the command reports: labeled images / the labeling's wall time (run.json `seconds`: from the first image to
   * the summary files written; the models are loaded before it and reported apart).
   */
  imagesPerSecond: number;
  seconds: number;
  /** The whole child process: Node and tsx starting, the command's setup and model loading, labeling, closing. */
  commandSeconds: number;
  exitCode: number;
  /** CPU time of the whole child process (every thread) per image. */
  cpuMsPerImage: number;
}

const RunJsonSchema = z.object({ total: z.number(), labeled: z.number(), reused: z.number(), failed: z.number(), seconds: z.number() });
const ChildReportSchema = z.object({ exitCode: z.number(), cpuMs: z.number() });

/** Longer than any plausible run of 60 images, so that a hung command fails the benchmark instead of stalling it. */
const TIMEOUT_MS = 10 * 60_000;

export async function runCli(options: { imagesDir: string; modelsDir: string; workers?: number; concurrency?: number }): Promise<CliRun> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-label-cli-'));
  try {
    const out = path.join(work, 'out');
    const report = path.join(work, 'child.json');
    const args = ['label', options.imagesDir, '--out', out, '--models-dir', options.modelsDir];
    if (options.workers !== undefined) args.push('--workers', String(options.workers));
    if (options.concurrency !== undefined) {
      const config = path.join(work, 'config.json');
      await fs.writeFile(config, JSON.stringify({ concurrency: options.concurrency }));
      args.push('--config', config);
    }
    const started = performance.now();
    const output = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'label-cli-child.ts'), ...args], {
        cwd: path.resolve(__dirname, '..'),
        env: { ...process.env, BENCH_CLI_REPORT: report },
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: TIMEOUT_MS,
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stderr }));
    });
    const commandSeconds = (performance.now() - started) / 1000;
    const child = ChildReportSchema.safeParse(JSON.parse(await fs.readFile(report, 'utf8').catch(() => 'null')));
    if (!child.success) throw new Error(`the CLI did not finish (exit ${output.code}):\n${output.stderr}`);
    const run = RunJsonSchema.parse(JSON.parse(await fs.readFile(path.join(out, 'run.json'), 'utf8')));
    if (run.reused !== 0) throw new Error(`the CLI reused ${run.reused} labels of an earlier run: its output folder was not fresh`);
    if (child.data.exitCode !== 0) process.stderr.write(`[bench:label] the CLI exited with ${child.data.exitCode}:\n${output.stderr}`);
    return {
      images: run.total,
      failed: run.failed,
      imagesPerSecond: run.labeled / run.seconds,
      seconds: run.seconds,
      commandSeconds,
      exitCode: child.data.exitCode,
      cpuMsPerImage: child.data.cpuMs / run.total,
    };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}
