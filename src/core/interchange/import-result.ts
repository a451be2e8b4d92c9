/** What an import returns, for every tool: frames, what was not imported and why, and what was read only in part. */
import { LABEL_SCHEMA_VERSION, type Frame } from '../labels/schema';
import type { ImageSize } from './image-size';

export interface SkippedImage {
  /** The image name, or `task <id>` when the entry does not name an image. */
  image: string;
  reason: string;
}

export interface ImportResult {
  /** One Scalabel frame per imported image, in document order. */
  frames: Frame[];
  /** Images not imported (no annotation and no prediction, unreadable entry, duplicate): never invented. */
  skipped: SkippedImage[];
  /** Parts of imported images that could not be used (ignored result types, rotated boxes made upright...). */
  problems: string[];
}

/** A document that is not the format at all (or not one we read): nothing can be imported. */
export class InterchangeDocumentError extends Error {
  constructor(
    readonly source: string,
    readonly detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.name = 'InterchangeDocumentError';
  }
}

/**
 * Provenance of an imported frame: the image size (so it can be exported again without the images) and where the
 * labels came from. Deliberately not the labeling pipeline's provenance: no model produced these frames here.
 */
export function importedProvenance(
  size: ImageSize | undefined,
  imported: Record<string, string | undefined>,
): NonNullable<Frame['provenance']> {
  const provenance: NonNullable<Frame['provenance']> = { schemaVersion: LABEL_SCHEMA_VERSION };
  if (size) provenance.image = { width: size.width, height: size.height };
  provenance.imported = Object.fromEntries(Object.entries(imported).filter(([, value]) => value !== undefined));
  return provenance;
}
