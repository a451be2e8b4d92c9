/**
 * Accept header negotiation (RFC 9110 section 12.5.1): each offered type takes the q of the most specific media range
 * that matches it (type/subtype over type/* over * /*); the highest q above 0 wins, and among equal q values the
 * server's order of preference decides (the header's order carries no meaning). Media type parameters other than
 * q are ignored: none of our types has any.
 */

export interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The ranges of an Accept header; malformed entries are skipped (as user agents expect). */
export function parseAccept(header: string | null | undefined): MediaRange[] {
  if (!header) return [];
  const ranges: MediaRange[] = [];
  for (const part of header.split(',')) {
    const [range = '', ...params] = part.split(';').map((s) => s.trim());
    const [type, subtype, extra] = range.toLowerCase().split('/');
    if (!type || !subtype || extra !== undefined || !TOKEN.test(type) || !TOKEN.test(subtype)) continue;
    if (type === '*' && subtype !== '*') continue;
    let q = 1;
    let valid = true;
    for (const param of params) {
      const [name = '', value = ''] = param.split('=').map((s) => s.trim());
      if (name.toLowerCase() !== 'q') continue;
      // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
      if (!/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value)) valid = false;
      else q = Number(value);
      break; // parameters after q are accept-extensions
    }
    if (valid) ranges.push({ type, subtype, q });
  }
  return ranges;
}

function specificity(range: MediaRange, type: string, subtype: string): number {
  if (range.type === type && range.subtype === subtype) return 3;
  if (range.type === type && range.subtype === '*') return 2;
  if (range.type === '*' && range.subtype === '*') return 1;
  return 0;
}

/** The q the header gives `mediaType` (0 when no range matches; 1 when the header says nothing). */
export function qualityOf(ranges: readonly MediaRange[], mediaType: string): number {
  if (ranges.length === 0) return 1;
  const [type = '', subtype = ''] = mediaType.toLowerCase().split('/');
  let best = 0;
  let q = 0;
  for (const range of ranges) {
    const s = specificity(range, type, subtype);
    if (s > best) {
      best = s;
      q = range.q;
    }
  }
  return q;
}

/**
 * Which of `offers` (server preference first) to answer with, or undefined when the client accepts none of them
 * (406). A missing or empty header (or one of nothing but malformed entries) accepts anything: the first offer.
 */
export function negotiate<T extends string>(header: string | null | undefined, offers: readonly T[]): T | undefined {
  const ranges = parseAccept(header);
  let chosen: T | undefined;
  let chosenQ = 0;
  for (const offer of offers) {
    const q = qualityOf(ranges, offer);
    if (q > chosenQ) {
      chosen = offer;
      chosenQ = q;
    }
  }
  return chosen;
}
