"""Write the golden fixtures of test/evaluate-golden.test.ts: one JSON file per case in test/golden/cases/.

Run with `npm run golden` (the project's venv with pycocotools). Deterministic: fixed boxes or fixed seeds, so running
it twice writes the same bytes. Each synthetic case holds {case, description, mode, gt, predictions, expected}; the
expected numbers come from pycocotools COCOeval through pycoco_reference.py.

The case built from real BDD100K labels (bdd100k_sample_perturbed) holds no BDD data: only the label file names, the
seed and the expected numbers. The test rebuilds GT and predictions from the shared sample with the same generator
(mulberry32 and the arithmetic below, mirrored in TypeScript in the test).
"""

import json
import math
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ beside the fixtures
import pycoco_reference as ref  # noqa: E402

CASES_DIR = os.path.join(HERE, 'cases')
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED_DIR = os.path.abspath(os.environ.get('AUTOLABEL_SHARED_DIR') or os.path.join(REPO, '..', 'shared'))
SAMPLE_LABELS_DIR = os.path.join(SHARED_DIR, 'bdd100k-sample', 'labels')


# ---------------------------------------------------------------------------------------------------------- helpers

def label(category, x1, y1, x2, y2, score=None, crowd=None, area=None):
    out = {'category': category, 'box2d': {'x1': x1, 'y1': y1, 'x2': x2, 'y2': y2}}
    if score is not None:
        out['score'] = score
    if crowd is not None:
        out['attributes'] = {'crowd': crowd}
    if area is not None:
        out['area'] = area
    return out


def frame(name, labels):
    return {'name': name, 'labels': [dict(id='%s-%d' % (name.split('.')[0].split('/')[-1], i + 1), **l)
                                     for i, l in enumerate(labels)]}


def sized(category, x, y, w, h, **kw):
    return label(category, x, y, x + w, y + h, **kw)


def r2(x):
    return round(x, 2)


# ------------------------------------------------------------------------------------------------------- the cases

def case_crowd_regions():
    gt = [
        frame('crowd-a.jpg', [
            label('car', 100, 100, 200, 180),
            label('other vehicle', 300, 100, 600, 400),          # crowd region of car
            label('trailer', 700, 300, 900, 500),                # crowd region of truck
            label('truck', 900, 80, 1100, 250),
            label('pedestrian', 50, 400, 250, 600, crowd=True),  # attributes.crowd -> crowd region
            label('other person', 1000, 400, 1200, 700),         # crowd region of pedestrian
            label('pedestrian', 600, 450, 640, 560),
            label('pedestrian', 660, 450, 700, 560, crowd=False),
        ]),
        frame('crowd-b.jpg', [
            label('other vehicle', 0, 300, 400, 700),
            label('car', 500, 300, 700, 450),
        ]),
    ]
    predictions = [
        frame('crowd-a.jpg', [
            label('car', 102, 101, 201, 182, score=0.9),
            label('car', 320, 120, 420, 220, score=0.95),   # inside the crowd region: ignored
            label('car', 450, 250, 590, 390, score=0.8),    # inside the crowd region: ignored
            label('car', 310, 300, 380, 395, score=0.6),    # inside the crowd region: ignored
            label('car', 105, 100, 205, 180, score=0.85),   # duplicate of the matched car: false positive
            label('car', 150, 90, 350, 190, score=0.7),     # straddles the car and the region
            label('car', 250, 350, 330, 420, score=0.5),    # partly inside the region
            label('truck', 710, 310, 890, 490, score=0.88),  # inside the trailer region
            label('truck', 905, 85, 1095, 245, score=0.5),
            label('truck', 650, 250, 760, 380, score=0.4),
            label('pedestrian', 60, 410, 120, 520, score=0.99),   # inside the crowd pedestrian
            label('pedestrian', 150, 450, 240, 590, score=0.3),   # inside the crowd pedestrian
            label('pedestrian', 602, 452, 641, 561, score=0.35),
            label('pedestrian', 1020, 420, 1100, 600, score=0.8),  # inside `other person`
            label('pedestrian', 661, 452, 699, 559, score=0.2),
            label('other vehicle', 300, 100, 600, 400, score=0.9),  # a crowd class: not evaluated
        ]),
        frame('crowd-b.jpg', [
            label('car', 10, 310, 200, 500, score=0.7),
            label('car', 150, 450, 390, 690, score=0.7),
            label('car', 380, 290, 520, 460, score=0.65),
            label('car', 505, 305, 695, 445, score=0.6),
        ]),
    ]
    return ('Crowd regions: `other vehicle`, `trailer`, `other person` and attributes.crowd=true GT; detections inside '
            'crowd regions (ignored), straddling a region and a real box, and a predicted crowd class.',
            'coco', gt, predictions)


