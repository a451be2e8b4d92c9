"""Times pycocotools on the benchmark's COCO files (load, evaluate, accumulate, summarize) and prints JSON."""
import contextlib, io, json, resource, sys, time

start = time.perf_counter()
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

gt_path, res_path = sys.argv[1], sys.argv[2]
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(gt_path)
    dt = gt.loadRes(res_path)
    ev = COCOeval(gt, dt, "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
elapsed = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
print(json.dumps({
    "seconds": elapsed,
    # The whole process (interpreter start included), as the benchmark times autolabel.
    "cpuSeconds": usage.ru_utime + usage.ru_stime,
    "peakRssKb": usage.ru_maxrss,
    "stats": dict(zip(names, [float(s) for s in ev.stats])),
}))
