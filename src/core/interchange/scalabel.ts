/** The batch as one Scalabel frame list (`bdd100k_labels_images_*.json` layout), produced frame by frame. */
import type { Frame } from '../labels/schema';
import { emptyExportSummary } from './export-items';
import type { StreamedDocument } from './stream';

export function scalabelListDocument(): StreamedDocument {
  const summary = emptyExportSummary();
  let first = true;
  return {
    mediaType: 'application/json',
    summary,
    header: () => '[',
    frame(frame: Frame) {
      summary.frames += 1;
      summary.boxes += frame.labels.filter((l) => l.box2d).length;
      const piece = `${first ? '\n' : ',\n'}${JSON.stringify(frame)}`;
      first = false;
      return piece;
    },
    footer: () => (first ? ']\n' : '\n]\n'),
  };
}
