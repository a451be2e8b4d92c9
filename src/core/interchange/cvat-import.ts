/** The CVAT model (read from "CVAT for images 1.1" XML by an adapter) -> Scalabel frames, one per image. */
import { z } from 'zod';
import type { Frame, Label } from '../labels/schema';
import { ATTRIBUTE_NAMES } from '../taxonomy/attributes';
import { CVAT_SCORE_ATTRIBUTE, CvatXmlObjectSchema, type CvatDocument, type CvatImage } from './cvat-model';
import { importedProvenance, InterchangeDocumentError, type ImportResult } from './import-result';

const isAttributeName = (name: string): name is (typeof ATTRIBUTE_NAMES)[number] => (ATTRIBUTE_NAMES as readonly string[]).includes(name);

/** What an XML parser returned for a CVAT file -> the model; anything else is an InterchangeDocumentError. */
export function readCvatXmlObject(parsed: unknown, source = 'CVAT XML'): CvatDocument {
  const result = CvatXmlObjectSchema.safeParse(parsed);
  if (!result.success) throw new InterchangeDocumentError(source, `not CVAT for images 1.1 XML: ${z.prettifyError(result.error)}`);
  return result.data;
}

function frameOf(image: CvatImage, problems: string[]): Frame {
  const labels = image.boxes.map((box, i): Label => {
    const label: Label = {
      id: String(i + 1),
      category: box.label,
      box2d: { x1: box.xtl, y1: box.ytl, x2: box.xbr, y2: box.ybr },
      attributes: { occluded: box.occluded },
    };
    const score = box.attributes.find((a) => a.name === CVAT_SCORE_ATTRIBUTE)?.value.trim();
    // Boxes a person drew in CVAT have an empty score: they are kept without one.
    if (score) {
      const value = Number(score);
      if (Number.isFinite(value)) label.score = value;
      else problems.push(`${image.name}: box ${i + 1} score '${score}' is not a number, left out`);
    }
    return label;
  });
  const attributes: Record<string, string> = {};
  for (const tag of image.tags) {
    const value = tag.attributes.find((a) => a.name === tag.label)?.value;
    if (isAttributeName(tag.label) && value) attributes[tag.label] = value;
    else
      problems.push(
        `${image.name}: tag '${tag.label}' ignored: scene tags are <tag label="weather"><attribute name="weather">value</attribute>`,
      );
  }
  const frame: Frame = { name: image.name, labels };
  if (Object.keys(attributes).length) frame.attributes = attributes;
  frame.provenance = importedProvenance({ width: image.width, height: image.height }, { from: 'cvat', image: String(image.id) });
  return frame;
}

/**
 * One frame per image that has a box or a tag. CVAT lists every image of a task, labeled or not, and cannot tell
 * "nobody looked" from "nothing there": images with neither are reported as skipped rather than imported empty.
 */
export function cvatDocumentToFrames(document: CvatDocument): ImportResult {
  const result: ImportResult = { frames: [], skipped: [], problems: [] };
  const seen = new Set<string>();
  for (const image of document.images) {
    if (seen.has(image.name)) {
      result.skipped.push({ image: image.name, reason: `image id ${image.id} repeats an image already imported: kept the first` });
      continue;
    }
    if (!image.boxes.length && !image.tags.length) {
      result.skipped.push({ image: image.name, reason: 'no box and no tag (not annotated)' });
      continue;
    }
    seen.add(image.name);
    result.frames.push(frameOf(image, result.problems));
  }
  for (const [name, shapes] of Object.entries(document.ignoredShapes)) {
    const listed = Object.entries(shapes)
      .map(([shape, n]) => `${n} ${shape}`)
      .join(', ');
    result.problems.push(`${name}: ${listed} ignored: only boxes and tags are read`);
  }
  return result;
}