def case_score_ties():
    # GT order is not alphabetical: image ids follow the GT order, and ties across images are broken by image id.
    gt = [
        frame('ties-c.jpg', [label('car', 0, 0, 100, 100), label('pedestrian', 500, 100, 540, 200)]),
        frame('ties-a.jpg', [label('car', 0, 0, 100, 100), label('car', 200, 0, 300, 100)]),
        frame('ties-b.jpg', [label('car', 0, 0, 100, 100), label('pedestrian', 500, 100, 540, 200),
                             label('traffic sign', 900, 50, 950, 90)]),
    ]
    predictions = [
        frame('ties-b.jpg', [
            label('car', 600, 600, 700, 700, score=0.5),     # FP listed before a TP of the same score
            label('car', 1, 1, 101, 101, score=0.5),
            label('pedestrian', 501, 100, 541, 200, score=0.7),
            label('pedestrian', 500, 101, 540, 201, score=0.7),  # tie for the same GT: first listed wins
            label('traffic sign', 0, 0, 20, 20, score=0.7),
            label('traffic sign', 900, 50, 950, 90, score=0.7),
        ]),
        frame('ties-a.jpg', [
            label('car', 0, 0, 100, 100, score=0.5),
            label('car', 800, 0, 900, 100, score=0.5),
            label('car', 200, 0, 300, 100, score=0.9),
            label('car', 210, 0, 310, 100, score=0.9),
        ]),
        frame('ties-c.jpg', [
            label('car', 400, 400, 500, 500, score=0.5),     # FP in the first image: sorts before the TPs above
            label('car', 2, 2, 102, 102, score=0.5),
            label('pedestrian', 300, 100, 340, 200, score=0.7),
            label('pedestrian', 500, 100, 540, 200, score=0.7),
        ]),
    ]
    return ('Score ties within an image (stable order of listing) and across images (broken by GT image order, which '
            'is not alphabetical here).', 'coco', gt, predictions)


def case_over_100_detections():
    rng = random.Random(100)
    cars = []
    for row in range(10):
        for col in range(12):
            w, h = rng.choice([(20, 15), (40, 30), (60, 45), (110, 100)])
            cars.append((col * 105 + 5, row * 70 + 5, w, h))
    gt_labels = [sized('car', x, y, w, h) for x, y, w, h in cars]
    gt_labels += [sized('pedestrian', 1262, 20 * i, 8, 18) for i in range(5)]
    dets = []
    for x, y, w, h in cars[:112]:
        dx, dy = r2(rng.uniform(-0.15, 0.15) * w), r2(rng.uniform(-0.15, 0.15) * h)
        dets.append(sized('car', r2(x + dx), r2(y + dy), w, h, score=r2(rng.uniform(0.05, 1.0))))
    for _ in range(38):
        x, y = r2(rng.uniform(0, 1200)), r2(rng.uniform(0, 650))
        dets.append(sized('car', x, y, r2(rng.uniform(10, 80)), r2(rng.uniform(10, 60)),
                          score=r2(rng.uniform(0.05, 1.0))))
    rng.shuffle(dets)
    dets += [sized('pedestrian', 1262, 20 * i + 1, 8, 18, score=r2(0.3 + 0.1 * i)) for i in range(5)]
    small_gt = [sized('car', 100 * i, 300, 80, 60) for i in range(5)]
    small_dets = [sized('car', 100 * i + 3, 302, 80, 60, score=r2(0.2 + 0.05 * i)) for i in range(5)]
    small_dets += [sized('car', 100 * i + 40, 500, 50, 50, score=r2(0.9 - 0.05 * i)) for i in range(7)]
    gt = [frame('many-a.jpg', gt_labels), frame('many-b.jpg', small_gt)]
    predictions = [frame('many-a.jpg', dets), frame('many-b.jpg', small_dets)]
    return ('More than 100 detections of one class in one image (150 cars: only the 100 best count) next to another '
            'class in the same image, and an image with 12 detections for 5 GT (the maxDet 1 / 10 cuts).',
            'coco', gt, predictions)


