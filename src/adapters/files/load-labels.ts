/**
 * Load label files from disk: one file or a directory tree of *.json files, in any layout read.ts detects.
 *
 * Usage, COCO ground truth with COCO-results predictions:
 *   const gt = await loadLabels('gt/instances.json');
 *   const pred = await loadLabels('pred/results.json', { cocoIndex: gt.cocoIndex });
 * Without `cocoIndex`, COCO results resolve against the COCO instances file in their own directory (our export
 * writes one next to results.json); failing both they are returned in `unresolvedCocoResults` and reported.
 */
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { resolveCocoResults, type CocoIndex } from '../../core/labels/coco';
import { LabelDocumentError, parseLabelText, type LabelFormat, type ParsedLabels } from '../../core/labels/read';
import type { CocoResult, Frame } from '../../core/labels/schema';

export interface LoadOptions {
  /** Image and category ids of the ground truth (LoadResult.cocoIndex of a COCO GT) to resolve COCO results. */
  cocoIndex?: CocoIndex;
  /** Called after each file is read (directories of per-image files can hold many thousands). */
  onProgress?: (filesRead: number, filesTotal: number, problems: number) => void;
}

/** Something that was not loaded, or only partly: the file it came from and why. */
export interface LoadProblem {
  file: string;
  message: string;
}

export interface UnresolvedCocoResults {
  file: string;
  /** Resolve later with resolveCocoResults(results, index) from coco.ts. */
  results: CocoResult[];
}

export interface LoadResult {
  /** Unique by name (first kept). Sorted by name, or in COCO image-id order when every source is COCO. */
  frames: Frame[];
  problems: LoadProblem[];
  /** Label files read (including those that failed). */
  files: number;
  /** Files per detected format. */
  formats: Partial<Record<LabelFormat, number>>;
  /** The COCO image/category index when exactly one COCO instances document was read (pass it on as cocoIndex). */
  cocoIndex?: CocoIndex;
  /** COCO instances files used only as the index of COCO results beside them: their frames are not returned. */
  indexFiles: string[];
  unresolvedCocoResults?: UnresolvedCocoResults[];
}

interface ReadDocument {
  file: string;
  parsed: ParsedLabels;
}

type FramesDocument = ReadDocument & { parsed: Exclude<ParsedLabels, { format: 'coco-results' }> };

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Every *.json file under `dir`, sorted by path (code-unit order, locale-independent). Symlinks are followed once. */
async function listJsonFiles(dir: string, seen = new Set<string>()): Promise<string[]> {
  const real = await fs.realpath(dir);
  if (seen.has(real)) return [];
  seen.add(real);
  const files: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const stat = entry.isSymbolicLink() ? await fs.stat(full).catch(() => undefined) : entry;
    if (stat?.isDirectory()) files.push(...(await listJsonFiles(full, seen)));
    else if (stat?.isFile() && entry.name.toLowerCase().endsWith('.json')) files.push(full);
  }
  return files.sort(byString);
}

function readDocument(file: string): ReadDocument | LoadProblem {
  try {
    return { file, parsed: parseLabelText(readFileSync(file, 'utf8'), file) };
  } catch (error) {
    if (error instanceof LabelDocumentError) return { file, message: error.detail };
    return { file, message: `cannot read: ${(error as Error).message}` };
  }
}

/**
 * For a results file loaded on its own: COCO instances documents among the *.json files of its directory.
 * Cheap text test first so a directory of per-image label files is not parsed for nothing.
 */
async function siblingInstances(resultsFile: string): Promise<{ documents: ReadDocument[]; problems: LoadProblem[] }> {
  const dir = path.dirname(resultsFile);
  const documents: ReadDocument[] = [];
  const problems: LoadProblem[] = [];
  const names = (await fs.readdir(dir)).filter((name) => name.toLowerCase().endsWith('.json')).sort(byString);
  for (const name of names) {
    const file = path.join(dir, name);
    if (file === resultsFile) continue;
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    if (!text.includes('"images"') || !text.includes('"categories"')) continue;
    try {
      const parsed = parseLabelText(text, file);
      if (parsed.format === 'coco-instances') documents.push({ file, parsed });
    } catch (error) {
      if (error instanceof LabelDocumentError) problems.push({ file, message: `as COCO index: ${error.detail}` });
    }
  }
  return { documents, problems };
}

/**
 * Files are read one by one with readFileSync, yielding to the event loop after each slice of this many ms so that a
 * host sharing the loop (the Functions app loads ground truth with this) stays responsive. Measured on 4,000
 * per-image files (41 MB) here: from the page cache, readFileSync takes 60 ms of the main thread where fs.promises
 * with 16 reads in flight took 300 ms (four thread-pool round trips and promise hops per file); with nothing cached
 * the concurrent reads win (280 ms against 430 ms), but label folders are usually read just after being written.
 */
