/**
 * YOLO (Darknet / Ultralytics) labels: one `<stem>.txt` per image, a line `class cx cy w h` per box, normalised to
 * the image (0..1, 6 decimals); class indexes are positions in BDD_CLASSES (0-based), listed in classes.txt and
 * data.yaml. Scores and scene attributes have no place in the format and are not written.
 */
import type { Frame, Label } from '../labels/schema';
import { BDD_CLASSES } from '../taxonomy/categories';
import { emptyExportSummary, exportBoxes, type ExportSummary } from './export-items';
import { requireImageSize, type ImageSize, type ImageSizeOf } from './image-size';
import { imageStem } from './names';

export const YOLO_CLASSES_FILE = 'classes.txt';
export const YOLO_DATA_FILE = 'data.yaml';
/** Ultralytics finds labels by replacing `images` with `labels` in each image path. */
export const YOLO_LABELS_DIR = 'labels';

/** classes.txt: one class a line, line n = class index n. */
export function yoloClassesText(): string {
  return BDD_CLASSES.join('\n') + '\n';
}

/** Ultralytics data.yaml for a folder holding images/ and labels/ side by side. */
export function yoloDataYaml(): string {
  const names = BDD_CLASSES.map((name, i) => `  ${i}: ${JSON.stringify(name)}`).join('\n');
  return [
    '# BDD100K classes in autolabel taxonomy order; put the images in images/ beside labels/.',
    'path: .',
    'train: images',
    'val: images',
    `nc: ${BDD_CLASSES.length}`,
    'names:',
    names,
    '',
  ].join('\n');
}

/** `videos/a.jpg` -> `a.txt`. */
export const yoloLabelFileName = (frame: Pick<Frame, 'name'>) => `${imageStem(frame.name)}.txt`;

const clamp = (value: number, max: number) => Math.min(Math.max(value, 0), max);
const fixed = (value: number) => value.toFixed(6);

/** The label file of one frame; empty text for a frame without boxes (YOLO's "background image"). */
export function yoloLabelText(frame: Frame, options: { sizeOf?: ImageSizeOf } = {}, summary: ExportSummary = emptyExportSummary()): string {
  const { width, height } = requireImageSize(frame, options.sizeOf);
  const lines: string[] = [];
  for (const { category, box } of exportBoxes(frame, summary)) {
    // Annotation tools draw past the border now and then; YOLO rejects coordinates outside 0..1.
    const x1 = clamp(box.x1, width);
    const x2 = clamp(box.x2, width);
    const y1 = clamp(box.y1, height);
    const y2 = clamp(box.y2, height);
    if (x2 <= x1 || y2 <= y1) {
      summary.skippedOutsideImage += 1;
      summary.boxes -= 1;
      continue;
    }
    if (x1 !== box.x1 || x2 !== box.x2 || y1 !== box.y1 || y2 !== box.y2) summary.clippedBoxes += 1;
    const cx = (x1 + x2) / 2 / width;
    const cy = (y1 + y2) / 2 / height;
    lines.push(`${BDD_CLASSES.indexOf(category)} ${fixed(cx)} ${fixed(cy)} ${fixed((x2 - x1) / width)} ${fixed((y2 - y1) / height)}`);
  }
  summary.frames += 1;
  return lines.length ? lines.join('\n') + '\n' : '';
}

/**
 * A label file back to labels in pixels (the class list is BDD_CLASSES unless given, e.g. from a classes.txt).
 * Lines that are not `class cx cy w h` (an optional sixth field, a confidence, becomes the score) are reported.
 */
export function yoloTextToLabels(
  text: string,
  size: ImageSize,
  classes: readonly string[] = BDD_CLASSES,
): { labels: Label[]; problems: string[] } {
  const labels: Label[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    const fields = line.trim().split(/\s+/).map(Number);
    const [index, cx, cy, w, h, score] = fields;
    const category = index === undefined ? undefined : classes[index];
    if (
      (fields.length !== 5 && fields.length !== 6) ||
      fields.some((f) => !Number.isFinite(f)) ||
      category === undefined ||
      w! < 0 ||
      h! < 0
    ) {
      problems.push(`line ${i + 1}: '${line.trim()}' is not 'class cx cy w h' with a known class and w, h >= 0`);
      return;
    }
    const label: Label = {
      id: String(labels.length + 1),
      category,
      box2d: {
        x1: (cx! - w! / 2) * size.width,
        y1: (cy! - h! / 2) * size.height,
        x2: (cx! + w! / 2) * size.width,
        y2: (cy! + h! / 2) * size.height,
      },
    };
    if (score !== undefined) label.score = score;
    labels.push(label);
  });
  return { labels, problems };
}

/** One file of a YOLO export, its path relative to the export's folder (`/`-separated). */
export interface YoloFile {
  path: string;
  text: string;
}

/**
 * Every file of a YOLO export over frames from memory or any async source: classes.txt and data.yaml, then
 * labels/<stem>.txt per frame. Two frames with one stem (a.jpg, a.png) would overwrite each other's file: that throws.
 */
export async function* yoloFiles(
  frames: Iterable<Frame> | AsyncIterable<Frame>,
  options: { sizeOf?: ImageSizeOf } = {},
  summary: ExportSummary = emptyExportSummary(),
): AsyncGenerator<YoloFile> {
  yield { path: YOLO_CLASSES_FILE, text: yoloClassesText() };
  yield { path: YOLO_DATA_FILE, text: yoloDataYaml() };
  const owners = new Map<string, string>();
  for await (const frame of frames) {
    const file = yoloLabelFileName(frame);
    const owner = owners.get(file);
    if (owner !== undefined) throw new Error(`frames "${owner}" and "${frame.name}" would both be written to ${file}`);
    owners.set(file, frame.name);
    yield { path: `${YOLO_LABELS_DIR}/${file}`, text: yoloLabelText(frame, options, summary) };
  }
}