def case_area_ranges():
    # Areas around 32^2 = 1024 and 96^2 = 9216: the ranges are closed at both ends, so 1024 and 9216 are in two ranges.
    boxes = [
        ('traffic light', 10, 10),      # 100, small
        ('traffic light', 31, 33),      # 1023
        ('traffic light', 32, 32),      # 1024: small and medium
        ('traffic sign', 32, 32.01),    # 1024.32: medium
        ('traffic sign', 33, 31),       # 1023
        ('car', 95, 97),                # 9215
        ('car', 96, 96),                # 9216: medium and large
        ('car', 96, 96.01),             # large
        ('car', 200, 150),              # large
        ('truck', 400, 300),            # large
        ('pedestrian', 40, 40),         # medium
    ]
    gt_a, dets_a = [], []
    x = 5
    for i, (cat, w, h) in enumerate(boxes):
        gt_a.append(sized(cat, x, 100, w, h))
        # half the matches are exact, half shifted by 10% of the width
        shift = 0 if i % 2 == 0 else r2(0.1 * w)
        dets_a.append(sized(cat, x + shift, 100, w, h, score=r2(0.95 - 0.05 * i)))
        x += w + 10
    # a detection inside the 40x40 pedestrian (IoU 0.5625): matched to a GT that the small range ignores
    dets_a.append(sized('pedestrian', x - 10 - 40 + 5, 105, 30, 30, score=0.97))
    # unmatched detections of every size: ignored outside their area range
    dets_a += [
        sized('traffic light', 600, 600, 8, 8, score=0.5),
        sized('traffic light', 650, 600, 32, 32, score=0.45),
        sized('traffic sign', 700, 600, 32, 32.01, score=0.4),
        sized('car', 800, 550, 96, 96, score=0.35),
        sized('car', 1000, 500, 150, 120, score=0.3),
        sized('truck', 600, 300, 60, 50, score=0.25),
    ]
    gt_b = [sized('traffic sign', 50, 50, 20, 20), sized('car', 300, 300, 120, 90), sized('car', 600, 300, 50, 40)]
    dets_b = [sized('traffic sign', 52, 51, 20, 20, score=0.6), sized('car', 310, 305, 120, 90, score=0.8),
              sized('car', 590, 290, 60, 60, score=0.7), sized('car', 10, 600, 31.9, 32, score=0.75)]
    gt = [frame('areas-a.jpg', gt_a), frame('areas-b.jpg', gt_b)]
    predictions = [frame('areas-a.jpg', dets_a), frame('areas-b.jpg', dets_b)]
    return ('Every area range: small, medium and large boxes, boxes at 1023, 1024 (=32^2), 1024.32, 9215, 9216 (=96^2) '
            'and 9216.96 px^2, a detection matched to a GT another range ignores, and unmatched detections of each size.',
            'coco', gt, predictions)


def case_class_without_gt():
    gt = [
        frame('nogt-a.jpg', [label('car', 100, 100, 300, 250), label('bicycle', 500, 300, 560, 400)]),
        frame('nogt-b.jpg', [label('traffic sign', 10, 10, 40, 40)]),
    ]
    predictions = [
        frame('nogt-a.jpg', [
            label('car', 102, 98, 305, 255, score=0.9),
            label('bus', 600, 100, 900, 400, score=0.8),    # no bus GT anywhere: AP -1
            label('train', 0, 0, 600, 300, score=0.4),      # no train GT anywhere: AP -1
        ]),
        frame('nogt-b.jpg', [
            label('car', 400, 400, 500, 500, score=0.7),    # car predicted where there is no car GT
            label('traffic sign', 11, 10, 41, 40, score=0.6),
            label('bus', 100, 100, 400, 300, score=0.5),
        ]),
    ]
    return ('Classes with predictions but no GT anywhere (bus, train: -1), a class with GT but no prediction '
            '(bicycle: 0), and car predictions in an image without car GT.', 'coco', gt, predictions)


