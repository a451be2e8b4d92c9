/** The batch as one Scalabel frame list (`bdd100k_labels_images_*.json` layout), produced frame by frame. */
import type { Frame } from '../labels/schema';
import { jsonListDocument, type StreamedDocument } from './stream';

export function scalabelListDocument(): StreamedDocument {
  return jsonListDocument((frame: Frame, summary) => {
    summary.frames += 1;
    summary.boxes += frame.labels.filter((l) => l.box2d).length;
    return frame;
  });
}
