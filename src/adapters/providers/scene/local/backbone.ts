/**
 * The scene classifier's frozen int8 backbone as one onnxruntime session, with the same outputs on every CPU.
 *
 * onnxruntime's int8 kernels give exact integer sums with VNNI or ARM dot products and saturating ones on AVX2
 * without VNNI (models/unsigned-int8-weights.ts): the published model's features, and so the classifier's answers,
 * would depend on the machine. The same model with unsigned weights is exact everywhere but about twice as slow here
 * (5 -> 10 ms a run). So both are loaded once and run on a probe input: where their outputs agree bit for bit, this
 * CPU's kernels are exact and the published model is kept; where they do not, the unsigned one is.
 */
import { readFile } from 'node:fs/promises';
import type * as Ort from 'onnxruntime-node';
import { meteredRun } from '../../models/run-clock';
import { unsignedWeightsVariant } from '../../models/unsigned-int8-weights';
import { BACKBONE_SIZE, type Backbone, type BackboneOutput } from './features';

/** A fixed input spread over the normalised range (about -2..2), rich enough to drive the sums to saturation. */
function probeInput(): Float32Array {
  const input = new Float32Array(3 * BACKBONE_SIZE * BACKBONE_SIZE);
  for (let i = 0; i < input.length; i++) input[i] = (((i * 7919) % 255) / 255) * 4 - 2;
  return input;
}

async function outputsOf(ort: typeof Ort, session: Ort.InferenceSession, input: Float32Array): Promise<Float32Array[]> {
  const tensor = new ort.Tensor('float32', input, [1, 3, BACKBONE_SIZE, BACKBONE_SIZE]);
  const result = await session.run({ [session.inputNames[0] ?? 'input']: tensor });
  return session.outputNames.map((name) => result[name]!.data as Float32Array);
}

const sameBits = (a: Float32Array[], b: Float32Array[]) =>
  a.length === b.length && a.every((x, i) => x.length === b[i]!.length && Buffer.compare(bytesOf(x), bytesOf(b[i]!)) === 0);
const bytesOf = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

export async function loadBackbone(file: string, options: { threads?: number } = {}): Promise<Backbone> {
  // Loaded lazily: onnxruntime-node is a native module, and nothing needs it until a local model runs.
  const ort: typeof Ort = await import('onnxruntime-node');
  const sessionOptions: Ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: options.threads ?? 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  const bytes = await readFile(file);
  let session = await ort.InferenceSession.create(bytes, sessionOptions);
  let weights: Backbone['weights'] = 'as published';
  const variant = unsignedWeightsVariant(bytes);
  if ('model' in variant) {
    const unsigned = await ort.InferenceSession.create(variant.model, sessionOptions);
    const probe = probeInput();
    if (sameBits(await outputsOf(ort, session, probe), await outputsOf(ort, unsigned, probe))) await unsigned.release();
    else {
      await session.release();
      session = unsigned;
      weights = 'unsigned weights';
    }
  }
  const inputName = session.inputNames[0] ?? 'input';
  return {
    outputs: [...session.outputNames],
    weights,
    async run(input, outputs) {
      const missing = outputs.filter((o) => !session.outputNames.includes(o));
      if (missing.length > 0) {
        throw new Error(`the backbone ${file} has no output ${missing.join(', ')} (it has ${session.outputNames.join(', ')})`);
      }
      const tensor = new ort.Tensor('float32', input, [1, 3, BACKBONE_SIZE, BACKBONE_SIZE]);
      const result = await meteredRun(() => session.run({ [inputName]: tensor }, [...outputs]));
      const values = new Map<BackboneOutput, Float32Array>();
      for (const output of outputs) {
        const data = result[output]?.data;
        if (!(data instanceof Float32Array)) throw new Error(`the backbone returned no float32 "${output}"`);
        values.set(output, Float32Array.from(data));
      }
      return values;
    },
    close: () => session.release(),
  };
}