def case_image_without_predictions():
    gt = [
        frame('nopred-a.jpg', [label('car', 100, 100, 300, 250), label('pedestrian', 400, 300, 440, 400)]),
        frame('nopred-b.jpg', [label('car', 50, 50, 250, 200), label('car', 600, 300, 700, 380)]),
        frame('nopred-c.jpg', [label('car', 10, 10, 110, 90), label('traffic light', 900, 20, 910, 45)]),
    ]
    predictions = [
        frame('images/nopred-a.jpg', [   # matched by file name
            label('car', 101, 101, 301, 251, score=0.9),
            label('pedestrian', 401, 301, 441, 401, score=0.8),
        ]),
        frame('nopred-c.jpg', [label('car', 12, 12, 112, 92, score=0.7)]),
        frame('not-in-gt.jpg', [label('car', 10, 10, 110, 90, score=0.99)]),  # no GT frame: not evaluated
    ]
    return ('An image with GT and no prediction frame at all (its boxes are misses), a prediction frame whose name '
            'has a directory, and a prediction frame for an image outside the GT (not evaluated).',
            'coco', gt, predictions)


def case_empty_predictions():
    gt = [
        frame('empty-a.jpg', [label('car', 100, 100, 300, 250), label('traffic sign', 10, 10, 30, 30)]),
        frame('empty-b.jpg', [label('truck', 50, 50, 450, 400), label('other vehicle', 600, 300, 700, 380)]),
    ]
    return 'An empty prediction list: every class with GT scores 0, the others -1.', 'coco', gt, []


def box_mode_frames():
    gt = [
        frame('mode-a.jpg', [
            sized('traffic light', 100, 100, 8, 8),
            sized('traffic light', 200, 100, 12, 20),
            sized('traffic sign', 300, 100, 31, 31),   # 961 in coco mode, 1024 in bdd mode
            sized('traffic sign', 400, 100, 31.5, 31.5),
            sized('car', 500, 100, 95, 95),            # 9025 / 9216
            sized('car', 700, 100, 96, 95),
            sized('pedestrian', 900, 100, 20, 50),
        ]),
        frame('mode-b.jpg', [sized('car', 10, 10, 300, 200), sized('traffic light', 600, 50, 6, 14)]),
    ]
    predictions = [
        frame('mode-a.jpg', [
            sized('traffic light', 101, 101, 8, 8, score=0.9),
            sized('traffic light', 202, 103, 12, 20, score=0.8),
            sized('traffic sign', 303, 102, 31, 31, score=0.75),
            sized('traffic sign', 401, 101, 31.5, 31.5, score=0.7),
            sized('car', 505, 103, 95, 95, score=0.85),
            sized('car', 790, 100, 25, 25, score=0.6),
            sized('pedestrian', 903, 106, 20, 50, score=0.65),
        ]),
        frame('mode-b.jpg', [sized('car', 20, 15, 300, 200, score=0.95), sized('traffic light', 602, 53, 6, 14, score=0.5)]),
    ]
    return gt, predictions


def case_box_mode_coco():
    gt, predictions = box_mode_frames()
    return ('The same small and border-sized boxes as box_mode_bdd, in coco mode (w = x2 - x1).', 'coco', gt, predictions)


def case_box_mode_bdd():
    gt, predictions = box_mode_frames()
    return ('The same boxes as box_mode_coco, in bdd mode (w = x2 - x1 + 1): other IoUs and area ranges.',
            'bdd', gt, predictions)


def case_category_names_2018():
    gt = [
        frame('names-a.jpg', [
            label('person', 100, 300, 140, 400),
            label('bike', 200, 320, 260, 400),
            label('motor', 300, 320, 380, 410),
            label('van', 400, 300, 560, 420),
            label('caravan', 600, 280, 800, 420),
            label('car', 850, 300, 1000, 400),
            label('rider', 300, 250, 340, 330),
        ]),
    ]
    predictions = [
        frame('names-a.jpg', [
            label('pedestrian', 101, 301, 141, 401, score=0.9),
            label('bicycle', 202, 321, 262, 401, score=0.8),
            label('motor', 301, 322, 381, 411, score=0.7),     # 2018 name in a prediction
            label('car', 402, 302, 562, 422, score=0.85),
            label('car', 605, 285, 805, 425, score=0.6),
            label('van', 852, 301, 1002, 401, score=0.75),     # van predicted: a car
            label('person', 302, 250, 342, 330, score=0.5),    # a rider predicted as person: FP
        ]),
    ]
    return ('2018 category names in GT (person, bike, motor) and van/caravan (cars), with predictions mixing 2018 and '
            '2020 names.', 'coco', gt, predictions)


