import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import sharp from 'sharp';
import { loadLabels } from '../src/adapters/files/load-labels';
import type { Frame, Label } from '../src/core/labels/schema';
import type { ImageInput } from '../src/core/pipeline/types';
import { readImage } from '../src/adapters/image/intake';
import {
  CLASS_COLOURS,
  GT_COLOUR,
  GT_GAP_COLOUR,
  OTHER_COLOUR,
  classColour,
  overlayLayout,
  renderOverlay,
  type Rgb,
} from '../src/adapters/image/overlay';
import { placeTags, shortClassName, type PlacedTag, type Rect, type TagRequest } from '../src/adapters/image/tag-layout';
import { loadBitmapFont, measureText } from '../src/adapters/image/bitmap-font';
import { drawText } from '../src/adapters/image/bitmap-text';
import { RgbCanvas } from '../src/adapters/image/rgb-canvas';
import { Jimp, loadFont, measureText as jimpMeasureText } from 'jimp';
import { seededRandom } from '../bench/synthetic';
import { sampleImagesDir, sampleLabelsDir } from './helpers/shared';

const SAMPLE = '0798a3a8-c4501e0f.jpg';
const LIMITS = { maxBytes: 20 * 1024 * 1024, maxPixels: 40_000_000, minSide: 32 };
const outputDir = path.resolve(__dirname, '..', 'test-output');

interface Raster {
  width: number;
  height: number;
  channels: number;
  data: Buffer;
}

async function decode(bytes: Buffer): Promise<Raster> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data };
}

const pixelOf = (r: Raster, x: number, y: number): Rgb => {
  const i = (y * r.width + x) * r.channels;
  return [r.data[i]!, r.data[i + 1]!, r.data[i + 2]!];
};
const inputPixel = (image: ImageInput, x: number, y: number): Rgb => {
  const i = (y * image.width + x) * 3;
  return [image.rgb[i]!, image.rgb[i + 1]!, image.rgb[i + 2]!];
};
const near = (a: Rgb, b: Rgb, tolerance: number) => a.every((v, i) => Math.abs(v - b[i]!) <= tolerance);

const label = (id: string, category: string, score: number | undefined, box?: Label['box2d']): Label => ({
  id,
  category,
  ...(score === undefined ? {} : { score }),
  ...(box ? { box2d: box } : {}),
});

/** Boxes on the sample, chosen where its ground truth has none (its GT lies within y 247..574). */
const CAR = { x1: 300.4, y1: 600, x2: 520, y2: 700 }; // rounds to x1 = 300
const TOP_LIGHT = { x1: 900, y1: 0, x2: 930, y2: 40 }; // touches the top edge: tag goes inside
const PARTLY_OUTSIDE = { x1: 1200, y1: 650, x2: 1350, y2: 760 };

let image: ImageInput;
let gt: Frame;
let predictions: Frame;

before(async () => {
  const loaded = await loadLabels(path.join(sampleLabelsDir, SAMPLE.replace(/\.jpg$/, '_label.json')));
  assert.deepEqual(loaded.problems, []);
  gt = loaded.frames[0]!;
  image = await readImage(await fs.readFile(path.join(sampleImagesDir, SAMPLE)), SAMPLE, LIMITS);
  predictions = {
    name: SAMPLE,
    attributes: { weather: 'snowy', timeofday: 'daytime', scene: 'city street' },
    labels: [
      label('p1', 'car', 0.87, CAR),
      label('p2', 'traffic light', 0.91, TOP_LIGHT),
      label('p3', 'pedestrian', 0.55, PARTLY_OUTSIDE),
      label('p4', 'car', 0.93, { x1: 380, y1: 320, x2: 630, y2: 570 }), // over the taxi's GT box
      label('p5', 'lane', 0.5), // no box2d: skipped
      label('p6', 'bus', 0.4, { x1: 2000, y1: 100, x2: 2100, y2: 200 }), // entirely outside: skipped
      label('p7', 'traffic sign', undefined, { x1: 926, y1: 300, x2: 962, y2: 315 }), // no score: tag without one
    ],
  };
});

