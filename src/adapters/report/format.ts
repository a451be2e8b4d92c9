/** Formatting helpers shared by the HTML report and its SVG charts. Pure functions, no DOM. */

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escape text for HTML/SVG element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** True where a report metric is defined (the report uses -1 for "undefined"). */
export function isDefined(value: number): boolean {
  return Number.isFinite(value) && value >= 0;
}

/** A fraction as a percentage with one decimal ("42.0%"); -1 (undefined) becomes "n/a". */
export function formatPercent(value: number): string {
  return isDefined(value) ? `${(value * 100).toFixed(1)}%` : 'n/a';
}

/** An IoU or score with two decimals. */
export function formatFraction(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

/** An integer count with thousands separators. */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** A number for SVG coordinates: short, locale independent. */
export function num(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/** The 12 COCOeval.summarize() lines, spelled out the way pycocotools prints them. */
export const COCO_STAT_TITLES = {
  AP: 'AP @[IoU=0.50:0.95, area=all, maxDets=100]',
  AP50: 'AP @[IoU=0.50, area=all, maxDets=100]',
  AP75: 'AP @[IoU=0.75, area=all, maxDets=100]',
  APs: 'AP @[IoU=0.50:0.95, area=small, maxDets=100]',
  APm: 'AP @[IoU=0.50:0.95, area=medium, maxDets=100]',
  APl: 'AP @[IoU=0.50:0.95, area=large, maxDets=100]',
  AR1: 'AR @[IoU=0.50:0.95, area=all, maxDets=1]',
  AR10: 'AR @[IoU=0.50:0.95, area=all, maxDets=10]',
  AR100: 'AR @[IoU=0.50:0.95, area=all, maxDets=100]',
  ARs: 'AR @[IoU=0.50:0.95, area=small, maxDets=100]',
  ARm: 'AR @[IoU=0.50:0.95, area=medium, maxDets=100]',
  ARl: 'AR @[IoU=0.50:0.95, area=large, maxDets=100]',
} as const;

/** Short visible captions for the same stats (the tooltip carries the full name). */
export const COCO_STAT_CAPTIONS: Readonly<Record<keyof typeof COCO_STAT_TITLES, string>> = {
  AP: 'IoU .50:.95',
  AP50: 'IoU .50',
  AP75: 'IoU .75',
  APs: 'small objects',
  APm: 'medium objects',
  APl: 'large objects',
  AR1: 'maxDets 1',
  AR10: 'maxDets 10',
  AR100: 'maxDets 100',
  ARs: 'small objects',
  ARm: 'medium objects',
  ARl: 'large objects',
};

/** Rough width in px of a string in the report's sans-serif font, for laying out SVG labels. */
export function textWidth(text: string, fontSize: number): number {
  let units = 0;
  for (const c of text) {
    if (/[il.,:;'|!]/.test(c)) units += 0.3;
    else if (/[mwMW]/.test(c)) units += 0.85;
    else if (/[A-Z]/.test(c)) units += 0.68;
    else if (c === ' ') units += 0.3;
    else units += 0.56;
  }
  return units * fontSize;
}
