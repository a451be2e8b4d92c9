/**
 * The parts of a Label Studio JSON export we read, as zod schemas. Loose: exports carry many more keys (ids,
 * timestamps, users, drafts) that we neither need nor want to reject a file over.
 */
import { z } from 'zod';

const finite = z.number();
const id = z.union([z.string(), z.number()]).transform(String);

export const LabelStudioResultSchema = z.looseObject({
  id: id.optional(),
  type: z.string(),
  from_name: z.string().optional(),
  to_name: z.string().optional(),
  original_width: finite.positive().optional(),
  original_height: finite.positive().optional(),
  image_rotation: finite.optional(),
  value: z.record(z.string(), z.unknown()),
  score: finite.nullish(),
});
export type LabelStudioResult = z.infer<typeof LabelStudioResultSchema>;

export const LabelStudioRectangleValueSchema = z.looseObject({
  x: finite,
  y: finite,
  width: finite.min(0),
  height: finite.min(0),
  rotation: finite.optional(),
  rectanglelabels: z.array(z.string().min(1)).min(1),
});

export const LabelStudioChoicesValueSchema = z.looseObject({ choices: z.array(z.string()).min(1) });

/** A person's annotation. `was_cancelled`: skipped in the labeling UI, so it says nothing about the image. */
export const LabelStudioAnnotationSchema = z.looseObject({
  id: id.optional(),
  result: z
    .array(z.unknown())
    .nullish()
    .transform((r) => r ?? []),
  was_cancelled: z.boolean().nullish(),
  created_at: z.string().nullish(),
  updated_at: z.string().nullish(),
});
export type LabelStudioAnnotation = z.infer<typeof LabelStudioAnnotationSchema>;

export const LabelStudioPredictionSchema = z.looseObject({
  id: id.optional(),
  model_version: z.string().nullish(),
  score: finite.nullish(),
  result: z
    .array(z.unknown())
    .nullish()
    .transform((r) => r ?? []),
  created_at: z.string().nullish(),
  updated_at: z.string().nullish(),
});
export type LabelStudioPrediction = z.infer<typeof LabelStudioPredictionSchema>;

/**
 * A task. Some Label Studio versions list predictions as bare ids in exports: they are accepted here and reported as
 * unreadable, so the task is never mistaken for one without predictions.
 */
export const LabelStudioTaskSchema = z.looseObject({
  id: id.optional(),
  data: z.looseObject({ image: z.string().min(1) }),
  annotations: z
    .array(z.union([LabelStudioAnnotationSchema, id]))
    .nullish()
    .transform((a) => a ?? []),
  predictions: z
    .array(z.union([LabelStudioPredictionSchema, id]))
    .nullish()
    .transform((p) => p ?? []),
});
export type LabelStudioTask = z.infer<typeof LabelStudioTaskSchema>;
