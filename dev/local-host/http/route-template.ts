/**
 * Route templates the way the Functions host reads them (ASP.NET Core route template syntax):
 *   literal segments (matched case-insensitively), `{param}`, `{param?}`, `{param=default}`, constraints
 *   `{id:int}` / `{id:int:min(1)}` / `{x:regex(^a+$)}`, catch-all `{*rest}` / `{**rest}` in the last segment, and
 *   complex segments such as `{name}.{ext}` or `{name}.{ext?}`.
 * `{{` and `}}` stand for literal braces. A malformed template throws when the host starts, not on the first request.
 * Parameter values are percent-decoded; a catch-all value keeps its slashes.
 */
import { buildConstraint, type ConstraintCheck } from './route-constraints';

interface RouteParameter {
  name: string;
  optional: boolean;
  catchAll: boolean;
  defaultValue: string | undefined;
  constraintText: string[];
  constraints: ConstraintCheck[];
}

type SegmentPart = { kind: 'literal'; text: string } | { kind: 'param'; param: RouteParameter };

export interface CompiledRoute {
  /** The template as given, after trimming slashes (for logs and errors). */
  template: string;
  /** Route precedence digits as ASP.NET orders candidates: compare element-wise, smaller first. */
  precedence: number[];
  /** Same key for templates that match exactly the same paths (names aside): used to refuse ambiguous routes. */
  shapeKey: string;
  /** Params of a matching path (relative to the route prefix, no leading slash), or null. */
  match(path: string): Record<string, string> | null;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Splits on '/' outside braces, since a regex constraint may itself contain a slash. */
function splitSegments(template: string): string[] {
  const segments: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of template) {
    if (ch === '{') depth++;
    if (ch === '}') depth = Math.max(0, depth - 1);
    if (ch === '/' && depth === 0) {
      segments.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  segments.push(current);
  return segments;
}

/** Index of the `)` closing a constraint argument: one followed by the end, `:`, `=`, or a final `?`. */
function constraintArgumentEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] !== ')') continue;
    const next = text[i + 1];
    if (next === undefined || next === ':' || next === '=' || (next === '?' && (i + 2 === text.length || text[i + 2] === '='))) {
      return i;
    }
  }
  throw new Error(`unclosed constraint argument in "{${text}}"`);
}

