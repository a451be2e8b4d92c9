/**
 * Label Studio JSON export -> Scalabel frames, one per task. A person's annotation wins over model predictions
 * (the latest one that was not cancelled); a task with neither is reported as skipped, never turned into an empty
 * frame, because "nobody looked" is not "nothing there".
 */
import { z } from 'zod';
import type { Frame, Label } from '../labels/schema';
import { ATTRIBUTE_NAMES, type AttributeName } from '../taxonomy/attributes';
import type { ImageSize } from './image-size';
import { importedProvenance, InterchangeDocumentError, type ImportResult } from './import-result';
import { LS_IMAGE_NAME } from './labelstudio-config';
import {
  LabelStudioChoicesValueSchema,
  LabelStudioRectangleValueSchema,
  LabelStudioResultSchema,
  LabelStudioTaskSchema,
  type LabelStudioAnnotation,
  type LabelStudioPrediction,
} from './labelstudio-schema';
import { imageBaseName } from './names';

export interface LabelStudioImportOptions {
  /** The prefix the export put before image names: removed to get the name back (nested names kept). */
  imagesUrl?: string;
}

const safeDecode = (text: string) => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

/**
 * Image name from data.image: the part after `imagesUrl` when it starts with it; else the file name of the URL
 * (local-storage URLs `/data/local-files/?d=dir/a.jpg` name it in `d`).
 */
export function labelStudioImageName(url: string, imagesUrl?: string): string {
  if (imagesUrl && url.startsWith(imagesUrl) && url.length > imagesUrl.length) return safeDecode(url.slice(imagesUrl.length));
  const query = url.indexOf('?');
  const localFile = query >= 0 ? new URLSearchParams(url.slice(query + 1)).get('d') : null;
  const path = localFile ?? (query >= 0 ? url.slice(0, query) : url).split('#')[0]!;
  return safeDecode(imageBaseName(path));
}

type Source = { kind: 'annotation'; entry: LabelStudioAnnotation } | { kind: 'prediction'; entry: LabelStudioPrediction };

/** Latest by updated_at/created_at; entries without a readable time count as older, ties go to the later entry. */
function latest<T extends { created_at?: string | null; updated_at?: string | null }>(entries: readonly T[]): T | undefined {
  let best: { entry: T; time: number } | undefined;
  for (const entry of entries) {
    const time = Date.parse(entry.updated_at ?? entry.created_at ?? '');
    const comparable = Number.isNaN(time) ? -Infinity : time;
    if (!best || comparable >= best.time) best = { entry, time: comparable };
  }
  return best?.entry;
}

function chooseSource(task: z.infer<typeof LabelStudioTaskSchema>): Source | { reason: string } {
  const annotations = task.annotations.filter((a): a is LabelStudioAnnotation => typeof a === 'object');
  const kept = annotations.filter((a) => a.was_cancelled !== true);
  const annotation = latest(kept);
  if (annotation) return { kind: 'annotation', entry: annotation };
  const predictions = task.predictions.filter((p): p is LabelStudioPrediction => typeof p === 'object');
  const prediction = latest(predictions);
  if (prediction) return { kind: 'prediction', entry: prediction };
  if (predictions.length < task.predictions.length) {
    return { reason: 'predictions are listed by id only (export the project with predictions included)' };
  }
  if (annotations.length) return { reason: 'only cancelled (skipped) annotations, no prediction' };
  return { reason: 'no annotation and no prediction' };
}

/** The axis-aligned box around a rectangle Label Studio rotated by `degrees` (clockwise) about its top-left corner. */
function uprightBox(x: number, y: number, w: number, h: number, degrees: number) {
  const t = (degrees * Math.PI) / 180;
  const corners = [
    [0, 0],
    [w, 0],
    [w, h],
    [0, h],
  ].map(([dx, dy]) => [x + dx! * Math.cos(t) - dy! * Math.sin(t), y + dx! * Math.sin(t) + dy! * Math.cos(t)] as const);
  const xs = corners.map(([cx]) => cx);
  const ys = corners.map(([, cy]) => cy);
  return { x1: Math.min(...xs), y1: Math.min(...ys), x2: Math.max(...xs), y2: Math.max(...ys) };
}

interface ConvertedResults {
  labels: Label[];
  attributes: Partial<Record<AttributeName, string>>;
  size?: ImageSize;
  problems: string[];
}

