/**
 * The local YOLOX-Nano detector on real data: the model from <shared>/models (never downloaded) and the 60-image
 * BDD100K sample with its ground truth. Quality floors sit a little under what bench/onnx-views.ts measured, so a
 * decoding mistake (RGB fed as BGR, a wrong letterbox ratio, a wrong grid) fails them.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evaluate } from '../src/core/evaluation/evaluate';
import { loadLabels } from '../src/adapters/files/load-labels';
import type { Frame } from '../src/core/labels/schema';
import { InvalidImageError, LabelingError } from '../src/core/pipeline/errors';
import type { DetectionResult, ImageInput } from '../src/core/pipeline/types';
import { COCO_TO_BDD } from '../src/core/taxonomy/categories';
import { readImage } from '../src/adapters/image/intake';
import { decodeYolox, yoloxRowCount } from '../src/adapters/providers/detector/onnx/decode';
import { iou, nms, weightedBoxFusion, type ScoredBox } from '../src/adapters/providers/detector/onnx/nms';
import { createOnnxDetector, type OnnxDetector } from '../src/adapters/providers/detector/onnx/onnx-detector';
import {
  letterboxGeometry,
  letterboxInput,
  mapToImage,
  packBgrPlanes,
  packBgrRegion,
} from '../src/adapters/providers/detector/onnx/preprocess';
import { isCutByView, mergeViews, planViews, type ViewBox } from '../src/adapters/providers/detector/onnx/views';
import { sampleImagesDir, sampleLabelsDir, sharedDir } from './helpers/shared';

const modelsDir = path.join(sharedDir, 'models');
const limits = { maxBytes: 20 << 20, maxPixels: 40_000_000, minSide: 32 };
/** A sample image with 12 labelled cars, several large and unoccluded. */
const CARS_IMAGE = '0798a3a8-c4501e0f.jpg';

const box = (x1: number, y1: number, x2: number, y2: number, score = 0.9, classIndex = 2): ScoredBox => ({
  x1,
  y1,
  x2,
  y2,
  score,
  classIndex,
});

// ---------------------------------------------------------------------------------------------------------------
// Pure functions

describe('NMS', () => {
  test('suppresses same-class boxes above the IoU threshold, keeps the best first', () => {
    const a = box(0, 0, 100, 100, 0.9);
    const b = box(10, 0, 110, 100, 0.8); // IoU 90/110 = 0.82 with a
    const c = box(200, 200, 250, 250, 0.7);
    assert.deepEqual(nms([b, c, a], 0.45), [a, c]);
  });

  test('never suppresses across classes', () => {
    const car = box(0, 0, 100, 100, 0.9, 2);
    const truck = box(0, 0, 100, 100, 0.6, 7);
    assert.deepEqual(nms([truck, car], 0.45), [car, truck]);
  });

  test('the threshold is strict: IoU equal to it is kept, just above is suppressed', () => {
    const a = box(0, 0, 100, 100, 0.9);
    const half = box(0, 0, 100, 50, 0.8); // IoU exactly 0.5
    assert.equal(iou(a, half), 0.5);
    assert.equal(nms([a, half], 0.5).length, 2);
    assert.equal(nms([a, half], 0.49).length, 1);
  });

  test('is deterministic whatever the input order', () => {
    const boxes = [box(0, 0, 10, 10, 0.5), box(1, 1, 11, 11, 0.5), box(100, 0, 110, 10, 0.5), box(0, 100, 10, 110, 0.7, 0)];
    const expected = nms(boxes, 0.45);
    assert.deepEqual(nms([...boxes].reverse(), 0.45), expected);
    assert.deepEqual(nms([boxes[2]!, boxes[0]!, boxes[3]!, boxes[1]!], 0.45), expected);
  });

  test('IoU of disjoint, touching and contained boxes', () => {
    assert.equal(iou(box(0, 0, 10, 10), box(10, 0, 20, 10)), 0);
    assert.equal(iou(box(0, 0, 10, 10), box(0, 0, 10, 10)), 1);
    assert.equal(iou(box(0, 0, 10, 10), box(0, 0, 5, 10)), 0.5);
  });

  test('weighted box fusion averages overlapping boxes by score and keeps the best score', () => {
    const fused = weightedBoxFusion([box(0, 0, 100, 100, 0.75), box(20, 0, 120, 100, 0.25), box(300, 300, 310, 310, 0.5)], 0.45);
    assert.equal(fused.length, 2);
    assert.deepEqual(fused[0], box(5, 0, 105, 100, 0.75));
  });
});

