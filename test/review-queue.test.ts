/**
 * The review queue (`autolabel review`): the signals and reasons it reads from frames, its order, the comparison with
 * a second labeling, and its measured use on real labels: the shared sample labeled by the local default, the head
 * of the queue against the average image in label errors (FP + FN against the ground truth).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Frame } from '../src/core/labels/schema';
import { queueAdvantage, reviewQueue } from '../src/core/review/queue';
import { reviewSignals } from '../src/core/review/signals';
import { main } from '../src/cli/main';
import type { CliIo } from '../src/cli/io';
import { modelsDir, sampleImagesDir, sampleLabelsDir } from './helpers/shared';

const work = mkdtempSync(path.join(os.tmpdir(), 'review-'));
after(() => rmSync(work, { recursive: true, force: true }));

function recordingIo(): CliIo & { out: string; err: string } {
  const io = { out: '', err: '', stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

/** A labeled frame as the pipeline writes it: boxes with scores, provenance with thresholds and the scene confidence. */
function frame(
  name: string,
  boxes: Array<[category: string, score: number, x1: number, y1: number, x2: number, y2: number]>,
  extra: { before?: number; confidence?: Record<string, number>; attributes?: Record<string, string> } = {},
): Frame {
  return {
    name,
    attributes: extra.attributes ?? { weather: 'clear', timeofday: 'daytime', scene: 'city street' },
    labels: boxes.map(([category, score, x1, y1, x2, y2], i) => ({ id: String(i + 1), category, score, box2d: { x1, y1, x2, y2 } })),
    provenance: {
      schemaVersion: 1,
      pipelineVersion: '1',
      createdAt: '2026-12-03T00:00:00Z',
      configHash: 'abc',
      image: { sha256: 'x', width: 1280, height: 720, format: 'jpeg', bytes: 1 },
      scene: {
        provider: 'local',
        model: 'm',
        raw: null,
        confidence: extra.confidence ?? { weather: 0.9, timeofday: 0.95, scene: 0.9 },
        latencyMs: 1,
      },
      detector: { provider: 'onnx', model: 'yolox-nano', latencyMs: 1, boxesBeforeThresholds: extra.before ?? boxes.length },
      thresholds: { default: 0.3, perClass: { person: 0.5 } },
      latencyMs: 1,
    },
  };
}

test('signals: near-threshold boxes (per-class thresholds), dropped detections, small boxes, attribute confidence', () => {
  const signals = reviewSignals(
    frame(
      'a.jpg',
      [
        ['car', 0.45, 0, 0, 200, 200], // 0.45 < 0.3 + 0.2: near
        ['car', 0.9, 300, 300, 500, 500],
        ['person', 0.65, 600, 100, 640, 160], // person threshold 0.5: near; 40 x 60 px: small
      ],
      { before: 10, confidence: { weather: 0.4, timeofday: 0.95, scene: 0.7 } },
    ),
  );
  assert.equal(signals.boxes, 3);
  assert.equal(signals.nearThreshold, 2);
  assert.equal(signals.belowThreshold, 7);
  assert.equal(signals.smallBoxes, 1);
  assert.deepEqual(signals.attributeConfidence[0], { attribute: 'weather', value: 'clear', confidence: 0.4 });
  // A frame without provenance (e.g. imported labels) has no threshold to be near and no dropped count.
  const bare = reviewSignals({
    name: 'b.jpg',
    labels: [{ id: '1', category: 'car', score: 0.31, box2d: { x1: 0, y1: 0, x2: 100, y2: 100 } }],
  });
  assert.deepEqual([bare.nearThreshold, bare.belowThreshold, bare.attributeConfidence], [0, 0, []]);
});

test('queue: the doubtful image first, reasons in words, an unusual count said, --limit honoured', () => {
  const calm = (name: string) => frame(name, [['car', 0.95, 0, 0, 300, 300]]);
  const doubtful = frame(
    'doubtful.jpg',
    [
      ['car', 0.35, 0, 0, 300, 300],
      ['car', 0.4, 400, 0, 700, 300],
      ['pedestrian', 0.32, 800, 100, 840, 150],
    ],
    { before: 30, confidence: { weather: 0.9, timeofday: 0.95, scene: 0.45 } },
  );
  const crowded = frame(
    'crowded.jpg',
    Array.from({ length: 12 }, (_, i) => ['car', 0.95, i * 100, 0, i * 100 + 90, 90] as [string, number, number, number, number, number]),
  );
  const queue = reviewQueue([calm('c1.jpg'), crowded, calm('c2.jpg'), doubtful, calm('c3.jpg')]);
  assert.deepEqual(
    queue.map((i) => i.name),
    ['doubtful.jpg', 'crowded.jpg', 'c1.jpg', 'c2.jpg', 'c3.jpg'],
  );
  assert.deepEqual(queue[0]!.reasons, [
    '27 detections dropped by the score thresholds: objects may be missing',
    '3 boxes scored within 0.2 of the threshold',
    '1 box smaller than 64 x 64 px',
    'scene "city street" at confidence 0.45',
  ]);
  assert.ok(queue[1]!.reasons.includes('12 boxes, against a median of 1 in this set'), queue[1]!.reasons.join('; '));
  assert.deepEqual(queue.at(-1)!.reasons, []);
  assert.equal(reviewQueue([calm('c1.jpg'), doubtful], { limit: 1 }).length, 1);
});

