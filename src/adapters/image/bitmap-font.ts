/**
 * jimp's bitmap fonts (the BMFont XML files and PNG pages behind `jimp/fonts`), read without loading jimp: jimp's
 * entry loads every plugin and image codec it has (measured: 12 MB of heap and 250 ms of CPU on a process that
 * draws overlays), and a larger heap makes every garbage collection of the CLI's main thread longer. The same
 * glyphs, kerning and pages as jimp's loadFont, so text drawn with them is jimp's (tested against jimp's print).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

/** A glyph's place in its page and how it sits on the line (BMFont `char`). */
export interface Glyph {
  x: number;
  y: number;
  width: number;
  height: number;
  xoffset: number;
  yoffset: number;
  xadvance: number;
  page: number;
}

export interface BitmapFont {
  /** By character (jimp keys them by String.fromCharCode(id)). */
  chars: Record<string, Glyph>;
  /** kernings[first][second]: the advance correction between two characters. */
  kernings: Record<string, Record<string, number>>;
  common: { lineHeight: number };
  /** RGBA pages. */
  pages: ReadonlyArray<{ bitmap: { width: number; height: number; data: Uint8Array } }>;
}

const GLYPH_FIELDS = ['x', 'y', 'width', 'height', 'xoffset', 'yoffset', 'xadvance', 'page'] as const;

/** `name="value"` pairs of every `<tag .../>` element of an XML text. */
function elements(xml: string, tag: string): Record<string, string>[] {
  return [...xml.matchAll(new RegExp(`<${tag}\\s([^>]*?)/?>`, 'g'))].map(
    (m) => Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!])) as Record<string, string>,
  );
}

function integer(file: string, what: string, value: string | undefined): number {
  const n = Number.parseInt(value ?? '', 10);
  if (!Number.isFinite(n)) throw new Error(`${file}: ${what} is not a number (${value})`);
  return n;
}

/** Reads a BMFont XML file (as the fonts of `jimp/fonts`) and decodes its pages to RGBA. */
export async function loadBitmapFont(file: string): Promise<BitmapFont> {
  const xml = await fs.readFile(file, 'utf8');
  const common = elements(xml, 'common')[0];
  if (!common) throw new Error(`${file}: not a BMFont XML file (no <common>)`);
  const chars: Record<string, Glyph> = {};
  for (const char of elements(xml, 'char')) {
    const glyph = Object.fromEntries(GLYPH_FIELDS.map((field) => [field, integer(file, `char ${char['id']} ${field}`, char[field])]));
    chars[String.fromCharCode(integer(file, 'char id', char['id']))] = glyph as unknown as Glyph;
  }
  const kernings: Record<string, Record<string, number>> = {};
  for (const kerning of elements(xml, 'kerning')) {
    const first = String.fromCharCode(integer(file, 'kerning first', kerning['first']));
    (kernings[first] ??= {})[String.fromCharCode(integer(file, 'kerning second', kerning['second']))] = integer(
      file,
      'kerning amount',
      kerning['amount'],
    );
  }
  const pageFiles: string[] = [];
  for (const page of elements(xml, 'page')) pageFiles[integer(file, 'page id', page['id'])] = page['file'] ?? '';
  const pages = await Promise.all(
    pageFiles.map(async (name) => {
      const { data, info } = await sharp(path.join(path.dirname(file), name))
        .ensureAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      return { bitmap: { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) } };
    }),
  );
  if (Object.keys(chars).length === 0 || pages.length === 0) throw new Error(`${file}: no glyphs or no pages`);
  return { chars, kernings, common: { lineHeight: integer(file, 'lineHeight', common['lineHeight']) }, pages };
}

/** Width of `text` in pixels, as jimp's measureText: advances and kerning of the glyphs the font has. */
export function measureText(font: BitmapFont, text: string): number {
  let x = 0;
  for (let i = 0; i < text.length; i++) {
    const glyph = font.chars[text[i]!];
    if (!glyph) continue;
    const next = text[i + 1];
    x += (glyph.xadvance || 0) + ((next !== undefined && font.kernings[text[i]!]?.[next]) || 0);
  }
  return x;
}