describe('letterbox', () => {
  test('a 1280x720 frame: r = 0.325, resized to 416x234, top-left', () => {
    const g = letterboxGeometry(1280, 720, 416);
    assert.equal(g.ratio, 0.325);
    assert.equal(g.resizedWidth, 416);
    assert.equal(g.resizedHeight, 234);
  });

  test('input boxes map back to original pixels (divide by r, add the view offset)', () => {
    const full = { x: 0, y: 0, width: 1280, height: 720 };
    const g = letterboxGeometry(1280, 720, 416);
    const mapped = mapToImage(box(41.6, 32.5, 83.2, 65), full, g)!;
    for (const [k, v] of Object.entries({ x1: 128, y1: 100, x2: 256, y2: 200 }))
      assert.ok(Math.abs(mapped[k as 'x1'] - v) < 1e-9, `${k}: ${mapped[k as 'x1']}`);
    // The right 720x720 square: r = 416/720, offset 560.
    const right = { x: 560, y: 0, width: 720, height: 720 };
    const m2 = mapToImage(box(0, 208, 208, 416), right, letterboxGeometry(720, 720, 416))!;
    assert.deepEqual(
      [m2.x1, m2.y1, m2.x2, m2.y2].map((v) => Math.round(v * 1e6) / 1e6),
      [560, 360, 920, 720],
    );
  });

  test('boxes reaching into the padding or off the image are clipped to the view; empty ones are dropped', () => {
    const full = { x: 0, y: 0, width: 1280, height: 720 };
    const g = letterboxGeometry(1280, 720, 416);
    const clipped = mapToImage(box(-10, 200, 50, 300), full, g)!; // 300 > 234: below the image, in the padding
    assert.equal(clipped.x1, 0);
    assert.equal(clipped.y2, 720);
    assert.equal(mapToImage(box(0, 250, 50, 300), full, g), undefined, 'entirely in the padding');
    const crop = { x: 224, y: 80, width: 416, height: 416 };
    const inCrop = mapToImage(box(-5, -5, 20, 20), crop, letterboxGeometry(416, 416, 416))!;
    assert.deepEqual([inCrop.x1, inCrop.y1, inCrop.x2, inCrop.y2], [224, 80, 244, 100]);
  });

  test('pixels are packed as planar B, G, R floats with 114 padding', () => {
    const rgb = Uint8Array.from([10, 20, 30, 40, 50, 60]); // 2x1: two RGB pixels
    const data = packBgrPlanes(rgb, 2, 1, 3);
    assert.deepEqual(
      [...data],
      [30, 60, 114, 114, 114, 114, 114, 114, 114, 20, 50, 114, 114, 114, 114, 114, 114, 114, 10, 40, 114, 114, 114, 114, 114, 114, 114],
    );
  });

  test('a region packs the same at any alignment and input size: word and byte paths agree with a plain reference', () => {
    const stride = 37;
    const height = 9;
    // Odd offsets into a larger buffer: the region starts at every alignment of the 32-bit words.
    for (const offset of [0, 1, 2, 3]) {
      const backing = new Uint8Array(offset + stride * height * 3);
      for (let i = 0; i < backing.length; i++) backing[i] = (i * 37 + 11) & 255;
      const rgb = backing.subarray(offset);
      for (const [x, y, w, h] of [
        [0, 0, 16, 4],
        [1, 2, 13, 7],
        [3, 1, 34, 8],
        [5, 0, 7, 9],
      ] as const) {
        // 40: whole words in and out where the rows line up; 42: planes that do not start on a word (bytes only).
        for (const size of [40, 42]) {
          const data = packBgrRegion(rgb, stride, x, y, w, h, size, new Float32Array(3 * size * size).fill(-1));
          const expected = new Float32Array(3 * size * size).fill(114);
          for (let row = 0; row < h; row++) {
            for (let col = 0; col < w; col++) {
              const p = ((y + row) * stride + x + col) * 3;
              for (let c = 0; c < 3; c++) expected[c * size * size + row * size + col] = rgb[p + 2 - c]!;
            }
          }
          assert.deepEqual(data, expected, `offset ${offset}, region ${x},${y} ${w}x${h}, size ${size}`);
        }
      }
    }
  });

  test('sharp letterboxes a raw RGB image (no decoding): colour planes and padding where expected', async () => {
    const width = 64;
    const height = 32;
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) rgb.set([200, 100, 50], i * 3);
    const { data, geometry } = await letterboxInput({ rgb, width, height }, { x: 0, y: 0, width, height }, 16);
    assert.deepEqual([geometry.resizedWidth, geometry.resizedHeight], [16, 8]);
    const at = (c: number, y: number, x: number) => data[c * 256 + y * 16 + x];
    assert.deepEqual([at(0, 3, 3), at(1, 3, 3), at(2, 3, 3)], [50, 100, 200]);
    assert.deepEqual([at(0, 12, 3), at(1, 12, 3), at(2, 12, 3)], [114, 114, 114]);
  });
});

