import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fastFrame, fastFrameList } from '../src/core/labels/frame-fast-path';
import { LabelDocumentError, parseLabelText, parseLabelValue } from '../src/core/labels/read';
import { FrameListSchema, FrameSchema } from '../src/core/labels/schema';
import { seededRandom } from '../bench/synthetic';

/** What JSON.parse gives for `value`: the only input the fast path vouches for. */
const fromJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

/** The contract: undefined, or zod's output exactly (values, key order, nothing more). */
function assertAgreesWithZod(value: unknown, what: string): 'fast' | 'zod' {
  const zod = FrameSchema.safeParse(value);
  const fast = fastFrame(value);
  if (fast === undefined) return 'zod';
  assert.ok(zod.success, `${what}: the fast path accepted what zod refuses (${zod.error?.message})`);
  assert.deepStrictEqual(fast, zod.data, what);
  assert.equal(JSON.stringify(fast), JSON.stringify(zod.data), `${what}: key order`);
  return 'fast';
}

const car = { id: 'c1', category: 'car', box2d: { x1: 1.5, y1: 2, x2: 30.25, y2: 40 }, score: 0.9 };

describe('fastFrame against FrameSchema', () => {
  test('the shapes our writers produce take the fast path and give zod output', () => {
    const frames = [
      { name: 'a.jpg', labels: [car] },
      { name: 'a.jpg' },
      { name: 'a.jpg', labels: null },
      { name: 'a.jpg', labels: [{ ...car, id: 7 }] }, // numeric ids become strings
      {
        name: 'a.jpg',
        videoName: 'v',
        frameIndex: 3,
        attributes: { weather: 'clear', scene: 'highway', timeofday: 'daytime', extra: [1] },
        labels: [{ id: 'g', category: 'traffic light', attributes: { occluded: false, trafficLightColor: 'G' }, box2d: car.box2d }],
        provenance: { schemaVersion: 1, createdAt: '2026-01-01T00:00:00Z', configHash: 'h', detector: { provider: 'x', model: 'y' } },
        custom: { kept: true },
      },
      // Labels without a box (lanes, drivable areas) and COCO's area.
      {
        name: 'a.jpg',
        labels: [
          { id: 'l', category: 'lane', poly2d: [[0, 0, 'L']] },
          { id: 'b', category: 'car', box2d: car.box2d, area: 12 },
        ],
      },
    ];
    for (const frame of frames) assert.equal(assertAgreesWithZod(fromJson(frame), JSON.stringify(frame)), 'fast', JSON.stringify(frame));
  });

  test('declared keys come out in schema order, unknown ones after them in input order; box2d keeps x1, y1, x2, y2 only', () => {
    const value = fromJson({
      zeta: 1,
      labels: [{ extra: 'e', score: 0.5, box2d: { y2: 4, q: 9, x1: 1, y1: 2, x2: 3 }, category: 'car', id: 3 }],
      name: 'a.jpg',
      attributes: { custom: 1, timeofday: 'night' },
    });
    const frame = fastFrame(value)!;
    assert.equal(
      JSON.stringify(frame),
      '{"name":"a.jpg","attributes":{"timeofday":"night","custom":1},"labels":[{"id":"3","category":"car","box2d":{"x1":1,"y1":2,"x2":3,"y2":4},"score":0.5,"extra":"e"}],"zeta":1}',
    );
    assert.notEqual(frame.labels[0], (value as { labels: unknown[] }).labels[0], 'the parsed input is not modified or reused');
  });

  test('what zod would refuse, and what it would copy differently (__proto__ keys), is left to zod', () => {
    const invalid: unknown[] = [
      null,
      [],
      'a.jpg',
      {},
      { name: '' },
      { name: 7 },
      { name: 'a', videoName: 1 },
      { name: 'a', frameIndex: 1.5 },
      { name: 'a', frameIndex: 2 ** 53 },
      { name: 'a', attributes: { weather: 3 } },
      { name: 'a', attributes: [] },
      { name: 'a', labels: {} },
      { name: 'a', labels: [null] },
      { name: 'a', labels: [{ category: 'car' }] },
      { name: 'a', labels: [{ id: true, category: 'car' }] },
      { name: 'a', labels: [{ id: 'x', category: '' }] },
      { name: 'a', labels: [{ id: 'x', category: 'car', score: '0.5' }] },
      { name: 'a', labels: [{ id: 'x', category: 'car', score: null }] },
      { name: 'a', labels: [{ id: 'x', category: 'car', area: null }] },
      { name: 'a', labels: [{ id: 'x', category: 'car', attributes: [] }] },
      { name: 'a', labels: [{ id: 'x', category: 'car', box2d: null }] },
      { name: 'a', labels: [{ id: 'x', category: 'car', box2d: { x1: 0, y1: 0, x2: 1 } }] },
      { name: 'a', labels: [{ id: 'x', category: 'car', box2d: { x1: 5, y1: 0, x2: 1, y2: 1 } }] },
      { name: 'a', labels: [{ id: 'x', category: 'car', box2d: { x1: 0, y1: 5, x2: 1, y2: 1 } }] },
      { name: 'a', provenance: { schemaVersion: 0 } },
      { name: 'a', provenance: { schemaVersion: 1, createdAt: 5 } },
      { name: 'a', provenance: 'p' },
    ];
    for (const value of invalid) {
      assert.equal(fastFrame(fromJson(value)), undefined, JSON.stringify(value));
      assert.equal(FrameSchema.safeParse(fromJson(value)).success, false, JSON.stringify(value));
    }
    for (const text of [
      '{"name":"a","__proto__":{"x":1}}',
      '{"name":"a","attributes":{"__proto__":{}}}',
      '{"name":"a","labels":[{"id":"x","category":"car","__proto__":1}]}',
      '{"name":"a","labels":[{"id":"x","category":"car","attributes":{"__proto__":1}}]}',
      '{"name":"a","provenance":{"schemaVersion":1,"__proto__":1}}',
    ]) {
      assert.equal(fastFrame(JSON.parse(text)), undefined, text);
      assert.ok(FrameSchema.safeParse(JSON.parse(text)).success, `${text} is valid: zod parses it`);
    }
  });

  test('random frames, valid and not: the fast path either declines or gives exactly what zod gives', () => {
    const random = seededRandom(2026);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
    const maybe = (p: number) => random() < p;
    /** Mostly a valid value, one time in `1 / bad` something zod refuses. */
    const either = <T, U>(valid: readonly T[], invalid: readonly U[], bad = 0.04): T | U => (maybe(bad) ? pick(invalid) : pick(valid));
    const number = () => either([0, 1, -3, 2.5, 1e-7, 123456.789, 2 ** 53], ['1', null, true]);
    const box = () => {
      const x1 = either([0, 10, 10.5], ['0', null]);
      const y1 = pick([0, 20, 20.25]);
      const b: Record<string, unknown> = {
        x1,
        y1,
        x2: typeof x1 === 'number' ? x1 + either([0, 5, 5.5], [-1]) : 3,
        y2: y1 + either([0, 7], [-2]),
      };
      if (maybe(0.03)) delete b[pick(['x1', 'y1', 'x2', 'y2'])];
      if (maybe(0.1)) b.extra = 1;
      return maybe(0.02) ? pick([null, [], 'box']) : b;
    };
    const label = () => {
      const l: Record<string, unknown> = {};
      const keys = ['id', 'category', 'box2d', 'score', 'attributes', 'area', 'custom'].sort(() => random() - 0.5);
      for (const key of keys) {
        if (maybe(key === 'id' || key === 'category' ? 0.02 : 0.4)) continue;
        if (key === 'id') l.id = either(['a', '', 3, 0.5, 'p12'], [null, true]);
        if (key === 'category') l.category = either(['car', 'pedestrian', 'traffic light'], ['', 5]);
        if (key === 'box2d') l.box2d = box();
        if (key === 'score') l.score = number();
        if (key === 'attributes') l.attributes = either([{}, { occluded: true }, { crowd: true }], [[], null, 'x']);
        if (key === 'area') l.area = number();
        if (key === 'custom') l.custom = pick([1, 'x', { nested: [1, 2] }, null]);
      }
      return maybe(0.01) ? pick([null, 'label', 5]) : l;
    };
    const frame = () => {
      const f: Record<string, unknown> = {};
      const keys = ['name', 'videoName', 'frameIndex', 'attributes', 'labels', 'provenance', 'custom'].sort(() => random() - 0.5);
      for (const key of keys) {
        if (maybe(key === 'name' ? 0.02 : 0.4)) continue;
        if (key === 'name') f.name = either(['a.jpg', 'dir/b.png'], ['', 3]);
        if (key === 'videoName') f.videoName = either(['v'], [1, null]);
        if (key === 'frameIndex') f.frameIndex = either([0, 3, 2 ** 53 - 1], [1.5, 2 ** 53, '2', null]);
        if (key === 'attributes')
          f.attributes = either([{ weather: 'clear' }, { scene: 'x', custom: [1] }, {}], [{ weather: 1 }, null, []]);
        if (key === 'labels') f.labels = maybe(0.05) ? pick([null, {}, 'l']) : Array.from({ length: Math.floor(random() * 4) }, label);
        if (key === 'provenance')
          f.provenance = either([{ schemaVersion: 1 }, { schemaVersion: 2, configHash: 'h' }], [{ schemaVersion: 0 }, {}, null]);
        if (key === 'custom') f.custom = pick([1, { deep: { x: 1 } }, null]);
      }
      return f;
    };

    const taken = { fast: 0, zod: 0 };
    let zodValid = 0;
    for (let i = 0; i < 5000; i++) {
      const value = fromJson(frame());
      if (FrameSchema.safeParse(value).success) zodValid++;
      taken[assertAgreesWithZod(value, `case ${i}: ${JSON.stringify(value)}`)]++;
    }
    // The generator must reach both sides, or the comparison proves nothing.
    assert.ok(taken.fast > 1000, `fast path taken ${taken.fast} times`);
    assert.equal(zodValid, taken.fast, 'every valid frame without a __proto__ key takes the fast path');
    assert.ok(taken.zod > 1000, `left to zod ${taken.zod} times`);
  });
});