function parseParameter(text: string): RouteParameter {
  let rest = text;
  const catchAll = rest.startsWith('*');
  rest = rest.replace(/^\*{1,2}/, '');
  const nameEnd = rest.search(/[:?=]/);
  const name = nameEnd === -1 ? rest : rest.slice(0, nameEnd);
  if (!/^[^{}/*?:=]+$/.test(name)) throw new Error(`bad parameter name in "{${text}}"`);
  rest = nameEnd === -1 ? '' : rest.slice(nameEnd);

  const constraintText: string[] = [];
  const constraints: ConstraintCheck[] = [];
  while (rest.startsWith(':')) {
    const nameMatch = /^:([A-Za-z]+)/.exec(rest);
    if (!nameMatch) throw new Error(`bad constraint in "{${text}}"`);
    const constraintName = nameMatch[1] as string;
    rest = rest.slice(nameMatch[0].length);
    let argument: string | undefined;
    if (rest.startsWith('(')) {
      const end = constraintArgumentEnd(rest, 1);
      argument = rest.slice(1, end);
      rest = rest.slice(end + 1);
    }
    constraintText.push(`${constraintName.toLowerCase()}(${argument ?? ''})`);
    constraints.push(buildConstraint(constraintName, argument));
  }

  let optional = false;
  let defaultValue: string | undefined;
  if (rest.startsWith('?')) {
    optional = true;
    rest = rest.slice(1);
  }
  if (rest.startsWith('=')) {
    if (optional) throw new Error(`"{${text}}": a parameter cannot be both optional and have a default`);
    defaultValue = rest.slice(1);
    rest = '';
  }
  if (rest !== '') throw new Error(`unexpected "${rest}" in "{${text}}"`);
  if (catchAll && optional) throw new Error(`"{${text}}": a catch-all parameter is already optional`);
  return { name, optional, catchAll, defaultValue, constraintText, constraints };
}

function parseSegment(segment: string): SegmentPart[] {
  const parts: SegmentPart[] = [];
  let literal = '';
  const flushLiteral = () => {
    if (literal !== '') parts.push({ kind: 'literal', text: literal });
    literal = '';
  };
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i] as string;
    if ((ch === '{' || ch === '}') && segment[i + 1] === ch) {
      literal += ch;
      i++;
    } else if (ch === '}') {
      throw new Error(`unmatched "}" in segment "${segment}"`);
    } else if (ch === '{') {
      flushLiteral();
      let inner = '';
      let closed = false;
      for (i++; i < segment.length; i++) {
        const c = segment[i] as string;
        if ((c === '{' || c === '}') && segment[i + 1] === c) {
          inner += c;
          i++;
        } else if (c === '}') {
          closed = true;
          break;
        } else if (c === '{') {
          throw new Error(`"{" inside a parameter in segment "${segment}"`);
        } else {
          inner += c;
        }
      }
      if (!closed) throw new Error(`unclosed "{" in segment "${segment}"`);
      const last = parts[parts.length - 1];
      if (last?.kind === 'param') throw new Error(`two parameters need a literal between them in "${segment}"`);
      parts.push({ kind: 'param', param: parseParameter(inner) });
    } else {
      literal += ch;
    }
  }
  flushLiteral();
  return parts;
}

/** Regex source for one segment, including its leading slash (none for the first segment). */
function segmentSource(parts: SegmentPart[], first: boolean): string {
  const slash = first ? '' : '/';
  const only = parts.length === 1 ? parts[0] : undefined;
  if (only?.kind === 'param') {
    const p = only.param;
    if (p.catchAll) return first ? '(.*)' : '(?:/(.*))?';
    if (p.optional || p.defaultValue !== undefined) return `(?:${slash}([^/]+))?`;
    return `${slash}([^/]+)`;
  }
  let source = slash;
  // With an optional last part (`{name}.{ext?}`), the extension is what follows the LAST period, as ASP.NET reads
  // it from the right: earlier parameters match lazily and the extension takes no period.
  const last = parts[parts.length - 1];
  const endsOptional = last?.kind === 'param' && (last.param.optional || last.param.defaultValue !== undefined);
  parts.forEach((part, index) => {
    if (part.kind === 'literal') {
      source += escapeRegExp(part.text);
      return;
    }
    const p = part.param;
    if (p.catchAll) throw new Error('a catch-all parameter must be a whole segment');
    if (p.optional || p.defaultValue !== undefined) {
      // ASP.NET allows this only as `.{x?}` at the end of a complex segment: the period goes when x is absent.
      const before = parts[index - 1];
      if (index !== parts.length - 1 || before?.kind !== 'literal' || !before.text.endsWith('.')) {
        throw new Error('an optional parameter inside a segment must be last and follow a period');
      }
      source = source.slice(0, -escapeRegExp('.').length) + '(?:\\.([^/.]+))?';
      return;
    }
    // Greedy otherwise: `{name}.{ext}` on "a.b.jpg" gives name "a.b", like ASP.NET's right-to-left matching.
    source += endsOptional ? '([^/]+?)' : '([^/]+)';
  });
  return source;
}

function precedenceDigit(parts: SegmentPart[]): number {
  if (parts.length === 0) return 1; // the empty route: the prefix itself
  const only = parts.length === 1 ? parts[0] : undefined;
  if (!only) return 2;
  if (only.kind === 'literal') return 1;
  if (only.param.catchAll) return 5;
  return only.param.constraints.length > 0 ? 3 : 4;
}

function shapeOf(parts: SegmentPart[]): string {
  return parts
    .map((part) => {
      if (part.kind === 'literal') return part.text.toLowerCase();
      const p = part.param;
      const marker = p.catchAll ? '*' : p.optional || p.defaultValue !== undefined ? '?' : '';
      return `{${marker}${[...p.constraintText].sort().join(':')}}`;
    })
    .join('');
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    // Kestrel leaves an invalid escape as it is rather than refusing the request.
    return value;
  }
}

/** Parses and compiles a route template (prefix excluded, surrounding slashes ignored). Throws if malformed. */
export function compileRouteTemplate(rawTemplate: string): CompiledRoute {
  const template = rawTemplate.replace(/^~?\/+/, '').replace(/\/+$/, '');
  const segments = splitSegments(template).map(parseSegment);
  const params: RouteParameter[] = [];
  let source = '';
  let optionalSeen = false;
  segments.forEach((parts, index) => {
    if (parts.length === 0 && segments.length > 1) throw new Error(`empty segment in route "${template}"`);
    const isLast = index === segments.length - 1;
    for (const part of parts) {
      if (part.kind !== 'param') continue;
      const p = part.param;
      if (params.some((q) => q.name.toLowerCase() === p.name.toLowerCase())) {
        throw new Error(`parameter "${p.name}" appears twice in route "${template}"`);
      }
      if (p.catchAll && !isLast) throw new Error(`catch-all "{*${p.name}}" must be the last segment of "${template}"`);
      params.push(p);
    }
    const only = parts.length === 1 ? parts[0] : undefined;
    const segmentIsOptional =
      only?.kind === 'param' && (only.param.optional || only.param.catchAll || only.param.defaultValue !== undefined);
    if (optionalSeen && !segmentIsOptional) {
      throw new Error(`a required segment follows an optional one in route "${template}"`);
    }
    optionalSeen ||= segmentIsOptional;
    source += segmentSource(parts, index === 0);
  });
  const pattern = new RegExp(`^${source}/?$`, 'i');

  return {
    template,
    precedence: segments.map(precedenceDigit),
    shapeKey: segments.map(shapeOf).join('/'),
    match(path: string) {
      const found = pattern.exec(path);
      if (!found) return null;
      const values: Record<string, string> = {};
      for (const [index, p] of params.entries()) {
        const raw = found[index + 1];
        if (raw === undefined || raw === '') {
          if (p.defaultValue !== undefined) values[p.name] = p.defaultValue;
          continue;
        }
        const value = decode(raw);
        if (!p.constraints.every((check) => check(value))) return null;
        values[p.name] = value;
      }
      return values;
    },
  };
}