describe('renderOverlay on a real sample with its shared ground truth', () => {
  test('PNG output: same size, class colour on predicted edges, interior and background untouched', async () => {
    const png = await renderOverlay({ image, predictions, groundTruth: gt, format: 'png' });
    const meta = await sharp(png).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.width, image.width);
    assert.equal(meta.height, image.height);
    const out = await decode(png);

    const { thickness } = overlayLayout(image.width, image.height);
    assert.equal(thickness, 2, '2 px lines at 1280x720');
    const carColour = CLASS_COLOURS.car;
    // All four sides of the car box, over their whole thickness.
    for (let d = 0; d < thickness; d++) {
      assert.deepEqual(pixelOf(out, 300 + d, 650), carColour, 'left edge');
      assert.deepEqual(pixelOf(out, 520 - d, 650), carColour, 'right edge');
      assert.deepEqual(pixelOf(out, 410, 700 - d), carColour, 'bottom edge');
    }
    // Interior (just inside the line, and the middle) and outside pixels are the input's, exactly.
    for (const [x, y] of [
      [300 + thickness, 650],
      [410, 660],
      [520 - thickness, 690],
      [298, 650],
      [640, 710],
    ] as const) {
      assert.deepEqual(pixelOf(out, x, y), inputPixel(image, x, y), `pixel ${x},${y} unchanged`);
    }
    // The pedestrian box runs off the right and bottom: its left and top sides are drawn, the rest clipped.
    assert.deepEqual(pixelOf(out, 1200, 700), CLASS_COLOURS.pedestrian);
    assert.deepEqual(pixelOf(out, 1279, 650), CLASS_COLOURS.pedestrian, 'top side runs to the image border');
    assert.deepEqual(pixelOf(out, 1279, 700), inputPixel(image, 1279, 700), 'no side drawn at the clipped border');
  });

  test('a box at the top edge gets its tag inside the image, filled in the class colour', async () => {
    const out = await decode(await renderOverlay({ image, predictions, format: 'png' }));
    // Tag's left padding, below the box's top line and right of its left line.
    const colour = CLASS_COLOURS['traffic light'];
    for (const y of [4, 10, 14]) assert.deepEqual(pixelOf(out, 902, y), colour, `tag fill at 902,${y}`);
    assert.notDeepEqual(inputPixel(image, 902, 10), colour, 'the input is not already that colour there');
    // The tag has text in it: dark pixels (black text on orange) within its first 60 px.
    let dark = 0;
    for (let y = 0; y < 19; y++) for (let x = 904; x < 960; x++) if (pixelOf(out, x, y).every((v) => v < 80)) dark++;
    assert.ok(dark > 20, `text drawn in the tag (${dark} dark pixels)`);
  });

  test('ground-truth boxes are dashed in the GT colours', async () => {
    const emptyPredictions: Frame = { ...predictions, labels: [] };
    const out = await decode(await renderOverlay({ image, predictions: emptyPredictions, groundTruth: gt, format: 'png' }));
    const { dash } = overlayLayout(image.width, image.height);
    const boxes = gt.labels.flatMap((l) => (l.box2d ? [l.box2d] : []));
    assert.ok(boxes.length >= 20);
    // Corners not covered by a GT box drawn later (GT is drawn in order) nor by the caption.
    let checked = 0;
    boxes.forEach((box, i) => {
      const x = Math.round(box.x1);
      const y = Math.round(box.y1);
      if (y < 80) return;
      const later = boxes.slice(i + 1);
      const covered = (px: number, py: number) =>
        later.some((b) => px >= Math.round(b.x1) && px <= Math.round(b.x2) && py >= Math.round(b.y1) && py <= Math.round(b.y2));
      if (covered(x, y) || covered(x + dash, y) || Math.round(box.x2) - x < dash + 2) return;
      assert.deepEqual(pixelOf(out, x, y), GT_COLOUR, `GT dash at the top-left corner of box ${i}`);
      assert.deepEqual(pixelOf(out, x + dash, y), GT_GAP_COLOUR, `GT gap after the first dash of box ${i}`);
      checked++;
    });
    assert.ok(checked >= 5, `checked ${checked} GT corners`);
    // The taxi's interior stays as it was.
    assert.deepEqual(pixelOf(out, 500, 450), inputPixel(image, 500, 450));
  });

  test('the caption strip darkens the top-left and carries text', async () => {
    const out = await decode(await renderOverlay({ image, predictions, groundTruth: gt, format: 'png' }));
    let before = 0;
    let after = 0;
    let bright = 0;
    for (let y = 8; y < 44; y++) {
      for (let x = 8; x < 300; x++) {
        const a = inputPixel(image, x, y);
        const b = pixelOf(out, x, y);
        before += a[0] + a[1] + a[2];
        after += b[0] + b[1] + b[2];
        if (b.every((v) => v > 200)) bright++;
      }
    }
    assert.ok(after < before * 0.6, `caption background darker (${after} vs ${before})`);
    assert.ok(bright > 200, `white caption text (${bright} bright pixels)`);
  });

  test('JPEG by default, quality high enough that class colours survive', async () => {
    const jpeg = await renderOverlay({ image, predictions, groundTruth: gt });
    const meta = await sharp(jpeg).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.deepEqual([meta.width, meta.height], [image.width, image.height]);
    const out = await decode(jpeg);
    assert.ok(near(pixelOf(out, 300, 650), CLASS_COLOURS.car, 40), `car edge ${pixelOf(out, 300, 650)}`);
    assert.ok(near(pixelOf(out, 410, 660), inputPixel(image, 410, 660), 24), 'interior close to the input');
  });

  test('labels without box2d, boxes outside the image and a missing GT do not crash', async () => {
    const odd: Frame = {
      name: SAMPLE,
      labels: [
        label('a', 'drivable area', undefined),
        label('b', 'car', 0.5, { x1: -500, y1: -500, x2: -10, y2: -10 }),
        label('c', 'car', 0.5, { x1: -50, y1: -50, x2: 5000, y2: 5000 }),
        label('d', 'car', 0.5, { x1: 10, y1: 10, x2: 10, y2: 10 }),
        label('e', 'not a class', 1, { x1: 100, y1: 200, x2: 180, y2: 260 }),
      ],
    };
    const out = await decode(await renderOverlay({ image, predictions: odd, format: 'png' }));
    assert.deepEqual([out.width, out.height], [image.width, image.height]);
    assert.deepEqual(pixelOf(out, 100, 230), OTHER_COLOUR, 'unknown categories drawn in the neutral colour');
  });

  test('boxes are clipped: nothing is drawn outside their visible sides, their tags and the caption', async () => {
    const frame: Frame = {
      name: SAMPLE,
      labels: [
        label('ped', 'pedestrian', 0.55, PARTLY_OUTSIDE), // off the right and bottom
        label('car', 'car', 0.5, { x1: -40, y1: -30, x2: 100, y2: 150 }), // off the left and top
        label('left', 'car', 0.5, { x1: -500, y1: 300, x2: -10, y2: 400 }), // entirely outside
        label('right', 'bus', 0.5, { x1: 2000, y1: 100, x2: 2100, y2: 200 }), // entirely outside
      ],
    };
    const out = await decode(await renderOverlay({ image, predictions: frame, format: 'png' }));
    assert.deepEqual(pixelOf(out, 100, 75), CLASS_COLOURS.car, 'visible right side');
    assert.deepEqual(pixelOf(out, 50, 150), CLASS_COLOURS.car, 'visible bottom side');
    assert.deepEqual(pixelOf(out, 1200, 700), CLASS_COLOURS.pedestrian, 'visible left side');
    // The tag (rows 631..649 above the box) is pushed left of the box so that all of its text fits.
    let tagLeft = image.width;
    for (let x = image.width - 1; x >= 1000; x--) if (near(pixelOf(out, x, 632), CLASS_COLOURS.pedestrian, 0)) tagLeft = x;
    assert.ok(tagLeft < 1200 - 20 && tagLeft > 1100, `tag starts at x=${tagLeft}`);
    assert.deepEqual(pixelOf(out, image.width - 1, 632), CLASS_COLOURS.pedestrian, 'and ends at the right border');
    const allowed = [
      [0, 0, 700, 70], // caption
      [0, 0, 200, 150], // off-left-top car and its tag (inside the image, at the top)
      [1100, 625, 1279, 719], // pedestrian and its tag, pushed left to fit
    ];
    let changed = 0;
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < image.width; x++) {
        if (allowed.some(([x0, y0, x1, y1]) => x >= x0! && x <= x1! && y >= y0! && y <= y1!)) continue;
        const i = (y * image.width + x) * 3;
        if (out.data[i] !== image.rgb[i] || out.data[i + 1] !== image.rgb[i + 1] || out.data[i + 2] !== image.rgb[i + 2]) changed++;
      }
    }
    assert.equal(changed, 0, 'pixels changed outside the drawn areas');
  });

  test('colours resolve renames; other categories get the neutral colour', () => {
    assert.deepEqual(classColour('person'), CLASS_COLOURS.pedestrian);
    assert.deepEqual(classColour('other vehicle'), CLASS_COLOURS.car);
    assert.deepEqual(classColour('lane'), OTHER_COLOUR);
    const colours = new Set(Object.values(CLASS_COLOURS).map((c) => c.join(',')));
    assert.equal(colours.size, 10, 'one distinct colour per class');
    assert.ok(!colours.has(GT_COLOUR.join(',')) && !colours.has(OTHER_COLOUR.join(',')));
  });

  test('odd sizes and an unaligned rgb view give the same pixels; a wrong-sized rgb is refused', async () => {
    const width = 201;
    const height = 151; // width * height % 4 === 3: the tail of the 4-pixel conversion is exercised
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 7 + (i >> 5)) & 0xff;
    const unaligned = new Uint8Array(new ArrayBuffer(rgb.length + 1), 1, rgb.length);
    unaligned.set(rgb);
    const base: ImageInput = { name: 'synthetic.png', format: 'png', bytes: new Uint8Array(), width, height, rgb, sha256: '' };
    const frame: Frame = { name: 'synthetic.png', labels: [] };
    const a = await renderOverlay({ image: base, predictions: frame, format: 'png' });
    const b = await renderOverlay({ image: { ...base, rgb: unaligned }, predictions: frame, format: 'png' });
    assert.ok(a.equals(b));
    const out = await decode(a);
    for (const [x, y] of [
      [0, 150],
      [200, 150],
      [200, 100],
      [57, 133],
    ] as const) {
      assert.deepEqual(pixelOf(out, x, y), inputPixel(base, x, y), `pixel ${x},${y}`);
    }
    await assert.rejects(renderOverlay({ image: { ...base, rgb: rgb.subarray(3) }, predictions: frame }), RangeError);
  });

  test('large images get thicker lines and the 32 px fonts', async () => {
    const width = 2560;
    const height = 1440;
    const rgb = new Uint8Array(width * height * 3).fill(90);
    const big: ImageInput = { name: 'big.png', format: 'png', bytes: new Uint8Array(), width, height, rgb, sha256: '' };
    const layout = overlayLayout(width, height);
    assert.deepEqual([layout.thickness, layout.fontSize], [4, 32]);
    const bus = label('a', 'bus', 0.7, { x1: 1000, y1: 800, x2: 1400, y2: 1200 });
    const frame: Frame = { name: 'big.png', attributes: { weather: 'clear' }, labels: [bus] };
    const out = await decode(await renderOverlay({ image: big, predictions: frame, format: 'png' }));
    for (let d = 0; d < 4; d++) assert.deepEqual(pixelOf(out, 1000 + d, 1000), CLASS_COLOURS.bus);
    assert.deepEqual(pixelOf(out, 1004, 1000), [90, 90, 90]);
    // The tag is a 32 px font line tall (lineHeight 36 + 1) above the box.
    assert.deepEqual(pixelOf(out, 1002, 800 - 35), CLASS_COLOURS.bus);
    assert.deepEqual(pixelOf(out, 1002, 800 - 39), [90, 90, 90]);
  });

  test('writes test-output/overlay-sample.jpg (look at it) and reports the time per image', async (t) => {
    await renderOverlay({ image, predictions, groundTruth: gt }); // fonts loaded, code warm
    const times: number[] = [];
    let jpeg: Buffer | undefined;
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      jpeg = await renderOverlay({ image, predictions, groundTruth: gt });
      times.push(performance.now() - start);
    }
    times.sort((x, y) => x - y);
    t.diagnostic(
      `overlay ${image.width}x${image.height}, ${gt.labels.length} GT + ${predictions.labels.length} predicted: median ${times[2]!.toFixed(1)} ms`,
    );
    await fs.mkdir(outputDir, { recursive: true });
    await fs.writeFile(path.join(outputDir, 'overlay-sample.jpg'), jpeg!);
    assert.ok(jpeg!.length > 50_000);
  });
});

