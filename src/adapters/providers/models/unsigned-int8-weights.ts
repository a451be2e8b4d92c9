/**
 * An int8 ONNX model with its convolution and matmul weights made unsigned, losslessly: each int8 weight w and its
 * zero point z become w + 128 and z + 128 as uint8 (one flipped top bit), so scale x (w - z) is unchanged.
 *
 * Why: onnxruntime multiplies uint8 activations by int8 weights with instructions that depend on the CPU. With
 * VNNI (AVX512-VNNI, AVX-VNNI) or ARM dot products the integer sums are exact; on AVX2 or AVX512 without VNNI the
 * pairs of products are added in 16 bits and saturate (onnxruntime's quantization guide, "reduce_range"). Measured on
 * the MobileNetV2 int8 backbone under an emulated AMD EPYC Milan (AVX2, the CPU of GitHub's runners): pooled features
 * off by up to 1.4 (mean 0.2), and the local scene classifier answering differently on 25 of 158 weather and 23 of
 * 158 scene images. uint8 x uint8 has no such shortcut: its sums are exact on every CPU, and equal to VNNI's.
 */
import { int32Of, packedVarints, readFields, readRepeatedVarints, stringOf, writeFields, type WireField } from './protobuf-wire';

// onnx.proto field numbers.
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const NODE_INPUT = 1;
const NODE_OP_TYPE = 4;
const NODE_DOMAIN = 7;
const TENSOR_DATA_TYPE = 2;
const TENSOR_INT32_DATA = 5;
const TENSOR_NAME = 8;
const TENSOR_RAW_DATA = 9;
const TENSOR_DATA_LOCATION = 14;
const VALUE_INFO_NAME = 1;
const UINT8 = 2n;
const INT8 = 3n;

/** Operators whose inputs 3 and 5 are the weight and its zero point (QLinearConv, QLinearMatMul). */
const WEIGHT_OPS = new Set(['QLinearConv', 'QLinearMatMul']);
const WEIGHT = 3;
const WEIGHT_ZERO_POINT = 5;

export interface UnsignedWeightsVariant {
  model: Uint8Array;
  /** Weight tensors rewritten (zero points not counted). */
  weights: number;
}

/**
 * The model with unsigned weights, or why not (nothing to rewrite, or a use of a weight this rewrite cannot follow):
 * then the caller keeps the model as it is.
 */
export function unsignedWeightsVariant(model: Uint8Array): UnsignedWeightsVariant | { reason: string } {
  try {
    return rewrite(model);
  } catch (error) {
    // A file onnxruntime loads but this reader cannot follow is used as it is, never refused.
    return { reason: `unreadable as ONNX protobuf: ${(error as Error).message}` };
  }
}

function rewrite(model: Uint8Array): UnsignedWeightsVariant | { reason: string } {
  const modelFields = readFields(model);
  const graphIndex = modelFields.findIndex((f) => f.field === MODEL_GRAPH && f.wire === 2);
  if (graphIndex < 0) return { reason: 'no graph' };
  const graphFields = readFields((modelFields[graphIndex] as Extract<WireField, { wire: 2 }>).bytes);

  // Every use of every name: (operator, input position); and the weights and zero points of the weight operators.
  const uses = new Map<string, { op: string; position: number }[]>();
  const weights = new Set<string>();
  const zeroPoints = new Set<string>();
  for (const f of graphFields) {
    if (f.field !== GRAPH_NODE || f.wire !== 2) continue;
    const node = readFields(f.bytes);
    const op = stringOf(node.find((n) => n.field === NODE_OP_TYPE));
    const domain = stringOf(node.find((n) => n.field === NODE_DOMAIN));
    const qualified = domain !== '' && domain !== 'ai.onnx' ? `${domain}.${op}` : op;
    const inputs = node.filter((n) => n.field === NODE_INPUT).map(stringOf);
    inputs.forEach((name, position) => {
      if (name === '') return;
      if (!uses.has(name)) uses.set(name, []);
      uses.get(name)!.push({ op: qualified, position });
    });
    if (!WEIGHT_OPS.has(qualified)) continue;
    // A weight without a zero point would read a default 0 of the new type: its values would shift by 128.
    if (!inputs[WEIGHT_ZERO_POINT]) return { reason: `a ${op} weight (${inputs[WEIGHT]}) has no zero point` };
    weights.add(inputs[WEIGHT]!);
    zeroPoints.add(inputs[WEIGHT_ZERO_POINT]);
  }
  const graphInputs = new Set(
    graphFields
      .filter((f) => f.field === GRAPH_INPUT && f.wire === 2)
      .map((f) => stringOf(readFields((f as Extract<WireField, { wire: 2 }>).bytes).find((v) => v.field === VALUE_INFO_NAME))),
  );

  const initializers = new Map<string, { index: number; fields: WireField[] }>();
  graphFields.forEach((f, index) => {
    if (f.field !== GRAPH_INITIALIZER || f.wire !== 2) return;
    const fields = readFields(f.bytes);
    const name = fields.find((t) => t.field === TENSOR_NAME);
    if (name) initializers.set(stringOf(name), { index, fields });
  });
  const dataType = (fields: WireField[]) => {
    const f = fields.find((t) => t.field === TENSOR_DATA_TYPE);
    return f?.wire === 0 ? f.value : undefined;
  };

  // Only when every weight of these operators is an int8 initializer with an int8 zero point, used nowhere else.
  const targets = new Set([...weights, ...zeroPoints]);
  if (weights.size === 0) return { reason: 'no QLinearConv or QLinearMatMul weights' };
  for (const name of targets) {
    const tensor = initializers.get(name);
    if (!tensor || graphInputs.has(name)) return { reason: `${name} is not a constant initializer` };
    if (dataType(tensor.fields) !== INT8) return { reason: `${name} is not int8` };
    if (tensor.fields.some((t) => t.field === TENSOR_DATA_LOCATION && t.wire === 0 && t.value !== 0n)) {
      return { reason: `${name} is stored outside the model file` };
    }
    const elsewhere = uses.get(name)!.find((u) => !(WEIGHT_OPS.has(u.op) && (u.position === WEIGHT || u.position === WEIGHT_ZERO_POINT)));
    if (elsewhere) return { reason: `${name} is also input ${elsewhere.position} of ${elsewhere.op}` };
  }

  const rewritten = [...graphFields];
  for (const name of targets) {
    const { index, fields } = initializers.get(name)!;
    const values = readRepeatedVarints(fields, TENSOR_INT32_DATA);
    const tensor: WireField[] = [];
    for (const t of fields) {
      if (t.field === TENSOR_DATA_TYPE) tensor.push({ field: TENSOR_DATA_TYPE, wire: 0, value: UINT8 });
      else if (t.field === TENSOR_RAW_DATA && t.wire === 2) tensor.push({ ...t, bytes: t.bytes.map((b) => b ^ 0x80) });
      else if (t.field === TENSOR_INT32_DATA) {
        // Packed or not, written once, where the first value was.
        if (!tensor.some((x) => x.field === TENSOR_INT32_DATA)) {
          tensor.push(
            packedVarints(
              TENSOR_INT32_DATA,
              values.map((v) => BigInt(int32Of(v) + 128)),
            ),
          );
        }
      } else tensor.push(t);
    }
    rewritten[index] = { field: GRAPH_INITIALIZER, wire: 2, bytes: writeFields(tensor) };
  }
  const outModel = [...modelFields];
  outModel[graphIndex] = { field: MODEL_GRAPH, wire: 2, bytes: writeFields(rewritten) };
  return { model: writeFields(outModel), weights: weights.size };
}
