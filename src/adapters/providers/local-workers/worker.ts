/**
 * A local-model worker thread: builds the in-process providers once (each loads its ONNX session on first use, so
 * every worker owns its sessions) and runs one job at a time for the pool: the detector's view preparation, inference
 * and decoding/NMS, or the scene classifier's features and inference. session.run blocks this thread, not the main one.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { LabelingError } from '../../../core/pipeline/errors';
import type { ImageInput } from '../../../core/pipeline/types';
import { createOnnxDetector, type OnnxDetector } from '../detector/onnx/onnx-detector';
import { meterModelRuns, takeModelRunTime } from '../models/run-clock';
import { createLocalSceneClassifier, type LocalSceneClassifier } from '../scene/local/local-scene';
import { serializeError, type FromWorker, type ToWorker, type WorkerSetup } from './protocol';

if (isMainThread || !parentPort) throw new Error('local-workers/worker runs in a worker thread started by the pool');
const port = parentPort;
const setup = workerData as WorkerSetup;

// Config problems were already reported on the main thread, where the pool's providers are created.
const detector: OnnxDetector | undefined = setup.detector ? createOnnxDetector(setup.detector.config, setup.detector.options) : undefined;
const scene: LocalSceneClassifier | undefined = setup.scene ? createLocalSceneClassifier(setup.scene.options) : undefined;
const running = new Map<number, AbortController>();
const metered = setup.meterModelRuns === true;
if (metered) meterModelRuns(true);
const NO_BYTES = new Uint8Array(0);

const post = (message: FromWorker) => port.postMessage(message);

async function runJob(job: Extract<ToWorker, { type: 'job' }>): Promise<void> {
  const controller = new AbortController();
  running.set(job.id, controller);
  const started = performance.now();
  try {
    const { name, width, height, rgb } = job.image;
    // Local models read name, size and pixels only.
    const image: ImageInput = { name, format: 'jpeg', bytes: NO_BYTES, width, height, rgb, sha256: '' };
    const options = { signal: controller.signal };
    let value: unknown;
    if (job.kind === 'detect') {
      if (!detector)
        throw new LabelingError('config', 'local model worker: no detector configured', { retryable: false, provider: 'onnx' });
      value = await detector.detect(image, options);
    } else {
      if (!scene)
        throw new LabelingError('config', 'local model worker: no scene classifier configured', { retryable: false, provider: 'local' });
      value = await scene.classify(image, options);
    }
    const ms = performance.now() - started;
    post({ type: 'done', id: job.id, ok: true, value, ms, ...(metered ? { model: takeModelRunTime() } : {}) });
  } catch (error) {
    const ms = performance.now() - started;
    post({ type: 'done', id: job.id, ok: false, error: serializeError(error), ms, ...(metered ? { model: takeModelRunTime() } : {}) });
  } finally {
    running.delete(job.id);
  }
}

let crashCode: number | undefined;

/** Both sessions load side by side; a failure is left for the first job that needs the model to report. */
async function warm(): Promise<void> {
  await Promise.allSettled([detector?.load(), scene?.load()]);
  post({ type: 'warmed' });
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'abort') running.get(message.id)?.abort(new Error('aborted by the caller'));
  else if (message.type === 'warm') void warm();
  else if (message.type === 'crash-on-next-job') crashCode = message.code;
  else if (crashCode !== undefined) process.exit(crashCode);
  else void runJob(message);
});
post({ type: 'ready' });