describe('text and in-place drawing', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- jimp/fonts is an export-map subpath (see overlay.ts)
  const FONT_FILES = require('jimp/fonts') as Record<string, string>;

  test('fonts read without jimp are the fonts jimp reads, and drawText puts the pixels jimp.print puts', async () => {
    for (const file of [FONT_FILES.SANS_16_WHITE!, FONT_FILES.SANS_32_BLACK!]) {
      const jimpFont = await loadFont(file);
      const font = await loadBitmapFont(file);
      assert.deepEqual(
        Object.fromEntries(Object.entries(font.chars).map(([k, c]) => [k, { ...c }])),
        Object.fromEntries(
          Object.entries(jimpFont.chars as Record<string, Record<string, number>>).map(([k, c]) => [
            k,
            {
              x: c.x,
              y: c.y,
              width: c.width,
              height: c.height,
              xoffset: c.xoffset,
              yoffset: c.yoffset,
              xadvance: c.xadvance,
              page: c.page,
            },
          ]),
        ),
      );
      assert.deepEqual(font.kernings, jimpFont.kernings);
      assert.equal(font.common.lineHeight, jimpFont.common.lineHeight);
      assert.equal(font.pages.length, jimpFont.pages.length);
      font.pages.forEach((page, i) =>
        assert.ok(Buffer.from(page.bitmap.data).equals(Buffer.from(jimpFont.pages[i]!.bitmap.data)), `page ${i}`),
      );
      for (const text of ['AVATAR To Wa car 0.87', 'weather: snowy \u00b7 x', ''])
        assert.equal(measureText(font, text), jimpMeasureText(jimpFont, text));

      const width = 260;
      const height = 60;
      const rgb = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37 + (i >> 7)) & 255);
      const rgba = new Uint8Array(width * height * 4);
      for (let p = 0; p < width * height; p++) {
        rgba.set(rgb.subarray(p * 3, p * 3 + 3), p * 4);
        rgba[p * 4 + 3] = 255;
      }
      const jimp = Jimp.fromBitmap({ width, height, data: rgba });
      const canvas = new RgbCanvas(width, height, rgb);
      // Off the left and bottom edges, kerned pairs (AV, To), a glyph the font lacks and the caption's middle dot.
      for (const [x, y, text] of [
        [-5, 2, 'AVATAR To Wa car 0.87'],
        [10, height - 12, 'weather: snowy \u00b7 timeofday: night \u2603 ok'],
        [200, 20, 'light'],
      ] as const) {
        jimp.print({ font, x, y, text });
        drawText(canvas, font, x, y, text);
      }
      let differing = 0;
      for (let p = 0; p < width * height; p++) {
        for (let c = 0; c < 3; c++) if (jimp.bitmap.data[p * 4 + c] !== rgb[p * 3 + c]) differing++;
      }
      assert.equal(differing, 0, `${path.basename(file)}: bytes that differ from jimp's`);
    }
  });

  test('drawOnInput draws on the input pixels and gives the same overlay as a copy', async () => {
    const copy: ImageInput = { ...image, rgb: image.rgb.slice() };
    const untouched = copy.rgb.slice();
    const fromCopy = await renderOverlay({ image: copy, predictions, groundTruth: gt, format: 'png' });
    assert.ok(Buffer.from(copy.rgb).equals(Buffer.from(untouched)), 'by default the input is left as it is');
    const inPlace = await renderOverlay({ image: copy, predictions, groundTruth: gt, format: 'png', drawOnInput: true });
    assert.ok((await decode(inPlace)).data.equals((await decode(fromCopy)).data));
    assert.ok(!Buffer.from(copy.rgb).equals(Buffer.from(untouched)), 'drawn on the input');
    assert.deepEqual(inputPixel(copy, 300, 650), CLASS_COLOURS.car);
  });
});