describe('the readers use it only where it is exact', () => {
  test('a list takes the fast path whole or not at all: one bad frame gives zod’s error with its index', () => {
    const good = fromJson([{ name: 'a.jpg', labels: [car] }, { name: 'b.jpg' }]);
    assert.deepStrictEqual(fastFrameList(good), FrameListSchema.parse(good));
    const bad = fromJson([
      { name: 'a.jpg' },
      { name: 'b.jpg' },
      { name: 'c.jpg', labels: [{ ...car, box2d: { ...car.box2d, x2: 'wide' } }] },
    ]);
    assert.equal(fastFrameList(bad), undefined);
    assert.throws(
      () => parseLabelText(JSON.stringify(bad), 'list.json'),
      (error: unknown) =>
        error instanceof LabelDocumentError &&
        error.message ===
          'list.json: not a valid list of Scalabel frames: [2].labels[0].box2d.x2: Invalid input: expected number, received string',
    );
  });

  test('a bad per-image file gives the same message as zod alone, path included', () => {
    const text = JSON.stringify({ name: 'a.jpg', labels: [car, { id: 'x', category: 'car', box2d: { x1: 9, y1: 0, x2: 1, y2: 1 } }] });
    assert.throws(
      () => parseLabelText(text, 'a.json'),
      (error: unknown) =>
        error instanceof LabelDocumentError &&
        error.message === 'a.json: not a valid Scalabel frame: labels[1].box2d: box2d needs x2 >= x1 and y2 >= y1',
    );
  });

  test('values that did not come from JSON.parse (undefined, class instances) are parsed by zod', () => {
    const value = { name: 'a.jpg', videoName: undefined, labels: [car] };
    const parsed = parseLabelValue(value, 'memory');
    assert.equal(parsed.format, 'scalabel-frame');
    assert.deepStrictEqual(parsed.format === 'scalabel-frame' && parsed.frames[0], FrameSchema.parse(value));
    assert.ok(Object.hasOwn((parsed as { frames: object[] }).frames[0]!, 'videoName'), 'zod keeps a present undefined');
  });
});