describe('decode', () => {
  test('one row at stride 16: cx = (dx + gx) * s, w = exp(log w) * s, score = obj * cls', () => {
    const classes = 80;
    const out = new Float32Array(yoloxRowCount(416) * (5 + classes));
    assert.equal(yoloxRowCount(416), 3549);
    const row = 52 * 52 + 2 * 26 + 3; // stride 16, gy = 2, gx = 3
    out.set([0.5, 0.25, Math.log(2), 0, 0.9], row * 85);
    out[row * 85 + 5 + 2] = 0.5; // car
    out[row * 85 + 5 + 7] = 0.02; // truck: 0.018 < minScore
    const last = 3548; // stride 32, gy = gx = 12
    out.set([0, 0, 0, 0, 0.04], last * 85); // objectness under minScore
    out[last * 85 + 5] = 1;
    const boxes = decodeYolox(out, { inputSize: 416, numClasses: classes, minScore: 0.05 });
    assert.equal(boxes.length, 1);
    const b = boxes[0]!;
    assert.equal(b.classIndex, 2);
    assert.ok(Math.abs(b.score - 0.45) < 1e-6);
    assert.deepEqual(
      [b.x1, b.y1, b.x2, b.y2].map((v) => Math.round(v * 1e4) / 1e4),
      [40, 28, 72, 44],
    );
  });

  test('a row may yield several classes (multi-label) and a wrong-sized output is refused', () => {
    const out = new Float32Array(3549 * 85);
    out.set([0, 0, 0, 0, 1, 0, 0, 0.6, 0, 0, 0, 0, 0.3], 0);
    assert.deepEqual(
      decodeYolox(out, { inputSize: 416, numClasses: 80, minScore: 0.05 }).map((b) => b.classIndex),
      [2, 7],
    );
    assert.throws(() => decodeYolox(new Float32Array(10), { inputSize: 416, numClasses: 80, minScore: 0.05 }), /expected 3549 rows/);
  });
});

