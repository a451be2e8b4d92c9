/**
 * The scene backbone gives the same outputs on every CPU: onnxruntime's int8 kernels saturate on AVX2 without VNNI,
 * so where they do, the backbone runs the model with its weights made unsigned (exact everywhere). Checked here
 * against outputs recorded on an exact CPU, and the rewrite itself field by field on the real file.
 * test/scene-backbone-emulated.test.ts runs the same digest on an emulated AVX2 CPU.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readFields, readRepeatedVarints, int32Of, writeFields, type WireField } from '../src/adapters/providers/models/protobuf-wire';
import { YOLOX_NANO } from '../src/adapters/providers/models/model-files';
import { unsignedWeightsVariant } from '../src/adapters/providers/models/unsigned-int8-weights';
import { BACKBONE_FILE, backboneDigest, EXACT_DIGEST } from './helpers/backbone-digest';
import { modelsDir, sampleImagesDir } from './helpers/shared';

const YOLOX_FILE = path.join(modelsDir, YOLOX_NANO.folder, YOLOX_NANO.fileName);

type Bytes = Extract<WireField, { wire: 2 }>;
const sub = (fields: WireField[], field: number) => fields.filter((f): f is Bytes => f.field === field && f.wire === 2);
const text = (f: WireField | undefined) => (f && f.wire === 2 ? Buffer.from(f.bytes).toString('utf8') : '');

describe('scene backbone', () => {
  test('gives the exact outputs on this CPU, whichever weights it runs', async () => {
    const { weights, digest } = await backboneDigest(BACKBONE_FILE, sampleImagesDir, 'backbone');
    assert.equal(digest, EXACT_DIGEST, `outputs of the backbone (${weights}) differ from the exact ones`);
  });

  test('unsigned weights: every QLinearConv/QLinearMatMul weight and zero point, +128 as uint8, nothing else', async () => {
    const original = new Uint8Array(readFileSync(BACKBONE_FILE));
    const variant = unsignedWeightsVariant(original);
    assert.ok('model' in variant, `no variant: ${'reason' in variant ? variant.reason : ''}`);
    assert.equal(variant.weights, 53);

    const graphOf = (bytes: Uint8Array) => readFields(sub(readFields(bytes), 7)[0]!.bytes);
    const before = graphOf(original);
    const after = graphOf(variant.model);
    assert.equal(after.length, before.length);
    const targets = new Set<string>();
    for (const node of sub(before, 1).map((f) => readFields(f.bytes))) {
      if (!['QLinearConv', 'QLinearMatMul'].includes(text(node.find((f) => f.field === 4)))) continue;
      const inputs = sub(node, 1).map(text);
      targets.add(inputs[3]!).add(inputs[5]!);
    }
    let changed = 0;
    before.forEach((field, i) => {
      const other = after[i]!;
      const tensor = field.field === 5 && field.wire === 2 ? readFields(field.bytes) : undefined;
      const name = tensor && text(tensor.find((f) => f.field === 8));
      if (!tensor || !targets.has(name!)) {
        assert.deepEqual(other, field, `graph field ${i} (${field.field}) unchanged`);
        return;
      }
      changed++;
      const rewritten = readFields((other as Bytes).bytes);
      const dataType = (fields: WireField[]) => fields.find((f) => f.field === 2) as Extract<WireField, { wire: 0 }>;
      assert.equal(dataType(tensor).value, 3n, `${name} was int8`);
      assert.equal(dataType(rewritten).value, 2n, `${name} is uint8`);
      const raw = sub(tensor, 9)[0];
      if (raw)
        assert.deepEqual(
          sub(rewritten, 9)[0]!.bytes,
          raw.bytes.map((b) => b ^ 0x80),
          `${name}: each byte + 128`,
        );
      assert.deepEqual(
        readRepeatedVarints(rewritten, 5).map(int32Of),
        readRepeatedVarints(tensor, 5).map((v) => int32Of(v) + 128),
        `${name}: each value + 128`,
      );
    });
    assert.equal(changed, targets.size);
    assert.equal(targets.size, 106, '53 weights and their 53 zero points');

    // And onnxruntime reads it: exact outputs whatever this CPU's kernels (uint8 x uint8 sums never saturate).
    const session = await ort.InferenceSession.create(variant.model);
    assert.deepEqual(session.outputNames, ['output', 'features']);
    await session.release();
  });

  test('models it cannot rewrite losslessly are left as they are, saying why', () => {
    const yolox = readFileSync(YOLOX_FILE);
    assert.deepEqual(unsignedWeightsVariant(yolox), { reason: 'no QLinearConv or QLinearMatMul weights' });
    const truncated = unsignedWeightsVariant(readFileSync(BACKBONE_FILE).subarray(0, 100_000));
    assert.ok(
      'reason' in truncated && truncated.reason.startsWith('unreadable as ONNX protobuf: protobuf: field 7 runs past'),
      JSON.stringify(truncated),
    );

    // The real backbone with one weight also read by another node (an Identity), and one weight without zero point.
    const model = readFields(readFileSync(BACKBONE_FILE));
    const graphIndex = model.findIndex((f) => f.field === 7);
    const graph = readFields((model[graphIndex] as Bytes).bytes);
    const firstConv = graph.findIndex(
      (f) => f.field === 1 && f.wire === 2 && text(readFields(f.bytes).find((n) => n.field === 4)) === 'QLinearConv',
    );
    const convFields = readFields((graph[firstConv] as Bytes).bytes);
    const weight = text(sub(convFields, 1)[3]);
    const node = (fields: WireField[]): WireField => ({ field: 1, wire: 2, bytes: writeFields(fields) });
    const str = (field: number, value: string): WireField => ({ field, wire: 2, bytes: Buffer.from(value) });
    const rebuild = (nodes: WireField[]) => {
      const out = [...model];
      out[graphIndex] = { field: 7, wire: 2, bytes: writeFields(nodes) };
      return writeFields(out);
    };
    const identity = node([str(1, weight), str(2, 'copy_of_weight'), str(4, 'Identity')]);
    assert.deepEqual(unsignedWeightsVariant(rebuild([...graph, identity])), { reason: `${weight} is also input 0 of Identity` });

    let seen = 0;
    const withoutZeroPoint = convFields.filter((f) => !(f.field === 1 && seen++ >= 5));
    const noZeroPoint = [...graph];
    noZeroPoint[firstConv] = node(withoutZeroPoint);
    const refused = unsignedWeightsVariant(rebuild(noZeroPoint));
    assert.ok('reason' in refused && /has no zero point|is not int8/.test(refused.reason), JSON.stringify(refused));
  });

  test('the wire format round-trips the real models byte for byte, nested messages included', () => {
    for (const file of [BACKBONE_FILE, YOLOX_FILE]) {
      const bytes = readFileSync(file);
      const model = readFields(bytes);
      const rebuilt = model.map((f) => {
        if (f.field !== 7 || f.wire !== 2) return f;
        const graph = readFields(f.bytes).map((g) =>
          g.wire === 2 && (g.field === 1 || g.field === 5) ? { ...g, bytes: writeFields(readFields(g.bytes)) } : g,
        );
        return { ...f, bytes: writeFields(graph) };
      });
      assert.equal(Buffer.compare(Buffer.from(writeFields(rebuilt)), bytes), 0, path.basename(file));
    }
  });
});
