/** Read labeling-tool exports from files into frames (the conversions are core's; this adds the file and the parse). */
import { promises as fs } from 'node:fs';
import { cvatDocumentToFrames } from '../../core/interchange/cvat-import';
import { InterchangeDocumentError, type ImportResult } from '../../core/interchange/import-result';
import { labelStudioTasksToFrames, type LabelStudioImportOptions } from '../../core/interchange/labelstudio-import';
import { parseCvatXml } from './cvat-xml';

export const IMPORT_SOURCES = ['labelstudio', 'cvat'] as const;
export type ImportSource = (typeof IMPORT_SOURCES)[number];

export async function readLabelStudioExport(file: string, options: LabelStudioImportOptions = {}): Promise<ImportResult> {
  const text = await fs.readFile(file, 'utf8');
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new InterchangeDocumentError(file, `not JSON: ${(error as Error).message}`);
  }
  return labelStudioTasksToFrames(document, options, file);
}

export async function readCvatExport(file: string): Promise<ImportResult> {
  return cvatDocumentToFrames(parseCvatXml(await fs.readFile(file, 'utf8'), file));
}

/** Frames from a tool's export file; unreadable documents throw InterchangeDocumentError, missing files ENOENT. */
export function readInterchangeExport(source: ImportSource, file: string, options: LabelStudioImportOptions = {}): Promise<ImportResult> {
  return source === 'labelstudio' ? readLabelStudioExport(file, options) : readCvatExport(file);
}
