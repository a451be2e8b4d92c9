import { promises as fs } from 'node:fs';
import path from 'node:path';

/** Extensions of files treated as images to label; every one is still checked by content before use. */
const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.gif', '.webp', '.bmp', '.tif', '.tiff', '.heic', '.avif']);

export interface ImageListing {
  /** Image files in name order (unique by file name). */
  images: { name: string; file: string }[];
  /** Files with another extension, not labeled (reported, not silent). */
  otherFiles: string[];
  /** Later files whose file name repeats an earlier one (labels are keyed by file name). */
  duplicates: { name: string; file: string; firstFile: string }[];
}

/** Every image file under `dir` (recursive, hidden entries skipped), keyed by file name as BDD frames are. */
export async function listImages(dir: string): Promise<ImageListing> {
  const files: string[] = [];
  const walk = async (current: string) => {
    const entries = await fs.readdir(current, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) files.push(full);
    }
  };
  await walk(dir);
  files.sort();

  const listing: ImageListing = { images: [], otherFiles: [], duplicates: [] };
  const seen = new Map<string, string>();
  for (const file of files) {
    const name = path.basename(file);
    if (!IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase())) {
      listing.otherFiles.push(file);
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

/** `a.jpg` -> `a`: outputs are `<stem>.json` / `<stem>.jpg`. */
export const stemOf = (name: string) => name.slice(0, name.length - path.extname(name).length) || name;
