import { promises as fs, type Dirent } from 'node:fs';
import path from 'node:path';

/** Extensions of files treated as images to label; every one is still checked by content before use. */
const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.gif', '.webp', '.bmp', '.tif', '.tiff', '.heic', '.avif']);

/** A link to a folder that was not walked: following it would list a folder again, or forever. */
export interface SkippedFolderLink {
  link: string;
  /** The real path of the folder it leads to. */
  target: string;
  /** True: the link leads back to a folder it is inside (a cycle); false: to a folder listed elsewhere. */
  ancestor: boolean;
}

export interface ImageListing {
  /** Image files in name order (unique by file name). */
  images: { name: string; file: string }[];
  /** Files with another extension, not labeled (reported, not silent). */
  otherFiles: string[];
  /** Later files whose file name repeats an earlier one (labels are keyed by file name). */
  duplicates: { name: string; file: string; firstFile: string }[];
  /** Every file found, images or not, directly or through a symbolic link (hidden ones not counted). */
  filesSeen: number;
  /** Extensions of `otherFiles` with how many of each ('' for no extension). */
  otherExtensions: Record<string, number>;
  /** Entries whose name starts with a dot: skipped, as `ls` does. */
  hiddenSkipped: number;
  /** Symbolic links that point nowhere (their target is missing, or they loop among themselves). */
  brokenLinks: string[];
  /** Folder links not followed, so that a link cycle ends and no folder is listed twice. */
  skippedFolderLinks: SkippedFolderLink[];
  /** Entries that could not be read or are neither file nor folder (sockets, devices), with why. */
  unreadable: { path: string; reason: string }[];
  /** Folders the caller asked to leave out that lie inside the walked one (e.g. a command's own output), with why. */
  skippedFolders: SkippedFolder[];
}

/** A folder to leave out of a listing, and why (said to the user when the walk meets it). */
export interface SkippedFolder {
  path: string;
  reason: string;
}

/** What one directory entry turned out to be once symbolic links are followed. */
type EntryKind = { kind: 'file' } | { kind: 'folder'; realPath: string } | { kind: 'broken-link' } | { kind: 'unreadable'; reason: string };

const LINK_POINTS_NOWHERE = new Set(['ENOENT', 'ENOTDIR', 'ELOOP']);

async function classifyEntry(entry: Dirent, full: string): Promise<EntryKind> {
  if (entry.isFile()) return { kind: 'file' };
  if (!entry.isDirectory() && !entry.isSymbolicLink()) return { kind: 'unreadable', reason: 'neither a file nor a folder' };
  try {
    // stat follows the link (if any): what matters is what the entry leads to.
    const target = await fs.stat(full);
    if (target.isFile()) return { kind: 'file' };
    if (target.isDirectory()) return { kind: 'folder', realPath: await fs.realpath(full) };
    return { kind: 'unreadable', reason: 'a link to something that is neither a file nor a folder' };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (entry.isSymbolicLink() && LINK_POINTS_NOWHERE.has(code)) return { kind: 'broken-link' };
    return { kind: 'unreadable', reason: code || (error as Error).message };
  }
}

const byName = (a: Dirent, b: Dirent) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Walks `root` following symbolic links (each folder once), collecting every file and what was skipped and why.
 * `skip`: real paths of folders not to enter, with the reason to report.
 */
export async function walkFiles(root: string, skip: ReadonlyMap<string, string> = new Map()) {
  const found = {
    files: [] as string[],
    hiddenSkipped: 0,
    brokenLinks: [] as string[],
    skippedFolderLinks: [] as SkippedFolderLink[],
    unreadable: [] as { path: string; reason: string }[],
    skippedFolders: [] as SkippedFolder[],
  };
  // Real paths of every folder walked so far (`walked`) and of the folders above the current one (`ancestors`).
  const walked = new Set<string>();
  const ancestors = new Set<string>();

  const walk = async (folder: string, realPath: string, entries: Dirent[]) => {
    walked.add(realPath);
    ancestors.add(realPath);
    // Sorted so that which of two paths to the same folder gets walked does not depend on the file system's order.
    for (const entry of entries.sort(byName)) {
      const full = path.join(folder, entry.name);
      if (entry.name.startsWith('.')) {
        found.hiddenSkipped++;
        continue;
      }
      const what = await classifyEntry(entry, full);
      if (what.kind === 'file') found.files.push(full);
      else if (what.kind === 'broken-link') found.brokenLinks.push(full);
      else if (what.kind === 'unreadable') found.unreadable.push({ path: full, reason: what.reason });
      else if (skip.has(what.realPath)) found.skippedFolders.push({ path: full, reason: skip.get(what.realPath)! });
      else if (walked.has(what.realPath)) {
        found.skippedFolderLinks.push({ link: full, target: what.realPath, ancestor: ancestors.has(what.realPath) });
      } else {
        const inner = await fs.readdir(full, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
          found.unreadable.push({ path: full, reason: error.code ?? error.message });
          return undefined;
        });
        if (inner) await walk(full, what.realPath, inner);
      }
    }
    ancestors.delete(realPath);
  };

  // The root itself must be readable: the caller says why not (missing, not a folder, no permission).
  const rootEntries = await fs.readdir(root, { withFileTypes: true });
  await walk(root, await fs.realpath(root), rootEntries);
  return found;
}

/**
 * Every image file under `dir` (recursive, hidden entries skipped, symbolic links followed), keyed by file name as
 * BDD frames are, with an account of everything else found, so that "no images" can always say why.
 */
