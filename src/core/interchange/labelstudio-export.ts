/**
 * Frames -> Label Studio tasks with pre-annotations (`predictions`): boxes as rectanglelabels in percent of the
 * image, scene attributes as single choices. See labelstudio-config.ts for the matching labeling config.
 */
import { z } from 'zod';
import type { Frame } from '../labels/schema';
import { exportAttributes, exportBoxes, type ExportSummary } from './export-items';
import { requireImageSize, type ImageSizeOf } from './image-size';
import { LS_BOX_CONTROL, LS_IMAGE_NAME } from './labelstudio-config';
import { jsonListDocument, type StreamedDocument } from './stream';

export interface LabelStudioRectangleResult {
  id: string;
  type: 'rectanglelabels';
  from_name: string;
  to_name: string;
  original_width: number;
  original_height: number;
  image_rotation: 0;
  value: { x: number; y: number; width: number; height: number; rotation: 0; rectanglelabels: [string] };
  score?: number;
}

export interface LabelStudioChoicesResult {
  id: string;
  type: 'choices';
  from_name: string;
  to_name: string;
  value: { choices: [string] };
}

export interface LabelStudioExportTask {
  data: { image: string };
  predictions: { model_version: string; score?: number; result: (LabelStudioRectangleResult | LabelStudioChoicesResult)[] }[];
}

export interface LabelStudioExportOptions {
  /** Prefix of data.image (`/data/local-files/?d=bdd/`, `https://host/images/`); default: the bare frame name. */
  imagesUrl?: string;
  /** Image sizes the frames' provenance lacks. */
  sizeOf?: ImageSizeOf;
}

const ModelsSchema = z.looseObject({
  configHash: z.string().optional(),
  scene: z.looseObject({ model: z.string() }).nullish(),
  detector: z.looseObject({ model: z.string() }).nullish(),
});

/** `<detector>+<scene>@<config hash>` from provenance, so tasks from different runs can be told apart in Label Studio. */
export function modelVersionOf(frame: Frame): string {
  const parsed = ModelsSchema.safeParse(frame.provenance ?? {});
  if (!parsed.success) return 'autolabel';
  const models = [parsed.data.detector?.model, parsed.data.scene?.model].filter((m): m is string => Boolean(m));
  const name = models.length ? models.join('+') : 'autolabel';
  return parsed.data.configHash ? `${name}@${parsed.data.configHash}` : name;
}

/** URL of the image: prefix + name, each path segment percent-encoded (names may hold spaces or `#`). */
export function labelStudioImageUrl(name: string, prefix = ''): string {
  return prefix + name.split('/').map(encodeURIComponent).join('/');
}

/** One frame as one Label Studio task. */
export function labelStudioTask(frame: Frame, options: LabelStudioExportOptions = {}, summary?: ExportSummary): LabelStudioExportTask {
  const { width, height } = requireImageSize(frame, options.sizeOf);
  const boxes = exportBoxes(frame, summary);
  const result: LabelStudioExportTask['predictions'][number]['result'] = boxes.map((box) => {
    const rectangle: LabelStudioRectangleResult = {
      id: box.id,
      type: 'rectanglelabels',
      from_name: LS_BOX_CONTROL,
      to_name: LS_IMAGE_NAME,
      original_width: width,
      original_height: height,
      image_rotation: 0,
      value: {
        x: (box.box.x1 / width) * 100,
        y: (box.box.y1 / height) * 100,
        width: ((box.box.x2 - box.box.x1) / width) * 100,
        height: ((box.box.y2 - box.box.y1) / height) * 100,
        rotation: 0,
        rectanglelabels: [box.category],
      },
    };
    if (box.score !== undefined) rectangle.score = box.score;
    return rectangle;
  });
  for (const attribute of exportAttributes(frame, summary)) {
    result.push({
      id: attribute.name,
      type: 'choices',
      from_name: attribute.name,
      to_name: LS_IMAGE_NAME,
      value: { choices: [attribute.value] },
    });
  }
  const prediction: LabelStudioExportTask['predictions'][number] = { model_version: modelVersionOf(frame), result };
  // Label Studio sorts and filters tasks by the prediction score: the mean box score ranks uncertain images first.
  const scores = boxes.flatMap((box) => (box.score === undefined ? [] : [box.score]));
  if (scores.length) prediction.score = scores.reduce((a, b) => a + b, 0) / scores.length;
  if (summary) summary.frames += 1;
  // `image` is LS_IMAGE_NAME: the config's value="$image" reads this key.
  return { data: { image: labelStudioImageUrl(frame.name, options.imagesUrl) }, predictions: [prediction] };
}

/** The tasks JSON (a list, one task a line) as a streamed document. */
export function labelStudioDocument(options: LabelStudioExportOptions = {}): StreamedDocument {
  return jsonListDocument((frame, summary) => labelStudioTask(frame, options, summary));
}
