/**
 * Prints {"weights", "digest"} as JSON: the backbone's `output` and `features` for the first three sample images, hashed
 * (test/scene-backbone*.test.ts). Run by the tests in this process and under an emulated CPU (qemu-user):
 *
 *   node --import tsx test/helpers/backbone-digest.ts <model.onnx> <images dir> [backbone|published]
 *
 * `backbone`: through loadBackbone (what the product runs); `published`: the file in one plain session, as it is.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { readImage } from '../../src/adapters/image/intake';
import { MOBILENETV2_INT8 } from '../../src/adapters/providers/models/model-files';
import { loadBackbone } from '../../src/adapters/providers/scene/local/backbone';
import { BACKBONE_SIZE, sceneInputs } from '../../src/adapters/providers/scene/local/features';
import { modelsDir } from './shared';

/**
 * sha256 of `output` and `features` of the first three sample images, exact integer arithmetic: recorded with the
 * published file on an AVX512-VNNI CPU, and equal with unsigned weights there and under an emulated AVX2 EPYC Milan.
 * A new onnxruntime may round differently: record it again then (test/helpers/backbone-digest.ts prints it).
 */
export const EXACT_DIGEST = 'd6d2fec788a3572d5d46380e0adc21a36f4a95276c964ad59f7cde20c25fd924';

const OUTPUTS = ['output', 'features'] as const;

/** The shared backbone file (the registry's name for it). */
export const BACKBONE_FILE = path.join(modelsDir, MOBILENETV2_INT8.folder, MOBILENETV2_INT8.fileName);

export async function backboneDigest(
  model: string,
  imagesDir: string,
  mode: 'backbone' | 'published',
): Promise<{ weights: string; digest: string }> {
  const names = readdirSync(imagesDir)
    .filter((n) => n.endsWith('.jpg'))
    .sort()
    .slice(0, 3);
  const hash = createHash('sha256');
  let weights = 'as published';
  let run: (input: Float32Array) => Promise<Float32Array[]>;
  let close: () => Promise<void>;
  if (mode === 'backbone') {
    const backbone = await loadBackbone(model);
    weights = backbone.weights;
    run = async (input) => {
      const values = await backbone.run(input, OUTPUTS);
      return OUTPUTS.map((o) => values.get(o)!);
    };
    close = () => backbone.close();
  } else {
    const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, executionMode: 'sequential' });
    run = async (input) => {
      const result = await session.run({
        [session.inputNames[0]!]: new ort.Tensor('float32', input, [1, 3, BACKBONE_SIZE, BACKBONE_SIZE]),
      });
      return OUTPUTS.map((o) => result[o]!.data as Float32Array);
    };
    close = () => session.release();
  }
  for (const name of names) {
    const image = await readImage(readFileSync(path.join(imagesDir, name)), name, { maxBytes: 20 << 20, maxPixels: 40e6, minSide: 32 });
    for (const values of await run(sceneInputs(image).input)) hash.update(Buffer.from(values.buffer, values.byteOffset, values.byteLength));
  }
  await close();
  return { weights, digest: hash.digest('hex') };
}

if (require.main === module) {
  const [model, imagesDir, mode = 'backbone'] = process.argv.slice(2);
  if (!model || !imagesDir || (mode !== 'backbone' && mode !== 'published')) {
    console.error('usage: backbone-digest.ts <model.onnx> <images dir> [backbone|published]');
    process.exit(2);
  }
  void backboneDigest(model, imagesDir, mode).then((result) => console.log(JSON.stringify(result)));
}