test('a second labeling: boxes without a match and differing attributes raise the priority and are named', () => {
  const ours = [frame('x.jpg', [['car', 0.9, 0, 0, 100, 100]]), frame('y.jpg', [['car', 0.9, 0, 0, 100, 100]])];
  const theirs = [
    frame('x.jpg', [['car', 0.8, 2, 2, 101, 99]]), // the same car
    frame(
      'y.jpg',
      [
        ['truck', 0.8, 0, 0, 100, 100],
        ['pedestrian', 0.7, 500, 100, 540, 200],
      ],
      {
        attributes: { weather: 'rainy', timeofday: 'daytime', scene: 'city street' },
      },
    ),
  ];
  const queue = reviewQueue(ours, { compare: theirs });
  assert.equal(queue[0]!.name, 'y.jpg');
  assert.deepEqual(queue[0]!.signals.disagreement, { unmatchedBoxes: 3, attributes: ['weather'] });
  assert.deepEqual(queue[0]!.reasons.slice(0, 2), [
    '3 boxes without a match in the other labeling',
    'the other labeling differs on weather',
  ]);
  assert.deepEqual(queue[1]!.signals.disagreement, { unmatchedBoxes: 0, attributes: [] });
});

test('queueAdvantage: errors per image at the head against all images', () => {
  const queue = reviewQueue([frame('a.jpg', []), frame('b.jpg', [], { before: 9 }), frame('c.jpg', [], { before: 3 })]);
  const measured = queueAdvantage(
    queue,
    new Map([
      ['b.jpg', 6],
      ['c.jpg', 3],
    ]),
    1,
  );
  assert.deepEqual(measured, { top: 1, topErrorsPerImage: 6, allErrorsPerImage: 3, ratio: 2 });
});

let labelsDir: string;
before(async () => {
  // The shared sample labeled with the local default (YOLOX-Nano + the local scene classifier), as a user would.
  labelsDir = path.join(work, 'labels-run');
  const io = recordingIo();
  const code = await main(['label', sampleImagesDir, '--out', labelsDir, '--models-dir', modelsDir], io);
  assert.equal(code, 0, io.err);
});

test('on the shared sample, the head of the queue holds clearly more label errors per image than the average image', async (t) => {
  const out = path.join(work, 'queue.json');
  const io = recordingIo();
  const code = await main(['review', path.join(labelsDir, 'labels'), '--out', out, '--gt', sampleLabelsDir], io);
  assert.equal(code, 0, io.err);
  const written = JSON.parse(readFileSync(out, 'utf8')) as {
    items: Array<{ name: string; priority: number; reasons: string[] }>;
    measured: { top: number; topErrorsPerImage: number; allErrorsPerImage: number; ratio: number };
  };
  assert.equal(written.items.length, 60);
  assert.ok(written.items.every((i, k) => k === 0 || written.items[k - 1]!.priority >= i.priority));
  assert.ok(written.items[0]!.reasons.length > 0);
  const { measured } = written;
  t.diagnostic(
    `first ${measured.top}: ${measured.topErrorsPerImage.toFixed(1)} errors/image; all 60: ${measured.allErrorsPerImage.toFixed(1)} (${measured.ratio.toFixed(2)}x)`,
  );
  assert.equal(measured.top, 6);
  assert.ok(measured.ratio >= 1.3, `the head holds ${measured.ratio.toFixed(2)}x the average image's errors`);
  assert.match(io.out, /label errors \(FP \+ FN\) per image: first 6 of the queue \d+\.\d, all 60 images \d+\.\d \(\d\.\d\dx\)/);
});

test('review: bad arguments are usage errors (exit 2)', async () => {
  for (const argv of [['review'], ['review', labelsDir], ['review', labelsDir, '--out', 'x.json', '--limit', '0']]) {
    const io = recordingIo();
    assert.equal(await main(argv, io), 2, argv.join(' '));
    assert.match(io.err, /autolabel review <labels dir\|file>/);
  }
});