describe('tag layout (placeTags): tags never cover each other', () => {
  const W = 1280;
  const H = 720;
  const TAG_H = 19;
  /** Tag widths as the 16 px bitmap font gives them, about 8 px a character plus padding. */
  const variants = (category: string, score: number) =>
    [`${category} ${score.toFixed(2)}`, shortClassName(category)].map((text) => ({ text, width: text.length * 8 + 8 }));
  const overlap = (a: Rect, b: Rect) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

  /** A jam: 150 boxes of every size piled into a 500x260 strip of the road, as in a busy BDD scene. */
  function busyScene(): TagRequest[] {
    const rand = seededRandom(42);
    const categories = Object.keys(CLASS_COLOURS);
    return Array.from({ length: 150 }, () => {
      const w = 4 + rand() * 160;
      const h = 4 + rand() * 110;
      const x1 = Math.round(380 + rand() * 500);
      const y1 = Math.round(300 + rand() * 260);
      return {
        box: { x1, y1, x2: Math.round(x1 + w), y2: Math.round(y1 + h) },
        variants: variants(categories[Math.floor(rand() * categories.length)]!, rand()),
      };
    });
  }

  test('a busy scene: no two tags overlap, all lie inside the image, the rest are shortened or dropped', () => {
    const requests = busyScene();
    const tags = placeTags(requests, { width: W, height: H, tagHeight: TAG_H });
    assert.equal(tags.length, requests.length);
    const placed = tags.filter((t): t is PlacedTag => t !== undefined);
    placed.forEach((a, i) => {
      assert.equal(a.index, tags.indexOf(a));
      assert.ok(a.rect.x >= 0 && a.rect.y >= 0 && a.rect.x + a.rect.width <= W && a.rect.y + a.rect.height <= H, `tag ${i} inside`);
      assert.equal(a.rect.height, TAG_H);
      assert.ok(requests[a.index]!.variants.some((v) => v.text === a.text && v.width === a.rect.width));
      for (const b of placed.slice(i + 1)) assert.ok(!overlap(a.rect, b.rect), `tags ${a.index} and ${b.index} overlap`);
    });
    assert.ok(placed.length >= 20, `${placed.length} tags placed`);
    assert.ok(placed.length < requests.length, 'a jam this dense cannot tag every box');
    assert.ok(
      placed.some((t) => t.text === requests[t.index]!.variants.at(-1)!.text),
      'some boxes carry the short tag',
    );
  });

  test('above the box first, inside its top edge at the top of the image, below it when both are taken', () => {
    const car = (x1: number, y1: number): TagRequest => ({ box: { x1, y1, x2: x1 + 200, y2: y1 + 100 }, variants: variants('car', 0.9) });
    const [above, atTop] = placeTags([car(100, 300), car(500, 0)], { width: W, height: H, tagHeight: TAG_H });
    assert.deepEqual(above!.rect, { x: 100, y: 300 - TAG_H, width: 72, height: TAG_H });
    assert.equal(atTop!.rect.y, 0, 'inside the box, which touches the top edge');
    // Two boxes with the same top edge: the first takes the spot above, the second its top edge inside.
    const [first, second, third] = placeTags([car(100, 300), car(110, 300), car(120, 300)], { width: W, height: H, tagHeight: TAG_H });
    assert.deepEqual([first!.rect.y, second!.rect.y, third!.rect.y], [300 - TAG_H, 300, 401]);
  });

  test('small boxes get the short tag, tiny ones none; reserved areas stay clear', () => {
    const tags = placeTags(
      [
        { box: { x1: 600, y1: 400, x2: 620, y2: 440 }, variants: variants('traffic light', 0.91) }, // 21 px wide
        { box: { x1: 800, y1: 400, x2: 803, y2: 404 }, variants: variants('traffic sign', 0.5) }, // 4x5 px
        { box: { x1: 10, y1: 100, x2: 300, y2: 200 }, variants: variants('bus', 0.8) },
      ],
      { width: W, height: H, tagHeight: TAG_H, reserved: [{ x: 0, y: 0, width: 400, height: 120 }] },
    );
    assert.equal(tags[0]!.text, 'light');
    assert.equal(tags[1], undefined);
    // Above and inside would cover the reserved caption: the bus's tag goes below it.
    assert.deepEqual(tags[2]!.rect, { x: 10, y: 201, width: 72, height: TAG_H });
  });

  test('renderOverlay lays its tags out this way on a busy scene (writes test-output/overlay-busy.jpg)', async () => {
    const jam: Frame = {
      name: SAMPLE,
      labels: busyScene().map((r, i) => label(`b${i}`, r.variants[1]!.text === 'ped' ? 'pedestrian' : 'car', 0.3 + (i % 7) / 10, r.box)),
    };
    const jpeg = await renderOverlay({ image, predictions: jam, groundTruth: gt });
    await fs.mkdir(outputDir, { recursive: true });
    await fs.writeFile(path.join(outputDir, 'overlay-busy.jpg'), jpeg);
    assert.deepEqual([(await sharp(jpeg).metadata()).width, (await sharp(jpeg).metadata()).height], [image.width, image.height]);
  });
});