def case_perfect_predictions():
    gt = [
        frame('perfect-a.jpg', [sized('car', 100, 100, 200, 150), sized('traffic light', 400, 50, 10, 25),
                                sized('pedestrian', 500, 300, 40, 90), sized('truck', 700, 200, 300, 250)]),
        frame('perfect-b.jpg', [sized('car', 50, 300, 60, 45), sized('traffic sign', 900, 100, 30, 30),
                                sized('bus', 200, 200, 400, 300)]),
    ]
    predictions = [
        {'name': f['name'], 'labels': [dict(l, score=r2(0.9 - 0.1 * i)) for i, l in enumerate(f['labels'])]}
        for f in gt
    ]
    return 'Predictions equal to the GT boxes: AP 1 for every class with GT and every area range.', 'coco', gt, predictions


def area_override_frames():
    gt = [
        frame('area-a.jpg', [
            sized('car', 100, 100, 100, 100, area=500.0),    # 10000 px^2 box with COCO area 500: small
            sized('car', 300, 100, 20, 20, area=20000.0),    # 400 px^2 box with COCO area 20000: large
            sized('car', 500, 100, 50, 50, area=2500.0),     # area equal to w*h
            sized('traffic sign', 700, 100, 30, 30, area=1500.0),
        ]),
    ]
    predictions = [
        frame('area-a.jpg', [
            sized('car', 102, 102, 100, 100, score=0.9),
            sized('car', 302, 101, 20, 20, score=0.8),
            sized('car', 503, 101, 50, 50, score=0.7),
            sized('car', 900, 500, 20, 20, score=0.6),
            sized('traffic sign', 701, 101, 30, 30, score=0.5),
        ]),
    ]
    return gt, predictions


def case_gt_area_coco():
    gt, predictions = area_override_frames()
    return ('GT labels whose `area` differs from w*h, in coco mode: pycocotools buckets GT by that area (detections '
            'always use w*h).', 'coco', gt, predictions)


def case_gt_area_bdd():
    gt, predictions = area_override_frames()
    return 'The frames of gt_area_coco in bdd mode: the label `area` is not used, every area is w*h.', 'bdd', gt, predictions


def case_iou_at_thresholds():
    # GT 100x100 at (100, 100); detection 100 x h inside it: IoU = h / 100, exactly at each COCO threshold.
    gt, predictions = [], []
    for i, h in enumerate([50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 100, 49.99]):
        name = 'iou-%02d.jpg' % i
        gt.append(frame(name, [sized('car', 100, 100, 100, 100)]))
        predictions.append(frame(name, [sized('car', 100, 100, 100, h, score=r2(0.2 + 0.05 * i))]))
    # a crowd region with a detection half inside it (intersection / detection area = 0.5)
    gt.append(frame('iou-crowd.jpg', [sized('other vehicle', 100, 100, 100, 100), sized('car', 400, 100, 100, 100)]))
    predictions.append(frame('iou-crowd.jpg', [sized('car', 150, 100, 100, 100, score=0.9),
                                               sized('car', 400, 100, 100, 60, score=0.3)]))
    return ('Detections whose IoU is exactly 0.50, 0.55, ..., 0.95, 1 and just under 0.5 (one image each), and a '
            'detection half inside a crowd region.', 'coco', gt, predictions)


def case_unevaluated_predictions():
    gt = [frame('skip-a.jpg', [label('car', 100, 100, 300, 250), label('truck', 400, 100, 700, 400),
                               label('dog', 800, 400, 900, 500)])]
    predictions = [
        frame('skip-a.jpg', [
            label('car', 101, 101, 301, 251, score=0.6),
            {'category': 'car', 'box2d': {'x1': 500, 'y1': 500, 'x2': 600, 'y2': 600}},  # no score: not evaluated
            label('trailer', 400, 100, 700, 400, score=0.95),       # crowd class: not evaluated
            label('dog', 800, 400, 900, 500, score=0.9),            # unknown category: not evaluated
            label('truck', 420, 120, 690, 390, score=0.4),
            {'category': 'truck', 'score': 0.99},                   # no box: not evaluated
        ]),
    ]
    return ('Predicted labels that are not evaluated: without score, without box2d, of a crowd class (trailer) or an '
            'unknown category; an unknown GT category.', 'coco', gt, predictions)


