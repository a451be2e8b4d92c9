import type { z } from 'zod';
import { OnnxDetectorSchema } from '../../../../core/config/labeling-config';
import { InvalidImageError, LabelingError, ProviderError } from '../../../../core/pipeline/errors';
import type { CallOptions, DetectedBox, DetectionResult, Detector, ImageInput, ModelInfo } from '../../../../core/pipeline/types';
import { COCO_TO_BDD } from '../../../../core/taxonomy/categories';
import { resolveModelFile, YOLOX_NANO, type ResolveModelOptions } from '../../models/model-files';
import { createLimiter } from '../../../concurrency/limits';
import { COCO80 } from './coco-classes';
import { decodeYolox } from './decode';
import { nms } from './nms';
import { letterboxInput, mapToImage, type ResizeKernel } from './preprocess';
import { DEFAULT_MERGE, isCutByView, mergeViews, planViews, type MergeOptions, type TilePart, type ViewBox } from './views';
import { YoloxSession } from './yolox-session';

export type OnnxDetectorConfig = z.output<typeof OnnxDetectorSchema>;
export type OnnxDetectorConfigInput = z.input<typeof OnnxDetectorSchema>;

/** Crops used when `tiling` is on (measured on the 60-image BDD100K sample: see bench/onnx-views.ts). */
export const DEFAULT_TILES: readonly TilePart[] = ['squares', 'centre'];

/**
 * Intra-op threads of the one session. Measured on the shared 2-core machine with two images in flight: 1 thread gives
 * the same median images/s as 2 at half the CPU, and stays steady when the other core is busy (2 threads then spin
 * and wait for each other: 2-3x slower runs). onnxruntime-node runs session.run on the JS thread, so runs never
 * overlap; with 1 thread the other core is left to sharp's resizes of the image in flight beside.
 */
export const DEFAULT_INTRA_OP_THREADS = 1;

/** sharp's default kernel; measured a hair better than linear (AP50 +0.004 car, +0.009 pedestrian) at the same cost. */
export const DEFAULT_KERNEL: ResizeKernel = 'lanczos3';

export interface OnnxDetectorOptions extends Pick<ResolveModelOptions, 'modelsDir' | 'allowDownload' | 'cacheDir' | 'env' | 'fetch'> {
  intraOpThreads?: number;
  /**
   * A model file to use as it is (no lookup, no checksum): the file the factory has just verified, or in benchmarks
   * and tests another YOLOX file (a broken one, the int8 one).
   */
  modelPath?: string;
  /** Crops when config.tiling is on (default DEFAULT_TILES); for measurements. */
  tiles?: readonly TilePart[];
  merge?: Partial<Omit<MergeOptions, 'iou'>>;
  kernel?: ResizeKernel;
}

export interface OnnxDetector extends Detector {
  /** Load the session now rather than on the first image (rejects as that image would). */
  load(): Promise<void>;
  /** Release the session; detect() afterwards fails. Waits for runs in flight. */
  close(): Promise<void>;
  /** Sessions created so far (1 after any number of images: the session is shared by every image and view). */
  readonly sessionsCreated: number;
}

const PROVIDER = 'onnx';
const MODEL: ModelInfo = { provider: PROVIDER, model: 'yolox-nano' };

const round2 = (v: number) => Math.round(v * 100) / 100;

/** Spare model inputs kept for reuse: the views of two images in flight. */
const MAX_SPARE_INPUTS = 10;

