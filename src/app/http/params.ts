/** Route parameter schemas shared by the HTTP functions. */
import { z } from 'zod';
import { BatchIdSchema } from '../store/documents';

/** An image's file name inside its batch (the {name} of images/{batchId}/{name}): no folders, no control characters. */
export const ImageNameSchema = z
  .string()
  .min(1)
  .max(1024)
  // eslint-disable-next-line no-control-regex
  .regex(/^[^/\\\u0000-\u001f\u007f]+$/, 'an image name is a file name without folders or control characters');

/** Cosmos DB ids may not contain / \ ? # (and ours have no control characters). */
export const ReportIdSchema = z
  .string()
  .min(1)
  .max(255)
  // eslint-disable-next-line no-control-regex
  .regex(/^[^/\\?#\u0000-\u001f\u007f]+$/, 'a report id has no / \\ ? # or control characters');

export const BatchParams = z.object({ batchId: BatchIdSchema });
export const BatchImageParams = z.object({ batchId: BatchIdSchema, name: ImageNameSchema });
export const ReportParams = z.object({ reportId: ReportIdSchema });
