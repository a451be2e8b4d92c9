import { z } from 'zod';
import { LABEL_SCHEMA_VERSION } from '../labels/schema';
import { ImageStatsSchema } from '../drift/image-stats';

const modelInfo = z.object({
  provider: z.string(),
  model: z.string(),
  apiVersion: z.string().optional(),
  endpoint: z.string().optional(),
  /** The learned-parameters file a local model read, when not the built-in one. */
  file: z.object({ path: z.string(), sha256: z.string() }).optional(),
});
const usage = z.object({ promptTokens: z.number(), completionTokens: z.number() });

/** Where every predicted frame came from: enough to reproduce it, audit it, and cost it. */
export const LabelProvenanceSchema = z.object({
  schemaVersion: z.literal(LABEL_SCHEMA_VERSION),
  pipelineVersion: z.string(),
  createdAt: z.string(),
  configHash: z.string(),
  image: z.object({
    sha256: z.string(),
    width: z.number(),
    height: z.number(),
    format: z.string(),
    bytes: z.number(),
    /** What the image looks like (input drift); absent in frames labeled before it was recorded. */
    stats: ImageStatsSchema.optional(),
  }),
  scene: modelInfo
    .extend({
      prompt: z.object({ version: z.string(), sha256: z.string() }).optional(),
      /** The provider's answer before normalisation onto the BDD vocabulary. */
      raw: z.unknown(),
      confidence: z.record(z.string(), z.number()),
      /** Attributes left `undefined` because their confidence was below the configured minimum: the withheld answer. */
      abstained: z.record(z.string(), z.object({ value: z.string(), confidence: z.number(), minConfidence: z.number() })).optional(),
      /** A cascade: which provider answered each attribute. */
      answeredBy: z.record(z.string(), z.string()).optional(),
      usage: usage.optional(),
      attempts: z.number().optional(),
      latencyMs: z.number(),
    })
    .nullable(),
  detector: modelInfo
    .extend({
      usage: usage.optional(),
      attempts: z.number().optional(),
      latencyMs: z.number(),
      /** Boxes the detector returned before the score thresholds. */
      boxesBeforeThresholds: z.number(),
      unmapped: z.record(z.string(), z.number()).optional(),
      details: z.record(z.string(), z.unknown()).optional(),
    })
    .nullable(),
  thresholds: z.object({ default: z.number(), perClass: z.record(z.string(), z.number()) }),
  latencyMs: z.number(),
});
export type LabelProvenance = z.infer<typeof LabelProvenanceSchema>;
