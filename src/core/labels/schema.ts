import { z } from 'zod';

/** Version of the documents this code writes; bumped when a stored shape changes incompatibly. */
export const LABEL_SCHEMA_VERSION = 1;

// zod 4 numbers already reject NaN and ±Infinity.
const finite = z.number();

export const Box2dSchema = z
  .object({ x1: finite, y1: finite, x2: finite, y2: finite })
  .refine((b) => b.x2 >= b.x1 && b.y2 >= b.y1, { message: 'box2d needs x2 >= x1 and y2 >= y1' });
export type Box2d = z.infer<typeof Box2dSchema>;

/**
 * One Scalabel label. Labels without box2d (lanes, drivable areas in the official files) are kept but not
 * evaluated. Unknown keys are preserved so that reading and writing a file loses nothing.
 */
export const LabelSchema = z.looseObject({
  id: z.union([z.string(), z.number()]).transform(String),
  category: z.string().min(1),
  box2d: Box2dSchema.optional(),
  score: finite.optional(),
  attributes: z.record(z.string(), z.unknown()).optional(),
  /** COCO annotation area when the label was read from COCO instances (pycocotools uses it for area ranges). */
  area: finite.optional(),
});
export type Label = z.infer<typeof LabelSchema>;

/** Frame-level attributes as written by people or models: raw strings, normalised by the taxonomy when compared. */
export const FrameAttributesSchema = z.looseObject({
  weather: z.string().optional(),
  timeofday: z.string().optional(),
  scene: z.string().optional(),
});
export type FrameAttributes = z.infer<typeof FrameAttributesSchema>;

/** Where a prediction came from; filled by the labeling pipeline, carried through every format we write. */
export const ProvenanceSchema = z.looseObject({
  schemaVersion: z.number().int().positive(),
  createdAt: z.string().optional(),
  configHash: z.string().optional(),
});
export type Provenance = z.infer<typeof ProvenanceSchema>;

/** frame-fast-path.ts mirrors FrameSchema and LabelSchema for files read from disk: change them together. */
export const FrameSchema = z.looseObject({
  name: z.string().min(1),
  videoName: z.string().optional(),
  frameIndex: z.number().int().optional(),
  attributes: FrameAttributesSchema.optional(),
  labels: z
    .array(LabelSchema)
    .nullish()
    .transform((labels) => labels ?? []),
  provenance: ProvenanceSchema.optional(),
});
export type Frame = z.infer<typeof FrameSchema>;
export type FrameInput = z.input<typeof FrameSchema>;

export const FrameListSchema = z.array(FrameSchema);

/** The variant ../shared/bdd100k-sample was published in: `image_filename` and `metadata` instead of `name`/`attributes`. */
export const PublishedFrameSchema = z.looseObject({
  image_filename: z.string().min(1),
  video_name: z.string().optional(),
  frame_index: z.number().int().optional(),
  metadata: FrameAttributesSchema.optional(),
  labels: z
    .array(LabelSchema)
    .nullish()
    .transform((labels) => labels ?? []),
});

const cocoBbox = z
  .tuple([finite, finite, finite, finite])
  .refine(([, , w, h]) => w >= 0 && h >= 0, { message: 'bbox width and height must be >= 0' });

export const CocoImageSchema = z.looseObject({
  id: z.union([z.number().int(), z.string()]),
  file_name: z.string().min(1),
  width: z.number().optional(),
  height: z.number().optional(),
});

export const CocoCategorySchema = z.looseObject({
  id: z.number().int(),
  name: z.string().min(1),
  supercategory: z.string().optional(),
});

export const CocoAnnotationSchema = z.looseObject({
  id: z.union([z.number().int(), z.string()]),
  image_id: z.union([z.number().int(), z.string()]),
  category_id: z.number().int(),
  bbox: cocoBbox,
  area: finite.optional(),
  iscrowd: z.union([z.literal(0), z.literal(1), z.boolean()]).optional(),
  score: finite.optional(),
});

export const CocoInstancesSchema = z.looseObject({
  images: z.array(CocoImageSchema),
  annotations: z.array(CocoAnnotationSchema),
  categories: z.array(CocoCategorySchema),
  info: z.unknown().optional(),
});
export type CocoInstances = z.infer<typeof CocoInstancesSchema>;

export const CocoResultSchema = z.looseObject({
  image_id: z.union([z.number().int(), z.string()]),
  category_id: z.number().int(),
  bbox: cocoBbox,
  score: finite,
});
export const CocoResultsSchema = z.array(CocoResultSchema);
export type CocoResult = z.infer<typeof CocoResultSchema>;
