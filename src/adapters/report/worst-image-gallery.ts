/**
 * The worst images as pictures: per image a thumbnail (a data: URI made by thumbnails.ts) with its boxes drawn
 * over it as SVG, coloured by outcome (true positive, false positive, missed ground truth), tagged with their
 * class where there is room (tag-layout.ts), linked to the full-size overlay where one exists. Pure markup.
 */
import { placeTags, shortClassName } from '../image/tag-layout';
import type { EvaluationReport } from '../../core/evaluation/report-schema';
import { classesAttribute } from './class-filter';
import { escapeHtml, formatCount, formatFraction, num, textWidth } from './format';

/** How many of the worst images the page shows. */
export const WORST_IMAGES_SHOWN = 20;

type ImageDiagnostics = EvaluationReport['diagnostics']['worstImages'][number];
type DiagnosticBox = ImageDiagnostics['missed'][number];

export interface WorstImageThumbnail {
  /** The image's name as in `diagnostics.worstImages`. */
  name: string;
  /** `data:image/jpeg;base64,...` */
  src: string;
  /** The thumbnail's size in pixels. */
  width: number;
  height: number;
  /** The full image's size: the boxes' coordinate space. */
  imageWidth: number;
  imageHeight: number;
}

export interface WorstImagesView {
  thumbnails?: readonly WorstImageThumbnail[];
  /** Relative link to an image's full-size overlay, or undefined where it has none. */
  overlayHref?: (name: string) => string | undefined;
}

type Outcome = 'tp' | 'fp' | 'missed';

/** Outcome colours: stroke and tag fill, tag text chosen for contrast. */
const OUTCOMES: Readonly<Record<Outcome, { colour: string; text: string; title: string; legend: string }>> = {
  tp: { colour: '#16a34a', text: '#ffffff', title: 'true positive', legend: 'true positive: prediction matched to ground truth' },
  fp: { colour: '#dc2626', text: '#ffffff', title: 'false positive', legend: 'false positive: prediction without a match' },
  missed: { colour: '#f59e0b', text: '#111827', title: 'missed ground truth', legend: 'missed ground truth (false negative)' },
};

/** Tag font size and height in thumbnail pixels (the SVG is drawn at the thumbnail's own size). */
const TAG_FONT = 9.5;
const TAG_HEIGHT = 12;
const TAG_PAD = 3;

/** The classes of an image's errors: what the class filter matches the image on. */
export function errorCategories(image: ImageDiagnostics): string[] {
  return [...image.missed, ...image.falsePositives].map((b) => b.category);
}

/** The legend of the pictures' box styles; the TP entry only where true positives were recorded. */
export function outcomeLegend(withTruePositives: boolean): string {
  const item = (o: Outcome) => `<li><span class="swatch ${o}" aria-hidden="true"></span>${escapeHtml(OUTCOMES[o].legend)}</li>`;
  const items = (withTruePositives ? (['tp', 'fp', 'missed'] as const) : (['fp', 'missed'] as const)).map(item);
  return `<ul class="legend" aria-label="Box colours">${items.join('')}</ul>`;
}

/** The gallery of the worst images with a thumbnail; '' when there is none. */
export function worstImageGallery(worst: readonly ImageDiagnostics[], view: WorstImagesView): string {
  const byName = new Map((view.thumbnails ?? []).map((t) => [t.name, t] as const));
  const cards = worst.flatMap((image) => {
    const thumbnail = byName.get(image.name);
    return thumbnail ? [card(image, thumbnail, view.overlayHref?.(image.name))] : [];
  });
  if (cards.length === 0) return '';
  const withTp = worst.some((w) => w.truePositives !== undefined);
  return [outcomeLegend(withTp), `<div class="gallery" id="worst-gallery">${cards.join('')}</div>`].join('\n');
}

function card(image: ImageDiagnostics, thumbnail: WorstImageThumbnail, href: string | undefined): string {
  const picture =
    `<img src="${escapeHtml(thumbnail.src)}" width="${thumbnail.width}" height="${thumbnail.height}" alt="" decoding="async">` +
    boxesSvg(image, thumbnail);
  const counts =
    `<span class="counts">` +
    (image.truePositives !== undefined ? `<span class="c-tp">${formatCount(image.tp)} TP</span> ` : '') +
    `<span class="c-fp">${formatCount(image.fp)} FP</span> <span class="c-fn">${formatCount(image.fn)} missed</span> ` +
    `<span class="muted">of ${formatCount(image.gt)} GT</span></span>`;
  return (
    `<figure class="shot"${classesAttribute(errorCategories(image))} data-image="${escapeHtml(image.name)}">` +
    (href
      ? `<a class="shot-picture" href="${escapeHtml(href)}" title="Open the full-size overlay">${picture}</a>`
      : `<div class="shot-picture">${picture}</div>`) +
    `<figcaption><span class="path">${escapeHtml(image.name)}</span>${counts}` +
    (href ? `<a class="overlay-link" href="${escapeHtml(href)}">full-size overlay</a>` : '') +
    `</figcaption></figure>`
  );
}

