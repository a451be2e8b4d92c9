import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ATTRIBUTE_NAMES, normalizeAttribute } from '../core/taxonomy/attributes';
import { describeUnlistable, listImages } from '../adapters/files/list-images';
import { readImage } from '../adapters/image/intake';
import { MOBILENETV2_INT8, resolveModelFile } from '../adapters/providers/models/model-files';
import {
  checkTrainingLabels,
  formatSceneParams,
  SceneTrainingError,
  trainSceneModel,
  type TrainingImage,
} from '../adapters/providers/scene/local/trainer';
import type { SceneLabels } from '../adapters/providers/scene/local/training-data';
import { writeFileAtomic } from '../adapters/files/write-labels';
import { parseCommandLine } from './args';
import { loadInput } from './load-input';
import { EXIT_OK, UsageError } from './usage-error';
import type { CliIo } from './io';

export const TRAIN_SCENE_USAGE = `  autolabel train-scene --images <dir> --labels <dir|file> --out <model.json> [--models-dir <dir>]
      Train the local scene classifier (weather, timeofday, scene) on your own labeled images: ground truth,
      corrected labels imported from Label Studio, or a vision model's labels from an earlier \`autolabel label\`
      run (distilling it into the local model). Any label layout \`autolabel evaluate\` reads; an attribute that is
      \`undefined\` leaves that image out of that attribute. Each attribute needs >= 10 labeled images in 2+ classes.
      Prints the cross-validated accuracy and calibration per attribute, writes <model.json>; use it with
      "scene": {"provider": "local", "model": "<model.json>"} in a labeling config (the frames' provenance names
      the file and its sha256).
      --models-dir  folder with mobilenetv2-int8/ (else AUTOLABEL_MODELS_DIR, else the download cache)`;

const TrainSceneArgsSchema = z.object({
  images: z.string({ error: '--images <dir> is required' }).min(1),
  labels: z.string({ error: '--labels <dir|file> is required' }).min(1),
  out: z.string({ error: '--out <model.json> is required' }).min(1),
  'models-dir': z.string().min(1).optional(),
});

const LIMITS = { maxBytes: 50_000_000, maxPixels: 100_000_000, minSide: 16 };

export async function runTrainScene(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandLine(
    argv,
    { images: { type: 'string' }, labels: { type: 'string' }, out: { type: 'string' }, 'models-dir': { type: 'string' } },
    TrainSceneArgsSchema,
    TRAIN_SCENE_USAGE,
  );
  const loaded = await loadInput('ground truth', args.labels);
  for (const p of loaded.problems) io.stderr(`warning: labels: ${p.file}: ${p.message}\n`);
  const listing = await listImages(args.images).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(describeUnlistable(args.images, error));
  });
  const files = new Map(listing.images.map((i) => [i.name, i.file]));

  const items: TrainingImage[] = [];
  const withoutImage: string[] = [];
  for (const frame of loaded.frames) {
    const labels = {} as SceneLabels;
    for (const a of ATTRIBUTE_NAMES) labels[a] = normalizeAttribute(a, frame.attributes?.[a]).value;
    if (ATTRIBUTE_NAMES.every((a) => labels[a] === 'undefined')) continue;
    const name = path.basename(frame.name);
    const file = files.get(name);
    if (!file) {
      withoutImage.push(name);
      continue;
    }
    items.push({ name, labels, load: async () => readImage(await fs.readFile(file), name, LIMITS) });
  }
  if (withoutImage.length)
    io.stderr(
      `warning: ${withoutImage.length} labeled frame(s) have no image in ${args.images} (e.g. ${withoutImage.slice(0, 3).join(', ')}): left out\n`,
    );
  if (items.length === 0) throw new UsageError(`no frame of '${args.labels}' has both scene attributes and an image in '${args.images}'`);
  io.stdout(`${items.length} labeled images from ${args.labels}\n`);
  try {
    checkTrainingLabels(items);
  } catch (error) {
    if (error instanceof SceneTrainingError) throw new UsageError(error.message);
    throw error;
  }

  const env = process.env;
  const modelsDir = args['models-dir'] ?? env.AUTOLABEL_MODELS_DIR;
  let backboneFile: string;
  try {
    backboneFile = await resolveModelFile(MOBILENETV2_INT8, { ...(modelsDir ? { modelsDir } : {}), env });
  } catch (error) {
    throw new UsageError(`the MobileNetV2 backbone: ${(error as Error).message}`);
  }
  let params;
  try {
    params = await trainSceneModel(items, { backboneFile, log: (line) => io.stdout(`${line}\n`) });
  } catch (error) {
    if (error instanceof SceneTrainingError) throw new UsageError(error.message);
    throw error;
  }
  const text = formatSceneParams(params);
  // A model file a config points at must never be seen half written (a run killed here keeps the previous one).
  await writeFileAtomic(path.resolve(args.out), text);
  const sha256 = createHash('sha256').update(text).digest('hex');
  io.stdout(
    `\nwrote ${args.out} (version ${params.version}, sha256 ${sha256})\n` +
      `use it with: "scene": {"provider": "local", "model": ${JSON.stringify(path.resolve(args.out))}}\n`,
  );
  return EXIT_OK;
}