export async function listImages(dir: string, options: { skipFolders?: readonly SkippedFolder[] } = {}): Promise<ImageListing> {
  const skip = new Map<string, string>();
  for (const folder of options.skipFolders ?? []) {
    // A folder that does not exist yet holds nothing to leave out.
    const real = await fs.realpath(folder.path).catch(() => undefined);
    if (real) skip.set(real, folder.reason);
  }
  const walked = await walkFiles(dir, skip);
  const files = walked.files.sort();

  const listing: ImageListing = {
    images: [],
    otherFiles: [],
    duplicates: [],
    filesSeen: files.length,
    otherExtensions: {},
    hiddenSkipped: walked.hiddenSkipped,
    brokenLinks: walked.brokenLinks,
    skippedFolderLinks: walked.skippedFolderLinks,
    unreadable: walked.unreadable,
    skippedFolders: walked.skippedFolders,
  };
  const seen = new Map<string, string>();
  for (const file of files) {
    const name = path.basename(file);
    const extension = path.extname(name).toLowerCase();
    if (!IMAGE_EXTENSIONS.has(extension)) {
      listing.otherFiles.push(file);
      listing.otherExtensions[extension] = (listing.otherExtensions[extension] ?? 0) + 1;
      continue;
    }
    const firstFile = seen.get(name);
    if (firstFile) listing.duplicates.push({ name, file, firstFile });
    else {
      seen.set(name, file);
      listing.images.push({ name, file });
    }
  }
  listing.images.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return listing;
}

const plural = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;

/** A few examples of a long list: enough to find them, short enough for one line. */
const examples = (items: readonly string[], max = 3) => items.slice(0, max).join(', ') + (items.length > max ? ', ...' : '');

/** `.txt x2, .json x1`: most frequent first. */
function extensionCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort(([a, m], [b, n]) => n - m || (a < b ? -1 : 1))
    .map(([extension, count]) => `${extension || '(no extension)'} x${count}`)
    .join(', ');
}

/** The files skipped for their extension, e.g. `2 files not named as an image (.txt x2)`; undefined when none. */
export function describeOtherFiles(listing: ImageListing): string | undefined {
  const count = listing.otherFiles.length;
  if (count === 0) return undefined;
  return `${plural(count, 'file', 'files')} not named as an image (${extensionCounts(listing.otherExtensions)})`;
}

/** One line per thing the walk skipped that the user may not expect: broken links, folder links, unreadable entries. */
export function describeSkipped(listing: ImageListing): string[] {
  const lines: string[] = [];
  if (listing.brokenLinks.length) {
    const links = plural(listing.brokenLinks.length, 'symbolic link points', 'symbolic links point');
    lines.push(`${links} nowhere: ${examples(listing.brokenLinks)}`);
  }
  for (const { link, target, ancestor } of listing.skippedFolderLinks) {
    const why = ancestor ? 'it leads back to a folder it is inside (a link cycle)' : 'that folder was already listed through another path';
    lines.push(`not followed: ${link} -> ${target}: ${why}`);
  }
  for (const { path: file, reason } of listing.unreadable) lines.push(`not read: ${file}: ${reason}`);
  for (const { path: folder, reason } of listing.skippedFolders) lines.push(`not listed: ${folder}: ${reason}`);
  return lines;
}

/** What to tell a person whose images folder cannot be listed (listImages rejected with `error`). */
export function describeUnlistable(dir: string, error: NodeJS.ErrnoException): string {
  if (error.code === 'ENOENT') return `images folder not found: ${dir}`;
  if (error.code === 'ENOTDIR') return `${dir} is a file, not a folder: give the folder of images (${path.dirname(dir)} holds this one)`;
  return `cannot read the images folder ${dir}: ${error.code ?? error.message}`;
}

/** Why `dir` gave no image, e.g. `no images in d: 3 files, none an image (.txt x2, .json x1)`. */
export function describeNoImages(dir: string, listing: ImageListing): string {
  const found: string[] = [];
  if (listing.filesSeen > 0) {
    const none = listing.filesSeen === 1 ? '1 file, not an image' : `${listing.filesSeen} files, none an image`;
    found.push(`${none} (${extensionCounts(listing.otherExtensions)})`);
  }
  if (listing.brokenLinks.length) {
    const links = plural(listing.brokenLinks.length, 'symbolic link that points', 'symbolic links that point');
    found.push(`${links} nowhere (${examples(listing.brokenLinks)})`);
  }
  if (listing.skippedFolderLinks.length) {
    const links = listing.skippedFolderLinks.map((l) => l.link);
    found.push(`${plural(links.length, 'link', 'links')} to a folder already listed, not followed (${examples(links)})`);
  }
  if (listing.unreadable.length) {
    const entries = listing.unreadable.map((u) => `${u.path}: ${u.reason}`);
    found.push(`${plural(entries.length, 'entry', 'entries')} that could not be read (${examples(entries)})`);
  }
  if (listing.skippedFolders.length) {
    const folders = listing.skippedFolders.map((f) => `${f.path}: ${f.reason}`);
    found.push(`${plural(folders.length, 'folder', 'folders')} left out (${examples(folders)})`);
  }
  const hidden = plural(listing.hiddenSkipped, 'hidden entry', 'hidden entries');
  if (found.length === 0) found.push(listing.hiddenSkipped ? `the folder holds only ${hidden}, which are skipped` : 'the folder is empty');
  else if (listing.hiddenSkipped) found.push(`${hidden} skipped`);
  return `no images in ${dir}: ${found.join('; ')}`;
}

/** `a.jpg` -> `a`: outputs are `<stem>.json` / `<stem>.jpg`. */
export const stemOf = (name: string) => name.slice(0, name.length - path.extname(name).length) || name;