function convertResults(results: readonly unknown[], withScores: boolean): ConvertedResults {
  const converted: ConvertedResults = { labels: [], attributes: {}, problems: [] };
  const ignoredTypes = new Map<string, number>();
  results.forEach((raw, i) => {
    const result = LabelStudioResultSchema.safeParse(raw);
    if (!result.success) {
      converted.problems.push(`result ${i + 1} ignored: ${z.prettifyError(result.error)}`);
      return;
    }
    const { type, from_name: from } = result.data;
    if (type === 'choices' && from && (ATTRIBUTE_NAMES as readonly string[]).includes(from)) {
      const value = LabelStudioChoicesValueSchema.safeParse(result.data.value);
      if (value.success) converted.attributes[from as AttributeName] = value.data.choices[0]!;
      else converted.problems.push(`${from} choice ignored: ${z.prettifyError(value.error)}`);
      return;
    }
    if (type !== 'rectanglelabels') {
      const key = `${type}${from ? ` (${from})` : ''}`;
      ignoredTypes.set(key, (ignoredTypes.get(key) ?? 0) + 1);
      return;
    }
    const value = LabelStudioRectangleValueSchema.safeParse(result.data.value);
    const { original_width: width, original_height: height } = result.data;
    if (!value.success || width === undefined || height === undefined) {
      const why = value.success ? 'no original_width/original_height to turn percent into pixels' : z.prettifyError(value.error);
      converted.problems.push(`box ${result.data.id ?? i + 1} ignored: ${why}`);
      return;
    }
    converted.size ??= { width, height };
    const v = value.data;
    const [px, py, pw, ph] = [(v.x / 100) * width, (v.y / 100) * height, (v.width / 100) * width, (v.height / 100) * height];
    const rotation = v.rotation ?? 0;
    if (rotation % 360 !== 0)
      converted.problems.push(`box ${result.data.id ?? i + 1}: rotated ${rotation}°, imported as its upright bounding box`);
    const box2d = rotation % 360 === 0 ? { x1: px, y1: py, x2: px + pw, y2: py + ph } : uprightBox(px, py, pw, ph, rotation);
    const label: Label = { id: result.data.id ?? String(converted.labels.length + 1), category: v.rectanglelabels[0]!, box2d };
    if (withScores && typeof result.data.score === 'number') label.score = result.data.score;
    converted.labels.push(label);
  });
  for (const [key, n] of ignoredTypes)
    converted.problems.push(`${n} ${key} result(s) ignored: only rectanglelabels and the scene choices are read`);
  return converted;
}

const TaskListSchema = z.union([z.array(z.unknown()), z.looseObject({ data: z.unknown() }).transform((task) => [task])]);

/** A parsed Label Studio JSON export (a list of tasks, or one task) -> frames. */
export function labelStudioTasksToFrames(
  document: unknown,
  options: LabelStudioImportOptions = {},
  source = 'Label Studio export',
): ImportResult {
  const list = TaskListSchema.safeParse(document);
  if (!list.success)
    throw new InterchangeDocumentError(source, 'expected a Label Studio JSON export: a list of tasks {data, annotations, predictions}');
  const result: ImportResult = { frames: [], skipped: [], problems: [] };
  const seen = new Set<string>();
  list.data.forEach((raw, i) => {
    const parsed = LabelStudioTaskSchema.safeParse(raw);
    const taskId = (raw as { id?: unknown } | null)?.id ?? `#${i + 1}`;
    if (!parsed.success) {
      result.skipped.push({ image: `task ${String(taskId)}`, reason: `not a readable task: ${z.prettifyError(parsed.error)}` });
      return;
    }
    const task = parsed.data;
    const name = labelStudioImageName(task.data[LS_IMAGE_NAME] as string, options.imagesUrl);
    if (seen.has(name)) {
      result.skipped.push({ image: name, reason: `task ${String(taskId)} repeats an image already imported: kept the first` });
      return;
    }
    const chosen = chooseSource(task);
    if ('reason' in chosen) {
      result.skipped.push({ image: name, reason: chosen.reason });
      return;
    }
    seen.add(name);
    // People's boxes carry no meaningful score; only model predictions keep theirs.
    const converted = convertResults(chosen.entry.result, chosen.kind === 'prediction');
    for (const problem of converted.problems) result.problems.push(`${name}: ${problem}`);
    const frame: Frame = { name, labels: converted.labels };
    if (Object.keys(converted.attributes).length) frame.attributes = converted.attributes;
    frame.provenance = importedProvenance(converted.size, {
      from: 'labelstudio',
      task: task.id,
      source: chosen.kind,
      [chosen.kind]: chosen.entry.id,
      modelVersion: chosen.kind === 'prediction' ? (chosen.entry.model_version ?? undefined) : undefined,
    });
    result.frames.push(frame);
  });
  return result;
}
