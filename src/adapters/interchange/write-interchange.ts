/**
 * Export files for labeling tools. Single-document formats (Label Studio, CVAT) are streamed frame by frame into a
 * temp file that is renamed into place, as the label writers do, so a crash never leaves half a file.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cvatDocument, type CvatExportOptions } from '../../core/interchange/cvat-export';
import { emptyExportSummary, type ExportSummary } from '../../core/interchange/export-items';
import type { ImageSizeOf } from '../../core/interchange/image-size';
import { labelStudioConfigXml } from '../../core/interchange/labelstudio-config';
import { labelStudioDocument, type LabelStudioExportOptions } from '../../core/interchange/labelstudio-export';
import { documentPieces, type StreamedDocument } from '../../core/interchange/stream';
import { framesToCocoInterchange } from '../../core/interchange/coco';
import type { CocoExportSummary } from '../../core/labels/coco';
import type { Frame } from '../../core/labels/schema';
import { YOLO_CLASSES_FILE, YOLO_DATA_FILE, YOLO_LABELS_DIR, yoloFiles, type YoloFile } from '../../core/interchange/yolo';
import { forEachConcurrently } from '../concurrency/limits';
import { COCO_INSTANCES_FILE, COCO_RESULTS_FILE, writeFileAtomic, writeJsonAtomic } from '../files/write-labels';

async function writeDocument(
  file: string,
  document: StreamedDocument,
  frames: Iterable<Frame> | AsyncIterable<Frame>,
): Promise<ExportSummary> {
  await writeFileAtomic(file, documentPieces(document, frames));
  return document.summary;
}

/** `tasks.json` -> `tasks.config.xml`, `tasks` -> `tasks.config.xml`: the labeling config beside the tasks. */
export function labelStudioConfigPath(tasksFile: string): string {
  return tasksFile.replace(/\.json$/i, '') + '.config.xml';
}

export interface LabelStudioFiles {
  tasksFile: string;
  configFile: string;
  summary: ExportSummary;
}

export async function writeLabelStudioExport(
  tasksFile: string,
  frames: Iterable<Frame> | AsyncIterable<Frame>,
  options: LabelStudioExportOptions = {},
): Promise<LabelStudioFiles> {
  const summary = await writeDocument(tasksFile, labelStudioDocument(options), frames);
  const configFile = labelStudioConfigPath(tasksFile);
  await writeFileAtomic(configFile, labelStudioConfigXml());
  return { tasksFile, configFile, summary };
}

export function writeCvatExport(
  file: string,
  frames: Iterable<Frame> | AsyncIterable<Frame>,
  options: CvatExportOptions = {},
): Promise<ExportSummary> {
  return writeDocument(file, cvatDocument(options), frames);
}

export interface YoloFiles {
  labelsDir: string;
  labelFiles: string[];
  classesFile: string;
  dataFile: string;
  summary: ExportSummary;
}

const WRITE_CONCURRENCY = 16;

/** `<dir>/labels/<stem>.txt` per frame, `<dir>/classes.txt`, `<dir>/data.yaml`. Clashing stems throw before writing. */
export async function writeYoloExport(dir: string, frames: readonly Frame[], options: { sizeOf?: ImageSizeOf } = {}): Promise<YoloFiles> {
  const summary = emptyExportSummary();
  // Every text first: a missing size or a clashing stem fails before any file is written.
  const files: YoloFile[] = [];
  for await (const file of yoloFiles(frames, options, summary)) files.push(file);
  const labelsDir = path.join(dir, YOLO_LABELS_DIR);
  await fs.mkdir(labelsDir, { recursive: true });
  const target = (file: YoloFile) => path.join(dir, ...file.path.split('/'));
  await forEachConcurrently(files, WRITE_CONCURRENCY, (file) => writeFileAtomic(target(file), file.text));
  const labelFiles = files.filter((file) => file.path.startsWith(`${YOLO_LABELS_DIR}/`)).map(target);
  return { labelsDir, labelFiles, classesFile: path.join(dir, YOLO_CLASSES_FILE), dataFile: path.join(dir, YOLO_DATA_FILE), summary };
}

export interface CocoFiles {
  instancesFile: string;
  instances: CocoExportSummary;
  resultsFile?: string;
  results?: CocoExportSummary;
}

/** `<dir>/instances.json` (images with sizes) and, when labels carry scores, `<dir>/results.json`. */
export async function writeCocoInterchangeExport(
  dir: string,
  frames: readonly Frame[],
  options: { sizeOf?: ImageSizeOf } = {},
): Promise<CocoFiles> {
  const coco = framesToCocoInterchange(frames, options);
  const files: CocoFiles = { instancesFile: path.join(dir, COCO_INSTANCES_FILE), instances: coco.instancesSummary };
  if (coco.results) {
    files.resultsFile = path.join(dir, COCO_RESULTS_FILE);
    files.results = coco.resultsSummary!;
    await writeJsonAtomic(files.resultsFile, coco.results);
  }
  await writeJsonAtomic(files.instancesFile, coco.instances);
  return files;
}