SYNTHETIC = [
    ('crowd_regions', case_crowd_regions),
    ('score_ties', case_score_ties),
    ('over_100_detections', case_over_100_detections),
    ('area_ranges', case_area_ranges),
    ('class_without_gt', case_class_without_gt),
    ('image_without_predictions', case_image_without_predictions),
    ('empty_predictions', case_empty_predictions),
    ('box_mode_coco', case_box_mode_coco),
    ('box_mode_bdd', case_box_mode_bdd),
    ('category_names_2018', case_category_names_2018),
    ('perfect_predictions', case_perfect_predictions),
    ('gt_area_coco', case_gt_area_coco),
    ('gt_area_bdd', case_gt_area_bdd),
    ('iou_at_thresholds', case_iou_at_thresholds),
    ('unevaluated_predictions', case_unevaluated_predictions),
]


# ------------------------------------------------------------------------ the case built from the real BDD sample
# Mirrored in test/evaluate-golden.test.ts (perturbSample): keep the two in step, operation for operation.

SAMPLE_FILES = [
    '626ec015-61ac91c1_label.json',  # other vehicle, rider
    'c146d100-92fd1b9f_label.json',  # other vehicle, bus
    '80ed17ad-bac55cdd_label.json',  # crowd=true
    '95a9f88c-f5aa66e2_label.json',  # crowd=true
    '6823b579-22b1a108_label.json',  # motorcycle, rider, trucks
    'ab2360f2-7704a1bf_label.json',  # bicycles
    '32cf0c44-8785d8e6_label.json',  # train
    '0798a3a8-c4501e0f_label.json',
    '437b5f8d-fe104286_label.json',
    '0a493f24-352f747e_label.json',
]
SAMPLE_SEED = 20240611
SAMPLE_MODE = 'bdd'
M32 = 0xFFFFFFFF


def mulberry32(seed):
    """The mulberry32 generator, bit for bit as its usual JavaScript form (Math.imul, >>> 0)."""
    state = [seed & M32]

    def next_float():
        state[0] = (state[0] + 0x6D2B79F5) & M32
        t = state[0]
        t = ((t ^ (t >> 15)) * (t | 1)) & M32
        t = (((t + (((t ^ (t >> 7)) * (t | 61)) & M32)) & M32) ^ t) & M32
        return ((t ^ (t >> 14)) & M32) / 4294967296

    return next_float


def load_sample_frames(files):
    frames = []
    for name in files:
        with open(os.path.join(SAMPLE_LABELS_DIR, name)) as f:
            j = json.load(f)
        frames.append({'name': j['image_filename'], 'attributes': j.get('metadata'), 'labels': j.get('labels') or []})
    return frames


def perturb_sample(gt_frames, seed):
    rnd = mulberry32(seed)
    predictions = []
    for frame_index, f in enumerate(gt_frames):
        if rnd() < 0.1:
            continue  # this image gets no prediction frame
        labels = []
        for l in f['labels']:
            b = l.get('box2d')
            if b is None:
                continue
            if rnd() < 0.15:
                continue  # missed
            w = b['x2'] - b['x1']
            h = b['y2'] - b['y1']
            x1 = b['x1'] + (rnd() - 0.5) * 0.2 * w
            y1 = b['y1'] + (rnd() - 0.5) * 0.2 * h
            x2 = b['x2'] + (rnd() - 0.5) * 0.2 * w
            y2 = b['y2'] + (rnd() - 0.5) * 0.2 * h
            score = math.floor(rnd() * 20) / 20
            labels.append({'category': l['category'], 'box2d': {'x1': x1, 'y1': y1, 'x2': max(x1, x2), 'y2': max(y1, y2)},
                           'score': score})
            if rnd() < 0.1:
                labels.append({'category': l['category'],
                               'box2d': {'x1': x1 + 2, 'y1': y1 + 2, 'x2': max(x1, x2) + 2, 'y2': max(y1, y2) + 2},
                               'score': math.floor(rnd() * 20) / 20})
        for _ in range(math.floor(rnd() * 4)):
            category = ref.CLASSES[math.floor(rnd() * 10)]
            x1 = rnd() * 1200
            y1 = rnd() * 680
            w = 2 + rnd() * 150
            h = 2 + rnd() * 100
            labels.append({'category': category, 'box2d': {'x1': x1, 'y1': y1, 'x2': x1 + w, 'y2': y1 + h},
                           'score': math.floor(rnd() * 20) / 20})
        for i, l in enumerate(labels):
            l['id'] = 'p%d-%d' % (frame_index, i)
        predictions.append({'name': f['name'], 'labels': labels})
    return predictions