interface Drawn {
  outcome: Outcome;
  box: DiagnosticBox;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** The boxes over one thumbnail, in its pixels: GT misses under predictions, tags over every box. */
function boxesSvg(image: ImageDiagnostics, t: WorstImageThumbnail): string {
  const sx = t.width / t.imageWidth;
  const sy = t.height / t.imageHeight;
  const scaled = (outcome: Outcome) => (box: DiagnosticBox) => ({
    outcome,
    box,
    x1: box.box2d.x1 * sx,
    y1: box.box2d.y1 * sy,
    x2: box.box2d.x2 * sx,
    y2: box.box2d.y2 * sy,
  });
  const drawn: Drawn[] = [
    ...image.missed.map(scaled('missed')),
    ...(image.truePositives ?? []).map(scaled('tp')),
    ...image.falsePositives.map(scaled('fp')),
  ].filter((d) => [d.x1, d.y1, d.x2, d.y2].every(Number.isFinite) && d.x2 > 0 && d.y2 > 0 && d.x1 < t.width && d.y1 < t.height);

  // Errors are what the picture is for: only they get tags (misses first, then false positives, larger boxes first);
  // true positives are drawn untagged, their class in the tooltip, so that the tags of a busy scene stay readable.
  const priority = { missed: 0, fp: 1, tp: 2 } as const;
  const area = (d: Drawn) => (d.x2 - d.x1) * (d.y2 - d.y1);
  const order = [...drawn].sort((a, b) => priority[a.outcome] - priority[b.outcome] || area(b) - area(a));
  const tags = placeTags(
    order.map((d) => ({
      box: d,
      variants: d.outcome === 'tp' ? [] : tagTexts(d).map((text) => ({ text, width: textWidth(text, TAG_FONT) + 2 * TAG_PAD })),
    })),
    { width: t.width, height: t.height, tagHeight: TAG_HEIGHT, minBoxSide: 6 },
  );

  const boxes = drawn.map((d) => {
    const w = Math.max(1, d.x2 - d.x1);
    const h = Math.max(1, d.y2 - d.y1);
    const rect = `x="${num(d.x1)}" y="${num(d.y1)}" width="${num(w)}" height="${num(h)}"`;
    return (
      `<g class="box ${d.outcome}" data-category="${escapeHtml(d.box.category)}"><title>${escapeHtml(boxTitle(d))}</title>` +
      `<rect ${rect} class="halo"/><rect ${rect} stroke="${OUTCOMES[d.outcome].colour}"${d.outcome === 'missed' ? ' stroke-dasharray="4 2.5"' : ''}/></g>`
    );
  });
  const labels = tags.flatMap((tag) => {
    if (!tag) return [];
    const { outcome } = order[tag.index]!;
    const { x, y, width } = tag.rect;
    return [
      `<g class="tag ${outcome}"><rect x="${num(x)}" y="${num(y)}" width="${num(width)}" height="${TAG_HEIGHT}" fill="${OUTCOMES[outcome].colour}"/>` +
        `<text x="${num(x + TAG_PAD)}" y="${num(y + TAG_HEIGHT - 3)}" fill="${OUTCOMES[outcome].text}">${escapeHtml(tag.text)}</text></g>`,
    ];
  });
  const label = `${image.truePositives ? `${image.truePositives.length} true positives, ` : ''}${image.falsePositives.length} false positives, ${image.missed.length} missed`;
  return (
    `<svg class="shot-boxes" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${t.width} ${t.height}" role="img" aria-label="${escapeHtml(label)}"` +
    ` font-size="${TAG_FONT}">${boxes.join('')}${labels.join('')}</svg>`
  );
}

/** Class names as the tag, the short one for small boxes; a false positive's full tag carries its score. */
function tagTexts({ outcome, box }: Drawn): string[] {
  const texts = [box.category, shortClassName(box.category)];
  if (outcome === 'fp' && box.score !== undefined) texts.unshift(`${box.category} ${formatFraction(box.score)}`);
  return [...new Set(texts)];
}

function boxTitle({ outcome, box }: Drawn): string {
  const parts = [`${OUTCOMES[outcome].title}: ${box.category}`];
  if (box.score !== undefined) parts.push(`score ${formatFraction(box.score)}`);
  if (outcome === 'tp') parts.push(`IoU ${formatFraction(box.bestIou)}`);
  else parts.push(box.bestIou > 0 ? `best IoU ${formatFraction(box.bestIou)}` : 'no overlap');
  return parts.join(', ');
}