describe('views', () => {
  test('1280x720 tiling: the full frame, left and right 720 squares, two native 416 tiles at the horizon', () => {
    const views = planViews(1280, 720, ['squares', 'centre']);
    assert.deepEqual(
      views.map(({ name, x, y, width, height }) => [name, x, y, width, height]),
      [
        ['full', 0, 0, 1280, 720],
        ['square0', 0, 0, 720, 720],
        ['square1', 560, 0, 720, 720],
        ['centre0', 224, 80, 416, 416],
        ['centre1', 640, 80, 416, 416],
      ],
    );
    assert.deepEqual(
      planViews(1280, 720, []).map((v) => v.name),
      ['full'],
    );
    assert.deepEqual(
      planViews(400, 300, ['squares', 'centre']).map((v) => v.name),
      ['full'],
      'small images: no crops',
    );
    for (const [w, h] of [
      [720, 1280],
      [1000, 900],
      [3840, 2160],
    ] as const) {
      for (const v of planViews(w, h, ['squares', 'centre', 'band', 'zoom'])) {
        assert.ok(
          v.x >= 0 && v.y >= 0 && v.x + v.width <= w && v.y + v.height <= h && Number.isInteger(v.x + v.y + v.width + v.height),
          `${w}x${h} ${v.name}`,
        );
      }
    }
  });

  test('a crop box is cut only by crop edges inside the image', () => {
    const left = { x: 0, y: 0, width: 720, height: 720 };
    assert.equal(isCutByView(box(0, 100, 50, 200), left, 1280, 720), false, 'image border');
    assert.equal(isCutByView(box(650, 100, 719, 200), left, 1280, 720), true, 'crop edge at x = 720');
    assert.equal(isCutByView(box(650, 100, 700, 200), left, 1280, 720), false);
  });

  test('merging drops cut crop boxes the full view sees whole, keeps those it does not, and NMSes the rest', () => {
    const vb = (b: ScoredBox, view: number, cut: boolean): ViewBox => ({ ...b, view, cut });
    const wholeInFull = vb(box(600, 300, 800, 400, 0.6), 0, false);
    const cutInLeft = vb(box(600, 300, 720, 400, 0.9), 1, true); // higher score, but only part of the car
    const cutAlone = vb(box(700, 500, 720, 560, 0.5), 1, true);
    const dupInRight = vb(box(605, 300, 800, 402, 0.8), 2, false);
    const merged = mergeViews([wholeInFull, cutInLeft, cutAlone, dupInRight], { iou: 0.45, method: 'nms', coverage: 0.5 });
    assert.deepEqual(merged, [dupInRight, cutAlone]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The model on real images

let images: ImageInput[];
let gt: Frame[];
let tiled: OnnxDetector;
let plain: OnnxDetector;

before(async () => {
  const names = (await fs.readdir(sampleImagesDir)).filter((n) => n.endsWith('.jpg')).sort();
  images = await Promise.all(names.map(async (n) => readImage(await fs.readFile(path.join(sampleImagesDir, n)), n, limits)));
  gt = (await loadLabels(sampleLabelsDir)).frames;
  tiled = createOnnxDetector({ provider: 'onnx' }, { modelsDir, allowDownload: false });
  plain = createOnnxDetector({ provider: 'onnx', tiling: false }, { modelsDir, allowDownload: false });
});

after(async () => {
  await tiled?.close();
  await plain?.close();
});

const image = (name: string) => images.find((i) => i.name === name)!;
const toFrame = (name: string, r: DetectionResult): Frame => ({
  name,
  labels: r.boxes.map((b, i) => ({ id: String(i), category: b.category, box2d: b.box2d, score: b.score })),
});

/** Each detector over the 60 images, once (memoised: several tests read the same run). */
const runs = new Map<OnnxDetector, Promise<{ results: DetectionResult[]; report: ReturnType<typeof evaluate> }>>();
function sampleRun(detector: OnnxDetector) {
  let run = runs.get(detector);
  if (!run) {
    run = (async () => {
      const results: DetectionResult[] = [];
      for (const img of images) results.push(await detector.detect(img));
      return { results, report: evaluate({ gt, predictions: results.map((r, i) => toFrame(images[i]!.name, r)) }) };
    })();
    runs.set(detector, run);
  }
  return run;
}

describe('YOLOX-Nano on BDD100K images', () => {
  test('decodes sensible boxes on a real image: inside the frame, sorted scores, the labelled cars found', async () => {
    const img = image(CARS_IMAGE);
    for (const detector of [plain, tiled]) {
      const result = await detector.detect(img);
      assert.ok(result.boxes.length > 3);
      for (const b of result.boxes) {
        const { x1, y1, x2, y2 } = b.box2d;
        assert.ok(x1 >= 0 && y1 >= 0 && x2 <= img.width && y2 <= img.height && x2 > x1 && y2 > y1, JSON.stringify(b));
        assert.ok(b.score >= 0.05 && b.score <= 1, `score ${b.score}`);
      }
      const scores = result.boxes.map((b) => b.score);
      assert.deepEqual(
        scores,
        [...scores].sort((a, b) => b - a),
        'best first',
      );
      assert.ok(scores[0]! > 0.7, `top score ${scores[0]}`);
      assert.equal(result.boxes[0]!.category, 'car');
      assert.equal(result.boxes[0]!.sourceCategory, 'car');

      const gtCars = gt.find((f) => f.name === CARS_IMAGE)!.labels.filter((l) => l.category === 'car' && l.box2d);
      const cars = result.boxes.filter((b) => b.category === 'car' && b.score >= 0.3);
      const found = gtCars.filter((g) => cars.some((c) => iou(toBox(c.box2d), toBox(g.box2d!)) >= 0.5));
      assert.ok(found.length >= (detector === tiled ? 6 : 4), `${found.length} of ${gtCars.length} GT cars matched at IoU >= 0.5`);
      assert.deepEqual(result.details, {
        views: detector === tiled ? 5 : 1,
        inferenceMs: result.details!['inferenceMs'],
        preprocessMs: result.details!['preprocessMs'],
      });
      assert.ok((result.details!['inferenceMs'] as number) > 0 && (result.details!['preprocessMs'] as number) > 0);
    }
    assert.deepEqual(tiled.model, { provider: 'onnx', model: 'yolox-nano' });
  });

  test('quality floors on the 60-image sample (AP50, our evaluator)', async () => {
    const full = (await sampleRun(plain)).report.detection.perClass;
    const tiles = (await sampleRun(tiled)).report.detection.perClass;
    // Measured (bench/onnx-views.ts, lanczos3 resize): full frame car 0.348, pedestrian 0.231; full + squares +
    // centre tiles car 0.559, pedestrian 0.523, traffic light 0.317. Feeding RGB instead of BGR measured full car
    // 0.295, tiled car 0.498, pedestrian 0.434, traffic light 0.283; a stretched (non-letterbox) input maps nothing.
    const floors = [
      ['full', 'car', full.car!.AP50, 0.32],
      ['full', 'pedestrian', full.pedestrian!.AP50, 0.19],
      ['tiled', 'car', tiles.car!.AP50, 0.53],
      ['tiled', 'pedestrian', tiles.pedestrian!.AP50, 0.48],
      ['tiled', 'traffic light', tiles['traffic light']!.AP50, 0.28],
    ] as const;
    for (const [which, cls, ap50, floor] of floors) assert.ok(ap50 >= floor, `${which} ${cls} AP50 ${ap50.toFixed(3)} < ${floor}`);
  });

  test('tiling finds clearly more than the full frame alone (small cars, pedestrians, traffic lights)', async () => {
    const full = (await sampleRun(plain)).report.detection.perClass;
    const tiles = (await sampleRun(tiled)).report.detection.perClass;
    for (const cls of ['car', 'pedestrian', 'traffic light'] as const) {
      assert.ok(tiles[cls]!.AP50 >= full[cls]!.AP50 + 0.1, `${cls}: tiled ${tiles[cls]!.AP50} vs full ${full[cls]!.AP50}`);
    }
    assert.ok(tiles['traffic light']!.AP50 >= 2 * full['traffic light']!.AP50);
  });

  test('the same image twice gives identical boxes, and one session serves every image and view', async () => {
    const detector = createOnnxDetector({ provider: 'onnx' }, { modelsDir, allowDownload: false, intraOpThreads: 1 });
    try {
      assert.equal(detector.sessionsCreated, 0, 'created lazily');
      const img = image(CARS_IMAGE);
      // Two images in flight before the session exists must still create only one.
      const [first, other] = await Promise.all([detector.detect(img), detector.detect(images[0]!)]);
      const second = await detector.detect(img);
      assert.deepEqual(second.boxes, first.boxes);
      assert.deepEqual(second.unmapped, first.unmapped);
      assert.ok(other.boxes.length > 0);
      assert.equal(detector.sessionsCreated, 1);
    } finally {
      await detector.close();
    }
    await assert.rejects(detector.detect(image(CARS_IMAGE)), /after close/);
  });

  test('a plain grey image yields no boxes', async () => {
    for (const value of [128, 114]) {
      const rgb = new Uint8Array(1280 * 720 * 3).fill(value);
      const grey: ImageInput = { name: 'grey.png', format: 'png', bytes: new Uint8Array(), width: 1280, height: 720, rgb, sha256: '' };
      for (const detector of [plain, tiled]) {
        const result = await detector.detect(grey);
        assert.ok(
          result.boxes.every((b) => b.score < 0.1),
          JSON.stringify(result.boxes.slice(0, 3)),
        );
        assert.ok(result.boxes.length <= 2, `${result.boxes.length} boxes on a grey frame`);
      }
    }
  });

  test('COCO classes without a BDD counterpart are counted in unmapped, never returned as boxes', async () => {
    const unmapped: Record<string, number> = {};
    for (const r of (await sampleRun(tiled)).results) {
      for (const [name, n] of Object.entries(r.unmapped ?? {})) unmapped[name] = (unmapped[name] ?? 0) + n;
      for (const b of r.boxes) {
        assert.ok(
          ['person', 'bicycle', 'car', 'motorcycle', 'bus', 'train', 'truck', 'traffic light', 'stop sign'].includes(b.sourceCategory),
          b.sourceCategory,
        );
        assert.equal(b.category, COCO_TO_BDD[b.sourceCategory]);
      }
    }
    assert.ok(Object.keys(unmapped).length > 0, 'the sample has boats, umbrellas, ... at low scores');
    for (const name of Object.keys(unmapped)) assert.equal(COCO_TO_BDD[name], undefined, name);
  });

  test('bad input and a missing model fail with typed errors', async () => {
    const img = image(CARS_IMAGE);
    await assert.rejects(plain.detect({ ...img, rgb: img.rgb.subarray(0, 100) }), InvalidImageError);
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await assert.rejects(plain.detect(img, { signal: controller.signal }), /stop/);

    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'autolabel-onnx-'));
    const missing = createOnnxDetector({ provider: 'onnx' }, { modelsDir: empty, allowDownload: false, cacheDir: empty });
    try {
      await assert.rejects(missing.detect(img), (error: unknown) => {
        assert.ok(error instanceof LabelingError && error.kind === 'config' && !error.retryable, String(error));
        assert.match(error.message, /not found \(looked in /);
        return true;
      });
      assert.equal(missing.sessionsCreated, 0);
    } finally {
      await missing.close();
      await fs.rm(empty, { recursive: true, force: true });
    }
    assert.throws(() => createOnnxDetector({ provider: 'onnx', nmsIou: 2 }), /nmsIou/);
  });
});

function toBox(b: { x1: number; y1: number; x2: number; y2: number }): ScoredBox {
  return { ...b, score: 1, classIndex: 0 };
}
