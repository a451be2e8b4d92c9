/**
 * bench/batch-scale: batches at BDD scale against the local stand-ins (Azurite, the Cosmos DB stand-in with its
 * request log and RU estimate).
 *  1. progress: RU and 412 conflicts per image while a batch of 1k / 10k / 20k images is labeled, 16 triggers at
 *     once through the real blob trigger handler (bench/batch-scale/progress-bench.ts);
 *  2. evaluation: N synthetic label documents and their ground truth, then the evaluateBatch orchestration through
 *     the dev host in a process of its own: time, the host's peak RSS, chunks, estimated RU of its Cosmos DB
 *     requests (bench/batch-scale/evaluation-bench.ts).
 *
 *   npm run bench:batch -- [--sizes 1000,10000,20000] [--eval-sizes 1000,10000,20000] [--measure 200] [--concurrency 16]
 *                          [--only progress|evaluation]
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { startLocalServices } from '../dev/local-host/local-services';
import { RU_MODEL_SUMMARY } from '../dev/local-host/cosmos-ru-model';
import { measureEvaluation, type EvaluationFigures } from './batch-scale/evaluation-bench';
import { measureProgress, type ProgressFigures } from './batch-scale/progress-bench';
import { loadSourceFrames } from './batch-scale/synthetic-batch';

const repo = path.resolve(__dirname, '..');
const shared = process.env.AUTOLABEL_SHARED_DIR ?? path.resolve(repo, '../shared');

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,20000' },
    'eval-sizes': { type: 'string', default: '1000,10000,20000' },
    measure: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '16' },
    only: { type: 'string' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const evalSizes = values['eval-sizes'].split(',').map(Number);
const measured = Number(values.measure);
const concurrency = Number(values.concurrency);
if ([...sizes, ...evalSizes].some((n) => !Number.isInteger(n) || n < 10))
  throw new Error('--sizes and --eval-sizes must be integers >= 10, comma-separated');
if (!Number.isInteger(measured) || measured < 1) throw new Error('--measure must be a positive integer');
if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error('--concurrency must be a positive integer');
if (values.only && values.only !== 'progress' && values.only !== 'evaluation') throw new Error('--only must be progress or evaluation');

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const f = (n: number, digits = 1) => n.toFixed(digits);

const PROGRESS_HEADER =
  '| images | RU/image (progress part) | RU/image (label documents) | 412/image | host retries/image | requests/image | COUNT entries/image | last image RU | re-delivery RU | images/s | end state |\n' +
  `|${'---|'.repeat(11)}`;

const progressRow = (r: ProgressFigures) =>
  `| ${r.size} | ${f(r.steady.progressRu)} | ${f(r.steady.labelRu)} | ${f(r.steady.conflicts, 2)} | ${f(r.steady.hostRetries, 3)} | ${f(r.steady.requests)} | ` +
  `${f(r.steady.countedEntries, 0)} | ${f(r.last.ru)} | ${f(r.redelivery.ru)} | ${f(r.measured / r.steady.wallSeconds)} | ` +
  `${r.status}, ${r.labeled} labeled, ${r.evaluationsStarted} evaluation start(s)${r.steady.gaveUp ? `, ${r.steady.gaveUp} given up` : ''} |`;

const EVALUATION_HEADER =
  '| images | chunks | manifest -> evaluated | host CPU | host RSS idle -> peak | Cosmos requests | est. RU (total) | RU/image | AP |\n' +
  `|${'---|'.repeat(9)}`;

const evaluationRow = (r: EvaluationFigures) =>
  `| ${r.size} | ${r.chunks} | ${f(r.seconds)} s | ${f(r.hostCpuSeconds)} s | ${f(r.idleRssMb, 0)} -> ${f(r.peakRssMb, 0)} MB | ` +
  `${r.cosmos.requests} | ${f(r.cosmos.ru, 0)} | ${f(r.cosmos.ru / r.size, 2)} | ${f(r.ap, 4)} |`;

const evaluationDetail = (r: EvaluationFigures) =>
  [
    `  ${r.size} images: host RSS by stage ${Object.entries(r.rssByStage)
      .map(([stage, mb]) => `${stage} ${f(mb, 0)} MB`)
      .join(', ')}; RU by request:`,
    ...r.topRu.slice(0, 6).map((t) => `    ${f(t.ru, 0).padStart(8)} RU  ${String(t.requests).padStart(6)} x  ${t.what}`),
  ].join('\n');

async function main(): Promise<void> {
  const services = await startLocalServices({ cosmos: { keepAlive: true } });
  try {
    const sources = await loadSourceFrames(shared);
    console.log(RU_MODEL_SUMMARY);
    // Rows are printed as each size finishes: a long run can be read (or stopped) half way.
    if (values.only !== 'evaluation') {
      console.log(
        `\nProgress: ${measured} images per size through the blob trigger handler, ${concurrency} at once (per image, steady state)`,
      );
      console.log(PROGRESS_HEADER);
      for (const size of sizes) console.log(progressRow(await measureProgress({ services, sources, size, measured, concurrency, log })));
    }
    if (values.only !== 'progress') {
      console.log('\nEvaluation: the evaluateBatch orchestration through the dev host (its own process), synthetic predictions');
      console.log(EVALUATION_HEADER);
      const details: string[] = [];
      for (const size of evalSizes) {
        const row = await measureEvaluation({ services, sources, size, log });
        console.log(evaluationRow(row));
        details.push(evaluationDetail(row));
      }
      console.log(details.join('\n'));
    }
  } finally {
    await services.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