const READ_SLICE_MS = 25;

/** Load labels from a file or directory. A missing path throws; everything else wrong is in `problems`. */
export async function loadLabels(pathOrDir: string, options: LoadOptions = {}): Promise<LoadResult> {
  const stat = await fs.stat(pathOrDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new Error(`label path not found: ${pathOrDir}`);
    throw new Error(`cannot read label path ${pathOrDir}: ${error.message}`);
  });
  const isDir = stat.isDirectory();
  const files = isDir ? await listJsonFiles(pathOrDir) : [pathOrDir];

  const problems: LoadProblem[] = [];
  const formats: LoadResult['formats'] = {};
  const documents: ReadDocument[] = [];
  let failed = 0;
  let sliceStart = performance.now();
  for (const [i, file] of files.entries()) {
    if (performance.now() - sliceStart > READ_SLICE_MS) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
    const read = readDocument(file);
    if ('message' in read) {
      problems.push(read);
      failed++;
    } else {
      documents.push(read);
      formats[read.parsed.format] = (formats[read.parsed.format] ?? 0) + 1;
      for (const message of read.parsed.problems) problems.push({ file, message });
    }
    options.onProgress?.(i + 1, files.length, failed);
  }
  if (isDir && files.length === 0) problems.push({ file: pathOrDir, message: 'no *.json label files in this directory' });

  // A lone results file finds its index beside it; in a directory load the siblings are already among `documents`.
  let indexCandidates = documents;
  if (!isDir && !options.cocoIndex && documents[0]?.parsed.format === 'coco-results') {
    const siblings = await siblingInstances(pathOrDir);
    indexCandidates = siblings.documents;
    problems.push(...siblings.problems);
  }
  const instancesIn = (dir: string) => indexCandidates.filter((d) => d.parsed.format === 'coco-instances' && path.dirname(d.file) === dir);

  const batches: { file: string; frames: Frame[]; coco: boolean }[] = [];
  const indexFiles = new Set<string>();
  const unresolved: UnresolvedCocoResults[] = [];
  for (const { file, parsed } of documents) {
    if (parsed.format !== 'coco-results') continue;
    const beside = instancesIn(path.dirname(file));
    for (const instances of beside) indexFiles.add(instances.file);
    const index =
      options.cocoIndex ?? (beside.length === 1 && beside[0]?.parsed.format === 'coco-instances' ? beside[0].parsed.index : undefined);
    if (!index) {
      const why = beside.length
        ? `several COCO instances files beside it (${beside.map((d) => path.basename(d.file)).join(', ')}); pass the ground truth's index`
        : 'no COCO instances file beside it and no ground-truth index given';
      problems.push({ file, message: `COCO results not resolved (${parsed.results.length} entries): ${why}` });
      unresolved.push({ file, results: parsed.results });
      continue;
    }
    const resolved = resolveCocoResults(parsed.results, index);
    for (const message of resolved.problems) problems.push({ file, message });
    batches.push({ file, frames: resolved.frames, coco: true });
  }
  for (const document of documents) {
    if (document.parsed.format === 'coco-results' || indexFiles.has(document.file)) continue;
    const { parsed } = document as FramesDocument;
    batches.push({ file: document.file, frames: parsed.frames, coco: parsed.format === 'coco-instances' });
  }
  // Results were resolved first but belong in file order, like everything else.
  batches.sort((a, b) => byString(a.file, b.file));

  const frames = uniqueFrames(batches, problems);
  if (!batches.every((batch) => batch.coco)) frames.sort((a, b) => byString(a.name, b.name));

  const instances = documents.filter((d) => d.parsed.format === 'coco-instances');
  const result: LoadResult = { frames, problems, files: files.length, formats, indexFiles: [...indexFiles] };
  if (instances.length === 1 && instances[0]?.parsed.format === 'coco-instances') result.cocoIndex = instances[0].parsed.index;
  if (unresolved.length) result.unresolvedCocoResults = unresolved;
  return result;
}

/** The first frame of each name, in batch order; later ones are reported where they were found. */
function uniqueFrames(batches: readonly { file: string; frames: Frame[] }[], problems: LoadProblem[]): Frame[] {
  const firstFile = new Map<string, string>();
  const frames: Frame[] = [];
  for (const { file, frames: batch } of batches) {
    for (const frame of batch) {
      const first = firstFile.get(frame.name);
      if (first === undefined) {
        firstFile.set(frame.name, file);
        frames.push(frame);
      } else {
        const where = first === file ? 'earlier in this file' : `in ${first}`;
        problems.push({ file, message: `duplicate frame name "${frame.name}" (first ${where}): kept the first` });
      }
    }
  }
  return frames;
}
