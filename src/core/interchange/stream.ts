/**
 * A document produced piece by piece, so a caller (the Functions app's HTTP response, the CLI's file writer) can
 * send a batch of any size holding one frame at a time:
 *
 *   const doc = labelStudioDocument(options);
 *   write(doc.header());
 *   for await (const frame of frames) write(doc.frame(frame));
 *   write(doc.footer());
 *   // doc.summary now counts what was written and skipped
 *
 * The pieces concatenate to exactly the whole-batch document. frame() may throw (MissingImageSizeError): check a
 * batch with framesWithoutSize first when the error must come before any byte is sent.
 */
import type { Frame } from '../labels/schema';
import { emptyExportSummary, type ExportSummary } from './export-items';

export interface StreamedDocument {
  /** MIME type of the concatenated pieces. */
  readonly mediaType: string;
  header(): string;
  /** This frame's piece, separators included (the writer remembers whether it is the first). */
  frame(frame: Frame): string;
  footer(): string;
  readonly summary: ExportSummary;
}

/** A JSON list, one item a line, each frame's item made by `item` (which may count into the summary). */
export function jsonListDocument(item: (frame: Frame, summary: ExportSummary) => unknown): StreamedDocument {
  const summary = emptyExportSummary();
  let first = true;
  return {
    mediaType: 'application/json',
    summary,
    header: () => '[',
    frame(frame) {
      const piece = `${first ? '\n' : ',\n'}${JSON.stringify(item(frame, summary))}`;
      first = false;
      return piece;
    },
    footer: () => (first ? ']\n' : '\n]\n'),
  };
}

/** All pieces of a document over frames from memory or any async source. */
export async function* documentPieces(document: StreamedDocument, frames: Iterable<Frame> | AsyncIterable<Frame>): AsyncGenerator<string> {
  yield document.header();
  for await (const frame of frames) yield document.frame(frame);
  yield document.footer();
}

/** The whole document as one string (tests, small batches). */
export function documentText(document: StreamedDocument, frames: Iterable<Frame>): string {
  const pieces = [document.header()];
  for (const frame of frames) pieces.push(document.frame(frame));
  pieces.push(document.footer());
  return pieces.join('');
}
