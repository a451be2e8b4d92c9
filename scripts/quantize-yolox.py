"""Quantize YOLOX-Nano to int8 with onnxruntime's quantization tooling. Driven by scripts/quantize-yolox.ts, which
prepares the calibration inputs with the detector's own preprocessing; run it through the project's venv:

    .venv/bin/python scripts/quantize-yolox.py --input yolox_nano.onnx --output out.onnx \
        --method static --calibration views.u8 --count 100 --size 416

--method static: QDQ, int8 weights per output channel, uint8 activations, ranges from the calibration views (each
    view: 3 x size x size bytes, planar B, G, R, the detector's letterboxed input); --ops (default Conv) are
    quantized. Three kinds of node stay float, each measured on the 60-image sample (AP50 per class):
    - the prediction convolutions of the head and everything after them (sigmoids, concatenation, reshapes): their
      outputs are the boxes and scores, which 8 bits would coarsen to steps of 1/255 and tie;
    - the first convolution, which sees raw 0..255 pixels: its outputs span a range one 8-bit scale cannot hold
      (quantized, car AP50 fell from 0.47 to 0.32);
    - depthwise convolutions (one filter per channel): per-tensor activation ranges ruin them, as is known from
      MobileNets (quantized, car AP50 0.24-0.27).
--method dynamic: int8 weights only (ConvInteger), activations quantized at run time; no calibration.

Deterministic: the same inputs, onnxruntime and onnx versions give the same file (MinMax calibration, no sampling,
models serialised in a fixed order). Temporary models go to a private folder that is removed.
"""

import argparse
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import version_converter
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

MIN_OPSET = 13
CALIBRATION = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile, "entropy": CalibrationMethod.Entropy}
PREDICTION_CONVS = ("head.reg_preds.", "head.obj_preds.", "head.cls_preds.")


class ViewReader(CalibrationDataReader):
    """The calibration views, one [1, 3, size, size] float32 BGR 0..255 input at a time."""

    def __init__(self, path, count, size, input_name):
        self.data = np.fromfile(path, dtype=np.uint8)
        per_view = 3 * size * size
        if self.data.size != count * per_view:
            raise SystemExit(f"{path}: {self.data.size} bytes, expected {count} views of {per_view}")
        self.count = count
        self.size = size
        self.input_name = input_name
        self.next = 0

    def get_next(self):
        if self.next >= self.count:
            return None
        per_view = 3 * self.size * self.size
        view = self.data[self.next * per_view : (self.next + 1) * per_view]
        self.next += 1
        return {self.input_name: view.astype(np.float32).reshape(1, 3, self.size, self.size)}

    def rewind(self):
        self.next = 0


def float_nodes(model):
    """Names of the nodes kept in float (see the header): the tail from the prediction convolutions to the outputs,
    the first convolution and the depthwise convolutions."""
    producers = {out: node for node in model.graph.node for out in node.output}
    keep = set()
    stack = [o.name for o in model.graph.output]
    while stack:
        node = producers.get(stack.pop())
        if node is None or node.name in keep:
            continue
        keep.add(node.name)
        if node.op_type == "Conv":
            weight = node.input[1] if len(node.input) > 1 else ""
            if not weight.startswith(PREDICTION_CONVS):
                raise SystemExit(f"unexpected graph: {node.name} ({weight}) reached from the output before a prediction conv")
            continue
        stack.extend(i for i in node.input if i in producers)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    keep.add(convs[0].name)
    keep.update(n.name for n in convs if any(a.name == "group" and a.i > 1 for a in n.attribute))
    return sorted(keep)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--method", choices=["static", "dynamic"], default="static")
    parser.add_argument("--calibration")
    parser.add_argument("--count", type=int)
    parser.add_argument("--size", type=int, default=416)
    parser.add_argument("--ops", default="Conv", help="op types to quantize, comma-separated ('all': every op onnxruntime can)")
    parser.add_argument("--calibrate", choices=["minmax", "percentile", "entropy"], default="minmax")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="quantize-yolox-") as work:
        prepared = os.path.join(work, "prepared.onnx")
        # Shape inference and graph folding first, as onnxruntime's quantization guide asks.
        quant_pre_process(args.input, prepared, skip_symbolic_shape=True)
        model = onnx.load(prepared)
        # Per-channel weights need DequantizeLinear's axis attribute, which came with opset 13 (the export is 11).
        opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        if opset < MIN_OPSET:
            model = version_converter.convert_version(model, MIN_OPSET)
            onnx.save(model, prepared)
        if args.method == "dynamic":
            quantize_dynamic(prepared, args.output, weight_type=QuantType.QInt8, per_channel=True)
        else:
            if not args.calibration or not args.count:
                raise SystemExit("--method static needs --calibration and --count")
            excluded = float_nodes(model)
            print(f"kept in float: {len(excluded)} nodes", file=sys.stderr)
            reader = ViewReader(args.calibration, args.count, args.size, model.graph.input[0].name)
            quantize_static(
                prepared,
                args.output,
                reader,
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CALIBRATION[args.calibrate],
                nodes_to_exclude=excluded,
                op_types_to_quantize=None if args.ops == "all" else [op for op in args.ops.split(",") if op],
                extra_options={"CalibTensorRangeSymmetric": False},
            )


if __name__ == "__main__":
    main()
