"""Reference numbers for autolabel's COCO evaluator, computed by pycocotools' COCOeval.

Frames (Scalabel style: {name, labels: [{category, box2d, score?, attributes?, area?}]}) are turned into COCO the way
autolabel's evaluator defines it (written here independently from the TypeScript code, from the project's stated
conventions):

- evaluated images are the GT frames in their given order; image ids 1..N in that order;
- categories are the 10 BDD classes, ids 1..10; renames person->pedestrian, bike->bicycle, motor->motorcycle,
  van/caravan->car; `other person`/`other vehicle`/`trailer` are crowd regions of pedestrian/car/truck; a GT label with
  attributes.crowd === true is a crowd region of its class; unknown categories and labels without box2d are dropped;
- box: `coco` mode [x1, y1, x2 - x1, y2 - y1]; `bdd` mode [x1, y1, x2 - x1 + 1, y2 - y1 + 1];
- GT area: the label's `area` when present and the mode is `coco`, else w * h; annotation ids start at 1;
- predictions are matched to GT frames by file name (the part after the last / or \\); predictions for other images,
  for the crowd-region classes, for unknown categories, or without score or box2d are not evaluated.

Usable as a module (`evaluate_case`) or as a command: `python pycoco_reference.py cases.json results.json`, where
cases.json is {"cases": [{"case", "mode", "gt", "predictions"}, ...]} and results.json receives
{"results": [{"case", "stats", "perClassAP", "perClassAP50", "perClassAP75", "perClassAR100"}, ...]} in the same order.
`python pycoco_reference.py --files instances.json results.json out.json` evaluates COCO files as they are (an
export of autolabel's, say) and writes the same metrics for them to out.json.
"""

import contextlib
import io
import json
import re
import sys

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

CLASSES = [
    'pedestrian', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle', 'traffic light', 'traffic sign',
]
RENAMES = {'person': 'pedestrian', 'bike': 'bicycle', 'motor': 'motorcycle', 'van': 'car', 'caravan': 'car'}
CROWD_REGIONS = {'other person': 'pedestrian', 'other vehicle': 'car', 'trailer': 'truck'}
STAT_NAMES = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl']
MODES = ('coco', 'bdd')


def resolve(raw, crowd=False):
    """('class' | 'crowd', class name) or None for a category outside the taxonomy."""
    key = re.sub(r'[\s_]+', ' ', raw.strip().lower())
    if key in CROWD_REGIONS:
        return 'crowd', CROWD_REGIONS[key]
    name = key if key in CLASSES else RENAMES.get(key)
    if name is None:
        return None
    return ('crowd' if crowd else 'class'), name


def image_key(name):
    return re.split(r'[/\\]', name)[-1]


def coco_box(box2d, mode):
    extra = 1 if mode == 'bdd' else 0
    w = box2d['x2'] - box2d['x1'] + extra
    h = box2d['y2'] - box2d['y1'] + extra
    return [box2d['x1'], box2d['y1'], w, h]


def to_coco(gt_frames, pred_frames, mode):
    """(gt dataset dict, result list) for pycocotools."""
    if mode not in MODES:
        raise ValueError('mode must be coco or bdd, got %r' % (mode,))
    images, annotations, image_ids = [], [], {}
    for index, frame in enumerate(gt_frames):
        image_id = index + 1
        images.append({'id': image_id, 'file_name': frame['name']})
        image_ids[image_key(frame['name'])] = image_id
        for label in frame.get('labels') or []:
            crowd_flag = (label.get('attributes') or {}).get('crowd') is True
            resolved = resolve(label['category'], crowd_flag)
            if resolved is None or label.get('box2d') is None:
                continue
            kind, name = resolved
            bbox = coco_box(label['box2d'], mode)
            area = label['area'] if mode == 'coco' and label.get('area') is not None else bbox[2] * bbox[3]
            annotations.append({
                'id': len(annotations) + 1,  # pycocotools treats id 0 as "unmatched"
                'image_id': image_id,
                'category_id': CLASSES.index(name) + 1,
                'bbox': bbox,
                'area': area,
                'iscrowd': 1 if kind == 'crowd' else 0,
            })
    results = []
    for frame in pred_frames:
        image_id = image_ids.get(image_key(frame['name']))
        if image_id is None:
            continue  # loadRes would assert: such images are not evaluated
        for label in frame.get('labels') or []:
            resolved = resolve(label['category'])
            if resolved is None or resolved[0] == 'crowd':
                continue
            if label.get('score') is None or label.get('box2d') is None:
                continue
            results.append({
                'image_id': image_id,
                'category_id': CLASSES.index(resolved[1]) + 1,
                'bbox': coco_box(label['box2d'], mode),
                'score': label['score'],
            })
    categories = [{'id': i + 1, 'name': name} for i, name in enumerate(CLASSES)]
    return {'images': images, 'annotations': annotations, 'categories': categories}, results


def run_cocoeval(dataset, results):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        if results:
            coco_dt = coco_gt.loadRes(results)
        else:
            # loadRes([]) raises IndexError (it inspects anns[0]); build the empty result set it would have made.
            coco_dt = COCO()
            coco_dt.dataset = {'images': list(dataset['images']), 'categories': list(dataset['categories']),
                               'annotations': []}
            coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, 'bbox')
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def _mean_valid(values):
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def metrics(evaluator):
    """The 12 summary stats and per-class AP / AP50 / AP75 / AR100 (area all, 100 detections), -1 where undefined."""
    p = evaluator.params
    precision = evaluator.eval['precision']  # [T, R, K, A, M]
    recall = evaluator.eval['recall']  # [T, K, A, M]
    a_all = p.areaRngLbl.index('all')
    m100 = p.maxDets.index(100)
    t50 = np.where(p.iouThrs == 0.5)[0]
    t75 = np.where(p.iouThrs == 0.75)[0]
    out = {
        'stats': {name: float(v) for name, v in zip(STAT_NAMES, evaluator.stats)},
        'perClassAP': {}, 'perClassAP50': {}, 'perClassAP75': {}, 'perClassAR100': {},
    }
    for k, name in enumerate(CLASSES):
        assert p.catIds[k] == k + 1
        out['perClassAP'][name] = _mean_valid(precision[:, :, k, a_all, m100])
        out['perClassAP50'][name] = _mean_valid(precision[t50, :, k, a_all, m100])
        out['perClassAP75'][name] = _mean_valid(precision[t75, :, k, a_all, m100])
        out['perClassAR100'][name] = _mean_valid(recall[:, k, a_all, m100])
    return out


def evaluate_case(gt_frames, pred_frames, mode):
    dataset, results = to_coco(gt_frames, pred_frames, mode)
    return metrics(run_cocoeval(dataset, results))


def evaluate_files(instances_path, results_path):
    with open(instances_path) as f:
        dataset = json.load(f)
    with open(results_path) as f:
        results = json.load(f)
    return metrics(run_cocoeval(dataset, results))


def main(argv):
    if len(argv) == 5 and argv[1] == '--files':
        with open(argv[4], 'w') as f:
            json.dump(evaluate_files(argv[2], argv[3]), f)
        return 0
    if len(argv) != 3:
        sys.stderr.write('usage: pycoco_reference.py CASES.json RESULTS.json | --files INSTANCES.json RESULTS.json OUT.json\n')
        return 2
    with open(argv[1]) as f:
        cases = json.load(f)['cases']
    results = []
    for case in cases:
        out = evaluate_case(case['gt'], case['predictions'], case['mode'])
        results.append(dict(case=case['case'], **out))
    with open(argv[2], 'w') as f:
        json.dump({'results': results}, f)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