export function createOnnxDetector(config: OnnxDetectorConfigInput, options: OnnxDetectorOptions = {}): OnnxDetector {
  const parsed = OnnxDetectorSchema.safeParse(config);
  if (!parsed.success) {
    throw new LabelingError(
      'config',
      `onnx detector config: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
      {
        retryable: false,
        provider: PROVIDER,
      },
    );
  }
  const settings = parsed.data;
  const intraOpThreads = options.intraOpThreads ?? DEFAULT_INTRA_OP_THREADS;
  if (!Number.isInteger(intraOpThreads) || intraOpThreads < 1) {
    throw new LabelingError('config', `onnx detector: intraOpThreads must be a positive integer, got ${intraOpThreads}`, {
      retryable: false,
      provider: PROVIDER,
    });
  }
  const tiles = settings.tiling ? (options.tiles ?? DEFAULT_TILES) : [];
  const merge: MergeOptions = { ...DEFAULT_MERGE, ...options.merge, iou: settings.nmsIou };

  let sessionPromise: Promise<YoloxSession> | undefined;
  let sessionsCreated = 0;
  // The calls in flight on the shared session: close() refuses new ones and waits for these before releasing it
  // (releasing it under a running inference crashes onnxruntime-node).
  const calls = createLimiter(Infinity, {
    closedError: () => new LabelingError('config', 'onnx detector: detect() after close()', { retryable: false, provider: PROVIDER }),
  });

  const getSession = (): Promise<YoloxSession> => {
    if (!sessionPromise) {
      sessionPromise = (async () => {
        let modelPath: string;
        try {
          modelPath =
            options.modelPath ??
            (await resolveModelFile(YOLOX_NANO, {
              ...(options.modelsDir !== undefined ? { modelsDir: options.modelsDir } : {}),
              ...(options.allowDownload !== undefined ? { allowDownload: options.allowDownload } : {}),
              ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
              ...(options.env !== undefined ? { env: options.env } : {}),
              ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
            }));
        } catch (error) {
          throw new LabelingError('config', (error as Error).message, { retryable: false, provider: PROVIDER, cause: error });
        }
        try {
          const session = await YoloxSession.create(modelPath, { intraOpThreads });
          sessionsCreated++;
          return session;
        } catch (error) {
          throw new LabelingError('config', `onnx detector: cannot load ${modelPath}: ${(error as Error).message}`, {
            retryable: false,
            provider: PROVIDER,
            cause: error,
          });
        }
      })();
      // A failed start is not cached: the next image tries again (e.g. after the model file was put in place).
      sessionPromise.catch(() => {
        sessionPromise = undefined;
      });
    }
    return sessionPromise;
  };

  // Model inputs (2 MB each at 416) are reused once their run is over: allocating five per image kept the garbage
  // collector busy with full collections. A run reads its input only while it runs.
  const inputBuffers: Float32Array[] = [];

  async function detectImage(image: ImageInput, callOptions?: CallOptions): Promise<DetectionResult> {
    const { width, height, rgb } = image;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || rgb.length !== width * height * 3) {
      throw new InvalidImageError(`${image.name}: rgb holds ${rgb.length} bytes, expected ${width}x${height}x3`, { provider: PROVIDER });
    }
    const signal = callOptions?.signal;
    signal?.throwIfAborted();
    const session = await getSession();
    const views = planViews(width, height, tiles, session.inputSize);

    // Every view's input is started at once (sharp resizes on libuv's threads, crops are packed here) and all are
    // ready before the first run: nothing else then runs on this thread during a session.run (so a metered run times
    // the model alone), and the resizes of this image overlap the runs of the image in the other worker instead.
    const preprocessStart = performance.now();
    const inputs = await Promise.all(
      views.map((view) => letterboxInput(image, view, session.inputSize, options.kernel ?? DEFAULT_KERNEL, inputBuffers.pop())),
    );
    const preprocessEnd = performance.now();

    let inferenceMs = 0;
    const boxes: ViewBox[] = [];
    for (let v = 0; v < views.length; v++) {
      signal?.throwIfAborted();
      const view = views[v]!;
      const { data, geometry } = inputs[v]!;
      let output: Float32Array;
      try {
        const result = await session.run(data);
        output = result.output;
        inferenceMs += result.ms;
        if (inputBuffers.length < MAX_SPARE_INPUTS) inputBuffers.push(data);
      } catch (error) {
        throw new ProviderError(`onnx detector: inference failed on ${image.name}: ${(error as Error).message}`, {
          provider: PROVIDER,
          retryable: false,
          cause: error,
        });
      }
      const decoded = decodeYolox(output, { inputSize: session.inputSize, numClasses: session.numClasses, minScore: settings.minScore });
      // Per-view NMS first keeps the merge small (thousands of raw rows become tens of boxes).
      for (const box of nms(decoded, settings.nmsIou)) {
        const mapped = mapToImage(box, view, geometry);
        if (mapped) boxes.push({ ...mapped, view: v, cut: v > 0 && isCutByView(mapped, view, width, height) });
      }
    }
    const merged = views.length > 1 ? mergeViews(boxes, merge) : boxes;

    const detected: DetectedBox[] = [];
    const unmapped: Record<string, number> = {};
    for (const box of merged) {
      if (box.score < settings.minScore) continue;
      const sourceCategory = COCO80[box.classIndex] ?? `class ${box.classIndex}`;
      const category = COCO_TO_BDD[sourceCategory];
      if (!category) {
        unmapped[sourceCategory] = (unmapped[sourceCategory] ?? 0) + 1;
        continue;
      }
      detected.push({
        category,
        score: box.score,
        sourceCategory,
        box2d: {
          x1: Math.max(0, round2(box.x1)),
          y1: Math.max(0, round2(box.y1)),
          x2: Math.min(width, round2(box.x2)),
          y2: Math.min(height, round2(box.y2)),
        },
      });
    }
    return {
      boxes: detected,
      unmapped,
      details: { views: views.length, inferenceMs: round2(inferenceMs), preprocessMs: round2(preprocessEnd - preprocessStart) },
    };
  }

  return {
    model: MODEL,
    get sessionsCreated() {
      return sessionsCreated;
    },
    detect(image, callOptions) {
      return calls.run(() => detectImage(image, callOptions));
    },
    load() {
      return calls.run(async () => void (await getSession()));
    },
    async close() {
      await calls.close();
      const pending = sessionPromise;
      sessionPromise = undefined;
      if (pending) {
        const session = await pending.catch(() => undefined);
        await session?.release();
      }
    },
  };
}