def prediction_digest(predictions):
    """Counts and sums that let the test tell a drifted rebuild apart from an evaluator disagreement."""
    labels = [l for f in predictions for l in f['labels']]
    coords = 0.0
    scores = 0.0
    for l in labels:
        b = l['box2d']
        coords += b['x1'] + b['y1'] + b['x2'] + b['y2']
        scores += l['score']
    return {'frames': len(predictions), 'labels': len(labels), 'coordinateSum': coords, 'scoreSum': scores}


def sample_case():
    missing = [f for f in SAMPLE_FILES if not os.path.exists(os.path.join(SAMPLE_LABELS_DIR, f))]
    if missing:
        raise SystemExit('BDD100K sample labels not found under %s (set AUTOLABEL_SHARED_DIR): %s'
                         % (SAMPLE_LABELS_DIR, ', '.join(missing)))
    gt = load_sample_frames(SAMPLE_FILES)
    predictions = perturb_sample(gt, SAMPLE_SEED)
    rnd = mulberry32(SAMPLE_SEED)
    return {
        'case': 'bdd100k_sample_perturbed',
        'description': 'Real labels of 10 BDD100K sample images (other vehicle, crowd, rare classes), predictions '
                       'perturbed by a seeded generator: misses, jitter, duplicates, false positives, scores on a '
                       '0.05 grid (ties), images without predictions. No BDD data is stored here: the test rebuilds '
                       'GT and predictions from the shared sample.',
        'mode': SAMPLE_MODE,
        'source': {'kind': 'bdd100k-sample', 'labelFiles': SAMPLE_FILES, 'seed': SAMPLE_SEED,
                   'generator': 'mulberry32-perturb-v1', 'rngCheck': [rnd() for _ in range(4)],
                   'predictionDigest': prediction_digest(predictions)},
        'expected': expected_of(ref.evaluate_case(gt, predictions, SAMPLE_MODE)),
    }


# ------------------------------------------------------------------------------------------------------- writing

def expected_of(metrics):
    return {key: metrics[key] for key in ('stats', 'perClassAP', 'perClassAP50', 'perClassAP75', 'perClassAR100')}


def compact(value, indent=0, width=118):
    """JSON with short objects and lists on one line, so fixtures read one label per line."""
    one_line = json.dumps(value, separators=(', ', ': '))
    if len(one_line) + indent <= width or not isinstance(value, (dict, list)) or not value:
        return one_line
    pad = ' ' * (indent + 2)
    if isinstance(value, list):
        items = [pad + compact(v, indent + 2, width) for v in value]
        return '[\n' + ',\n'.join(items) + '\n' + ' ' * indent + ']'
    items = [pad + json.dumps(k) + ': ' + compact(v, indent + 2, width) for k, v in value.items()]
    return '{\n' + ',\n'.join(items) + '\n' + ' ' * indent + '}'


def write_case(doc):
    path = os.path.join(CASES_DIR, doc['case'] + '.json')
    with open(path, 'w') as f:
        f.write(compact(doc) + '\n')
    return path


def main():
    os.makedirs(CASES_DIR, exist_ok=True)
    written = []
    for name, make in SYNTHETIC:
        description, mode, gt, predictions = make()
        doc = {'case': name, 'description': description, 'mode': mode, 'gt': gt, 'predictions': predictions,
               'expected': expected_of(ref.evaluate_case(gt, predictions, mode))}
        written.append(write_case(doc))
    written.append(write_case(sample_case()))
    stale = set(os.listdir(CASES_DIR)) - {os.path.basename(p) for p in written}
    for name in sorted(stale):
        os.remove(os.path.join(CASES_DIR, name))
    total = sum(os.path.getsize(p) for p in written)
    print('wrote %d cases to %s (%d bytes)' % (len(written), os.path.relpath(CASES_DIR), total))


if __name__ == '__main__':
    main()
