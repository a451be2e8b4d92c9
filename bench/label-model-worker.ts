/**
 * Worker of bench/label's "models only" pass: session.run of the detector (every view) and of the scene backbone on
 * inputs prepared beforehand, nothing else, so that several of these side by side show what the cores deliver when
 * they do nothing but inference.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { YoloxSession } from '../src/adapters/providers/detector/onnx/yolox-session';
import { loadBackbone } from '../src/adapters/providers/scene/local/backbone';
import type { BackboneOutput } from '../src/adapters/providers/scene/local/features';

export interface ModelWorkerData {
  yoloxPath: string;
  backbonePath: string;
  backboneOutput: BackboneOutput;
  /** Per prepared image: its detector views' inputs and its scene input. */
  prepared: { views: Float32Array[]; scene: Float32Array }[];
  images: number;
}

(async () => {
  const data = workerData as ModelWorkerData;
  const yolox = await YoloxSession.create(data.yoloxPath, { intraOpThreads: 1 });
  const backbone = await loadBackbone(data.backbonePath, { threads: 1 });
  const runImage = async (i: number) => {
    const image = data.prepared[i % data.prepared.length]!;
    for (const view of image.views) await yolox.run(view);
    await backbone.run(image.scene, [data.backboneOutput]);
  };
  for (let i = 0; i < 2; i++) await runImage(i);
  parentPort!.postMessage({ type: 'ready' });
  parentPort!.once('message', async () => {
    const started = performance.now();
    for (let i = 0; i < data.images; i++) await runImage(i);
    parentPort!.postMessage({ type: 'done', ms: performance.now() - started });
    await yolox.release();
    await backbone.close();
    parentPort!.close();
  });
})();
